// The page's liquidity memory: the heatmap behind the candles, the zones that ended, and the depth
// profile at the right edge. Owns their primitives, their requests, the heatmap's colour legend and
// the Heatmap / Depth switches (kept in localStorage); app.js hands it pushes, states and hovers.
//
// Requests: GET /api/heatmap for the visible range (heatmap-data.js planFetch: one request in
// flight at a time, only the part not held yet, 250 ms after the chart stops moving) and the
// `heatmap` pushes appended; GET /api/zones/history for the visible range, again 1 s after a zones
// delta ends a zone.

import { escapeHtml, formatNotional, formatPrice, formatUtc, formatAge, formatStrength } from "./format.js";
import { HeatmapData, gridScale, planFetch } from "./heatmap-data.js";
import { HeatmapPrimitive } from "./heatmap-primitive.js";
import { chooseResolution, formatQty, formatSpan, rampCss } from "./heatmap-scale.js";
import { DepthProfilePrimitive } from "./depth-profile.js";
import { ENDED_STATUSES, MARK_KEY, ZoneHistoryPrimitive, endsZones, liveLayerZones } from "./zone-history.js";

const VIEW_DEBOUNCE_MS = 250;
const HISTORY_DEBOUNCE_MS = 1000;
const RETRY_MS = 5000;
const STORAGE_KEY = "liquidityMap.layers";
const RESCALE_TOLERANCE = 0.03;
const COLORS = { bid: "#29b6f6", ask: "#ffa726", heat: "#f0a860", grey: "#8b949e" };

function loadSwitches() {
  try {
    return { heatmap: true, depth: true, ...JSON.parse(localStorage.getItem(STORAGE_KEY) || "{}") };
  } catch (err) {
    return { heatmap: true, depth: true };
  }
}

function saveSwitches(switches) {
  try {
    localStorage.setItem(STORAGE_KEY, JSON.stringify(switches));
  } catch (err) {
    // storage refused (private window): the switch still works for this page
  }
}

export class LiquidityMemory {
  /**
   * @param {object} o
   * @param {object} o.chart  the Lightweight Charts chart
   * @param {object} o.series  the candle series the primitives attach to
   * @param {object} o.mapper  the page's TimeMapper (bar times)
   * @param {object} o.config  page config `memory`: {heatmapApi, historyApi, columnS, binSize, retentionH, historyH}
   * @param {object} o.layers  the page's layer switches (zones: the history follows it)
   * @param {string} o.quote  quote currency ("EUR")
   * @param {string} o.base  base asset ("BTC")
   * @param {function} o.onChange  called when the history changed what the live layer draws
   */
  constructor({ chart, series, mapper, config, layers, quote, base, onChange }) {
    this.chart = chart;
    this.series = series;
    this.mapper = mapper;
    this.config = config;
    this.layers = layers;
    this.quote = quote;
    this.base = base;
    this.onChange = onChange;
    this.switches = loadSwitches();
    this.data = new HeatmapData({ columnS: config.columnS, binSize: Number(config.binSize) });
    this.heat = new HeatmapPrimitive(this.data, mapper);
    this.history = new ZoneHistoryPrimitive(mapper);
    this.depth = new DepthProfilePrimitive();
    series.attachPrimitive(this.heat);
    series.attachPrimitive(this.history);
    series.attachPrimitive(this.depth);
    this.heat.setVisible(this.switches.heatmap);
    this.depth.setVisible(this.switches.depth);
    this.historyZones = [];
    this.historyIds = new Set();
    this.counts = { heatmapFetches: 0, tailFetches: 0, historyFetches: 0, fetchErrors: 0, pushedColumns: 0,
      depthPushes: 0, maxInFlight: 0 };
    this.inFlight = 0;
    this._pumping = false;
    this._pumpAgain = false;
    this._viewTimer = null;
    this._historyTimer = null;
    this._historyBusy = false;
    this._historyAgain = false;
    this._historyDirty = true;
    this._historyFrom = null;
    this._lastTailReset = 0;
    this._scaleView = null;
    this.legend = {
      key: document.getElementById("heat-key"),
      ramp: document.getElementById("heat-ramp"),
      scale: document.getElementById("heat-scale"),
      marks: document.getElementById("mark-key"),
    };
    if (this.legend.marks) this.legend.marks.textContent = MARK_KEY;
    this._drawRamp();
    this._bindSwitches();
    // no heatmap tooltip while the chart is dragged: panning stays a pure repaint
    this._dragging = false;
    chart.chartElement().addEventListener("pointerdown", () => {
      this._dragging = true;
    });
    for (const type of ["pointerup", "pointercancel"]) {
      window.addEventListener(type, () => {
        this._dragging = false;
      });
    }
    chart.timeScale().subscribeVisibleLogicalRangeChange(() => this.scheduleView());
    chart.timeScale().subscribeSizeChange(() => this.scheduleView());
    // the price axis rescales on its own (autoscale): the colour scale follows, checked now and then
    this._tick = setInterval(() => this._checkPriceRange(), 2000);
  }

  // --- switches and legend ---------------------------------------------------------------------

  _bindSwitches() {
    for (const input of document.querySelectorAll("input[data-memory]")) {
      const name = input.dataset.memory;
      input.checked = Boolean(this.switches[name]);
      input.addEventListener("change", () => {
        this.switches[name] = input.checked;
        saveSwitches(this.switches);
        if (name === "heatmap") {
          this.heat.setVisible(input.checked);
          this.rescale();
        }
        if (name === "depth") this.depth.setVisible(input.checked);
        this._updateLegend();
        this.onChange();
      });
    }
    this._updateLegend();
  }

  _drawRamp() {
    const canvas = this.legend.ramp;
    if (!canvas) return;
    const ctx = canvas.getContext("2d");
    ctx.fillStyle = "#0d1117";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    for (let x = 0; x < canvas.width; x += 1) {
      ctx.fillStyle = rampCss(x / (canvas.width - 1));
      ctx.fillRect(x, 0, 1, canvas.height);
    }
  }

  _updateLegend() {
    const { key, scale } = this.legend;
    if (!key) return;
    key.hidden = !this.switches.heatmap;
    const R = this.data.resolution;
    const top = this.heat.scale;
    if (top === null || R === null) {
      scale.textContent = this.data.columns().length ? "" : "no heatmap data in view";
      return;
    }
    scale.textContent = `0 – ${formatQty(top)} ${this.base} per ${formatNotional(this.data.binSize)} ${this.quote} · ${formatSpan(R)} cells`;
  }

  // --- heatmap requests ------------------------------------------------------------------------

  scheduleView() {
    clearTimeout(this._viewTimer);
    this._viewTimer = setTimeout(() => this.onView(), VIEW_DEBOUNCE_MS);
  }

  onView() {
    const view = this.heat.view();
    if (!view) return;
    const R = chooseResolution(view.secondsPerPx, this.config.columnS, this.mapper.intervalS);
    if (this.data.setResolution(R)) this.heat.refresh();
    this.pump();
    this.rescale(view);
    this.refreshHistory(view);
  }

  /** One request at a time; a view change meanwhile plans again once it is answered. */
  async pump() {
    if (this._pumping) {
      this._pumpAgain = true;
      return;
    }
    this._pumping = true;
    try {
      for (;;) {
        this._pumpAgain = false;
        const view = this.heat.view();
        if (!view || this.data.resolution === null) break;
        const plan = planFetch({
          viewFrom: view.from,
          viewTo: view.to,
          nowS: Date.now() / 1000,
          retentionS: this.config.retentionH * 3600,
          columnS: this.config.columnS,
          resolution: this.data.resolution,
          held: this.data,
        });
        if (plan === null) {
          if (this._pumpAgain) continue;
          break;
        }
        await this._fetchPlan(plan);
      }
    } catch (err) {
      this.counts.fetchErrors += 1;
      setTimeout(() => this.pump(), RETRY_MS);
    } finally {
      this._pumping = false;
    }
  }

  async _fetchPlan(plan) {
    const url = `${this.config.heatmapApi}?from=${Math.floor(plan.from)}&to=${Math.floor(plan.to)}&resolution=${plan.resolution}`;
    this.inFlight += 1;
    this.counts.maxInFlight = Math.max(this.counts.maxInFlight, this.inFlight);
    let answer;
    try {
      const response = await fetch(url);
      if (!response.ok) throw new Error(`heatmap: HTTP ${response.status}`);
      answer = await response.json();
    } finally {
      this.inFlight -= 1;
    }
    if (plan.kind === "tail") {
      this.counts.tailFetches += 1;
      if (answer.resolution_s === this.config.columnS) this.data.addSubs(answer.columns || [], plan.from);
    } else {
      this.counts.heatmapFetches += 1;
      if (plan.resolution !== this.data.resolution) return; // zoomed meanwhile: planned again
      this.data.addSlots(answer, plan.from, plan.to);
    }
    this.rescale();
  }

  /** The colour scale from the data in view; the picture is rebuilt when it moved or data came. */
  rescale(view = this.heat.view()) {
    if (!view || this.data.resolution === null || !this.heat.visible) return;
    this._scaleView = { low: view.low, high: view.high };
    const { scale } = gridScale(this.heat.ensureGrid(), this.data.binSize, view);
    const old = this.heat.scale;
    const moved = scale === null || old === null || Math.abs(scale - old) > RESCALE_TOLERANCE * old;
    if (moved) this.heat.setScale(scale);
    else this.heat.refresh();
    this._updateLegend();
  }

  _checkPriceRange() {
    if (this._dragging) return; // rescaled once the chart settles, not in the middle of a pan
    const view = this.heat.view();
    const last = this._scaleView;
    if (!view || !last) return;
    const span = last.high - last.low;
    if (Math.abs(view.high - last.high) > 0.05 * span || Math.abs(view.low - last.low) > 0.05 * span) this.rescale(view);
  }

  // --- zone history ----------------------------------------------------------------------------

  scheduleHistory(delayMs = HISTORY_DEBOUNCE_MS) {
    clearTimeout(this._historyTimer);
    this._historyTimer = setTimeout(() => {
      this._historyDirty = true;
      this.refreshHistory();
    }, delayMs);
  }

  async refreshHistory(view = this.heat.view()) {
    const now = Date.now() / 1000;
    const from = Math.floor(Math.max(view ? view.from : now - 86400, now - this.config.historyH * 3600));
    // held already: only a zone's end (or a resync) asks again
    if (!this._historyDirty && this._historyFrom !== null && from >= this._historyFrom) return;
    if (this._historyBusy) {
      this._historyAgain = true;
      return;
    }
    this._historyBusy = true;
    this._historyDirty = false;
    try {
      const response = await fetch(`${this.config.historyApi}?from=${from}`);
      if (!response.ok) throw new Error(`zone history: HTTP ${response.status}`);
      const body = await response.json();
      this.counts.historyFetches += 1;
      this._historyFrom = from;
      this.historyZones = body.zones || [];
      this.historyIds = new Set(this.historyZones.map((z) => z.id));
      this.history.setZones(this.historyZones);
      this.onChange();
    } catch (err) {
      this.counts.fetchErrors += 1;
      this.scheduleHistory(RETRY_MS);
    } finally {
      this._historyBusy = false;
    }
    if (this._historyAgain) {
      this._historyAgain = false;
      this.refreshHistory();
    }
  }

  // --- what app.js hands over ------------------------------------------------------------------

  /** A delta the store accepted ("applied"). */
  onDelta(message, verdict) {
    if (verdict !== "applied") return;
    const data = message.data || {};
    if (message.kind === "heatmap") {
      if (data.resolution_s !== this.config.columnS) return;
      this.data.addSubs(data.columns || []);
      this.data.promote(Date.now() / 1000);
      this.counts.pushedColumns += (data.columns || []).length;
      this.heat.refresh();
    } else if (message.kind === "depth") {
      this.counts.depthPushes += 1;
      this.depth.setDepth(data);
    } else if (message.kind === "zones" && endsZones(data)) {
      this.scheduleHistory();
    }
  }

  /** A full state (a snapshot or a poll). `resync`: pushes may have been missed meanwhile (at most
   * once a column the newest columns are asked for again; the history when a zone ended meanwhile). */
  onState(state, resync) {
    if (state && "depth" in state) this.depth.setDepth(state.depth);
    if (!resync) return;
    const now = Date.now();
    const ended = (state && state.zones ? state.zones : [])
      .some((z) => ENDED_STATUSES.includes(z.status) && !this.historyIds.has(z.id));
    if (now - this._lastTailReset >= this.config.columnS * 1000) {
      this._lastTailReset = now;
      this.data.invalidateTail();
      this.pump();
      this.scheduleHistory();
    } else if (ended) {
      this.scheduleHistory();
    }
  }

  /** Each render of the page: the headline's liveness and the Zones switch. */
  render(live) {
    this.depth.setLive(live);
    this.history.setVisible(Boolean(this.layers.zones));
  }

  /** The store's zones the live layer draws (those the history draws left out). */
  liveZones(zones) {
    return liveLayerZones(zones, this.layers.zones ? this.historyIds : new Set());
  }

  /** Right-edge room for wall labels to keep clear of (the depth profile). */
  labelInset(width) {
    return this.depth.inset(width);
  }

  itemAt(x, y) {
    if (this.layers.zones) {
      const ended = this.history.itemAt(x, y);
      if (ended) return ended;
    }
    return this.depth.itemAt(x, y) || (this._dragging ? null : this.heat.cellAt(x, y));
  }

  /** Tooltip {html, color} for this module's items; null for the others. */
  describe(item) {
    if (item.kind === "zone-ended") return this._describeEnded(item);
    if (item.kind === "depth-bin") return this._describeDepth(item);
    if (item.kind === "heatmap-cell") return this._describeCell(item);
    return null;
  }

  _qty(qty, mid) {
    return `${formatQty(qty)} ${this.base} <span class="muted">(${formatNotional(qty * mid)} ${this.quote})</span>`;
  }

  _describeCell(cell) {
    const mid = (cell.low + cell.high) / 2;
    const side = (name, s) => (s === null
      ? `<div><span class="muted">${name}</span> –</div>`
      : `<div><span class="muted">${name} mean</span> ${this._qty(s.mean, mid)}</div>
         <div><span class="muted">${name} max</span> ${this._qty(s.max, mid)}</div>`);
    return {
      color: COLORS.heat,
      html: `<div class="tt-title">Heatmap cell</div>
        <div><span class="muted">price</span> ${formatPrice(cell.low)} – ${formatPrice(cell.high)}</div>
        <div><span class="muted">time</span> ${formatUtc(cell.t)} <span class="muted">+ ${formatSpan(cell.resolution)}</span></div>
        ${side("bid", cell.bid)}${side("ask", cell.ask)}
        <div class="tt-note muted">resting quantity: time-weighted mean and the largest seen; notional at the bin's mid price</div>`,
    };
  }

  _describeDepth(bar) {
    const mid = (bar.low + bar.high) / 2;
    const asOf = bar.grey && bar.time ? `<div class="muted">not live: as of ${formatUtc(bar.time)}</div>` : "";
    return {
      color: bar.grey ? COLORS.grey : COLORS[bar.side],
      html: `<div class="tt-title">Depth: ${bar.side === "bid" ? "bids" : "asks"}</div>
        <div><span class="muted">price</span> ${formatPrice(bar.low)} – ${formatPrice(bar.high)}</div>
        <div><span class="muted">resting</span> ${this._qty(bar.qty, mid)}</div>${asOf}`,
    };
  }

  _describeEnded(zone) {
    const span = (zone.ended_ts_ms - zone.first_seen_ts_ms) / 1000;
    const reason = zone.end_reason ? `<div class="tt-note muted">${escapeHtml(zone.end_reason)}</div>` : "";
    return {
      color: COLORS[zone.side] || COLORS.bid,
      html: `<div class="tt-title">${zone.side === "ask" ? "Ask" : "Bid"} zone, ${escapeHtml(zone.status)}</div>
        <div><span class="muted">range</span> ${formatPrice(zone.price_low)} – ${formatPrice(zone.price_high)}</div>
        <div><span class="muted">peak notional</span> ${formatNotional(zone.peak_notional)} ${this.quote}</div>
        <div><span class="muted">peak score</span> ${formatStrength(zone.peak_strength, 2)}</div>
        <div><span class="muted">first seen</span> ${formatUtc(zone.first_seen_ts_ms / 1000)}</div>
        <div><span class="muted">ended</span> ${formatUtc(zone.ended_ts_ms / 1000)} <span class="muted">(stood ${formatAge(span)})</span></div>${reason}`,
    };
  }

  // --- debug hook (tests, bench) ---------------------------------------------------------------

  extendDebug(debug) {
    const memory = this;
    Object.defineProperties(debug, {
      heatmap: {
        get() {
          const data = memory.data;
          const columns = data.columns();
          return {
            visible: memory.heat.visible,
            mode: memory.heat.mode,
            resolution: data.resolution,
            scale: memory.heat.scale,
            columns: columns.length,
            first: columns.length ? columns[0].t : null,
            last: columns.length ? columns[columns.length - 1].t : null,
            subs: data.subs.size,
            lastColumn: data.subs.size ? Math.max(...data.subs.keys()) : null,
            restFrom: data.restFrom,
            restTo: data.restTo,
            tailFrom: data.tailFrom,
            painted: memory.heat.painted,
            drawCount: memory.heat.drawCount,
            counts: { ...memory.counts },
            inFlight: memory.inFlight,
            drawMs: memory.heat.stats.drawMs.slice(),
            buildMs: memory.heat.stats.buildMs.slice(),
            legend: memory.legend.scale ? memory.legend.scale.textContent : null,
          };
        },
      },
      depth: {
        get() {
          return { data: memory.depth.depth, painted: memory.depth.painted, visible: memory.depth.visible };
        },
      },
      zoneHistory: {
        get() {
          return { zones: memory.historyZones.slice(), painted: memory.history.painted, visible: memory.history.visible };
        },
      },
    });
    debug.heatSample = (t, price) => this.heat.sample(t, price);
    debug.setHeatmapMode = (mode) => this.heat.setMode(mode);
    debug.setHeatmapVisible = (visible) => {
      this.heat.setVisible(visible);
      this.rescale();
    };
  }
}
