// Order-block reactions on the page (GET /api/reactions, the `reaction` push, GET /api/reactions/stats):
// - a mark where price first entered a fresh block (the touch: its time and price), on the blocks the
//   page draws, shaped by what the block did at the longest horizon decided so far:
//     held         a filled disc        (not invalidated, price moved 1 ATR14 away in its direction)
//     invalidated  a cross              (a 1h candle closed beyond the zone)
//     undecided    an open circle       (neither)
//     pending      a small open diamond (no horizon decided yet)
//     unknown      a dotted circle      (the service was not running when a step fell due)
//   hover a mark for the liquidity in the range at the touch and 1, 5, 15 min later, the zone events and
//   the outcomes;
// - the stats panel: held / invalidated / undecided rates at one horizon (1h, 4h, 24h), overall, backed
//   vs not backed at the touch and by direction, each with its sample size n.
// The pure rules (verdict, mark, rows, rates) are exported for tests/web/js.

import { BitmapPrimitive } from "./bitmap-primitive.js";
import { capitalise, escapeHtml, formatPrice, formatUtc } from "./format.js";

export const MARK_RADIUS_PX = 5;
const LOOKBACK_S = 1000 * 3600; // the candle history the page opens with: reactions older than that are not loaded
const STATS_DEBOUNCE_MS = 1000;
const RELOAD_MIN_INTERVAL_MS = 15000; // re-reads for states (every 3 s while polling) at most this often
const RETRY_MS = 5000;
const GROUPS = [
  ["all", (h) => h.all],
  ["backed", (h) => h.by_backing.backed],
  ["not backed", (h) => h.by_backing.not_backed],
  ["bullish", (h) => h.by_direction.bullish],
  ["bearish", (h) => h.by_direction.bearish],
];
const COLORS = {
  held: "#3fb950",
  invalidated: "#f85149",
  undecided: "#8b949e",
  pending: "#58a6ff",
  unknown: "#8b949e",
};

export const MARK_KEY = "reactions: ● held · × invalidated · ○ undecided · ◇ pending";

/** What to show for a reaction: the outcome at the longest horizon decided (unknown ones aside), or
 * "pending" / "unknown" when none is. */
export function reactionVerdict(reaction) {
  const decided = Object.entries(reaction.outcomes || {}).filter(([, o]) => o !== null && o !== "unknown");
  if (decided.length) {
    const [horizon, outcome] = decided[decided.length - 1];
    return { outcome, horizon };
  }
  return { outcome: reaction.state === "unknown" ? "unknown" : "pending", horizon: null };
}

export function markOf(outcome) {
  return { held: "disc", invalidated: "cross", undecided: "circle", pending: "diamond", unknown: "dotted" }[outcome]
    || "circle";
}

/** The text next to a mark: "held 4h", "pending". */
export function markLabel(outcome, horizon) {
  return horizon ? `${outcome} ${horizon}` : outcome;
}

export function formatRate(rate) {
  return rate === null || rate === undefined ? "–" : `${Math.round(rate * 100)}%`;
}

/** The panel's rows at one horizon: [{group, n, held, invalidated, undecided}] (rates as text). */
export function statsRows(stats, horizon) {
  const at = stats && stats.horizons ? stats.horizons[horizon] : null;
  if (!at) return [];
  return GROUPS.map(([group, pick]) => {
    const c = pick(at) || { n: 0 };
    return { group, n: c.n, held: formatRate(c.held_rate), invalidated: formatRate(c.invalidated_rate),
      undecided: formatRate(c.undecided_rate) };
  });
}

/** The horizon the panel opens on: the longest one with a decided sample, else the first. */
export function defaultHorizon(stats) {
  const horizons = Object.keys((stats && stats.horizons) || {});
  const withSample = horizons.filter((h) => stats.horizons[h].all.n > 0);
  return withSample.length ? withSample[withSample.length - 1] : horizons[0] || null;
}

function drawMark(ctx, shape, x, y, r, lineWidth) {
  ctx.beginPath();
  if (shape === "cross") {
    ctx.moveTo(x - r, y - r);
    ctx.lineTo(x + r, y + r);
    ctx.moveTo(x - r, y + r);
    ctx.lineTo(x + r, y - r);
  } else if (shape === "diamond") {
    ctx.moveTo(x, y - r);
    ctx.lineTo(x + r, y);
    ctx.lineTo(x, y + r);
    ctx.lineTo(x - r, y);
    ctx.closePath();
  } else {
    ctx.arc(x, y, r, 0, 2 * Math.PI);
  }
  ctx.lineWidth = lineWidth;
  ctx.stroke();
}

/** The touch marks: a series primitive drawn above the candles. */
export class ReactionMarks extends BitmapPrimitive {
  constructor(mapper) {
    super("top"); // above the candles: a touch is on a wick
    this.mapper = mapper;
    this.reactions = [];
    this.painted = { marks: [], width: 0, height: 0 };
  }

  setReactions(reactions) {
    this.reactions = reactions;
    this.requestUpdate();
  }

  paint(scope) {
    const width = scope.mediaSize.width;
    const height = scope.mediaSize.height;
    const out = { marks: [], width, height };
    if (!this._chart || !this._series || !this.mapper.times.length) return out;
    const ctx = scope.context;
    const hr = scope.horizontalPixelRatio;
    const vr = scope.verticalPixelRatio;
    const timeScale = this._chart.timeScale();
    const r = MARK_RADIUS_PX;
    for (const reaction of this.reactions) {
      const x = this.mapper.x(timeScale, reaction.touch_time);
      const y = this._series.priceToCoordinate(Number(reaction.touch_price));
      if (x === null || y === null || x < -r || x > width + r || y < -r || y > height + r) continue;
      const { outcome, horizon } = reactionVerdict(reaction);
      const shape = markOf(outcome);
      const cx = x * hr;
      const cy = y * vr;
      ctx.save();
      ctx.strokeStyle = "rgba(13,17,23,0.9)"; // a dark halo: readable over candles and the heatmap
      drawMark(ctx, shape, cx, cy, r * hr, Math.max(3.5, 3.5 * hr));
      ctx.strokeStyle = COLORS[outcome] || COLORS.undecided;
      if (shape === "dotted") ctx.setLineDash([2 * hr, 2 * hr]);
      drawMark(ctx, shape, cx, cy, r * hr, Math.max(1.5, 1.5 * hr));
      if (shape === "disc") {
        ctx.fillStyle = COLORS.held;
        ctx.fill();
      }
      const label = markLabel(outcome, horizon);
      ctx.font = `${Math.round(10 * vr)}px system-ui, sans-serif`;
      ctx.textBaseline = "middle";
      const textWidth = ctx.measureText(label).width;
      const lx = cx + (r + 4) * hr;
      ctx.fillStyle = "rgba(13,17,23,0.85)";
      ctx.fillRect(lx - 2 * hr, cy - 7 * vr, textWidth + 4 * hr, 14 * vr);
      ctx.fillStyle = COLORS[outcome] || COLORS.undecided;
      ctx.fillText(label, lx, cy);
      ctx.restore();
      out.marks.push({ id: reaction.id, block_id: reaction.block_id, outcome, horizon, shape, label, x, y, r });
    }
    return out;
  }

  itemAt(x, y) {
    const marks = this.painted.marks;
    for (let i = marks.length - 1; i >= 0; i -= 1) {
      const m = marks[i];
      if (Math.abs(x - m.x) <= m.r + 3 && Math.abs(y - m.y) <= m.r + 3) {
        const reaction = this.reactions.find((r) => r.id === m.id);
        if (reaction) return { ...reaction, kind: "reaction" };
      }
    }
    return null;
  }

  hitTest(x, y) {
    const item = this.itemAt(x, y);
    if (!item) return null;
    return { externalId: item.id, zOrder: "top", cursorStyle: "help" };
  }
}

export class ReactionLayer {
  /**
   * @param {object} o
   * @param {object} o.series  the candle series the marks attach to
   * @param {object} o.mapper  the page's TimeMapper
   * @param {object} o.config  page config `reactions`: {api, statsApi}
   * @param {string} o.base  base asset ("BTC")
   * @param {object} o.panel  {root, summary, body}: the stats panel's elements
   * @param {object} o.key  the legend element that explains the marks
   */
  constructor({ series, mapper, config, base, panel, key }) {
    this.config = config;
    this.base = base;
    this.panel = panel;
    this.byId = new Map();
    this.shown = new Set();
    this.stats = null;
    this.horizon = null;
    this.marks = new ReactionMarks(mapper);
    series.attachPrimitive(this.marks);
    this.counts = { loads: 0, statsLoads: 0, pushes: 0, errors: 0 };
    this._statsTimer = null;
    this._reloadTimer = null;
    this._loadedAt = -Infinity;
    if (key) key.textContent = MARK_KEY;
    panel.root.open = window.matchMedia("(min-width: 601px)").matches; // phones: folded, the chart keeps the room
  }

  async load() {
    this._loadedAt = Date.now();
    const from = Math.max(0, Math.floor(Date.now() / 1000 - LOOKBACK_S));
    try {
      const response = await fetch(`${this.config.api}?from=${from}`, { cache: "no-cache" });
      if (!response.ok) throw new Error(`reactions: HTTP ${response.status}`);
      const body = await response.json();
      this.byId = new Map(body.reactions.map((r) => [r.id, r]));
      this.counts.loads += 1;
      this._apply();
    } catch (err) {
      this.counts.errors += 1;
      setTimeout(() => this.load(), RETRY_MS);
    }
    await this.loadStats();
  }

  async loadStats() {
    try {
      const response = await fetch(this.config.statsApi, { cache: "no-cache" });
      if (!response.ok) throw new Error(`reaction stats: HTTP ${response.status}`);
      this.stats = await response.json();
      this.counts.statsLoads += 1;
      if (!this.horizon || !this.stats.horizons[this.horizon]) this.horizon = defaultHorizon(this.stats);
      this.renderPanel();
    } catch (err) {
      this.counts.errors += 1;
    }
  }

  /** A `reaction` push: the mark changes now, the stats a moment later (one read for a burst). */
  onDelta(message, verdict) {
    if (verdict !== "applied" || message.kind !== "reaction") return;
    this.byId.set(message.data.id, message.data);
    this.counts.pushes += 1;
    this._apply();
    clearTimeout(this._statsTimer);
    this._statsTimer = setTimeout(() => this.loadStats(), STATS_DEBOUNCE_MS);
  }

  /** A full state: after a hole or a reconnect pushes may have been lost, so read everything again
   * (at most every RELOAD_MIN_INTERVAL_MS: while polling a state comes every 3 s). */
  onState(resync) {
    if (!resync || this._reloadTimer !== null) return;
    const wait = this._loadedAt + RELOAD_MIN_INTERVAL_MS - Date.now();
    this._reloadTimer = setTimeout(() => {
      this._reloadTimer = null;
      this.load();
    }, Math.max(0, wait));
  }

  /** The ids of the order blocks the page draws: only their reactions are marked. */
  setShownBlocks(ids) {
    const next = new Set(ids);
    if (next.size === this.shown.size && [...next].every((id) => this.shown.has(id))) return;
    this.shown = next;
    this._apply();
  }

  _apply() {
    this.marks.setReactions([...this.byId.values()].filter((r) => this.shown.has(r.block_id)));
  }

  renderPanel() {
    const { summary, body } = this.panel;
    const stats = this.stats;
    const rows = statsRows(stats, this.horizon);
    const total = stats ? stats.reactions : 0;
    const states = (stats && stats.states) || {};
    const horizons = Object.keys((stats && stats.horizons) || {});
    const all = rows.length ? rows[0] : null;
    summary.textContent = all && all.n
      ? `Reactions · ${this.horizon}: held ${all.held} (n=${all.n})`
      : `Reactions · ${total ? `${total} recorded, none decided at ${this.horizon}` : "none recorded yet"}`;
    const buttons = horizons.map((h) => `<button type="button" data-horizon="${escapeHtml(h)}" aria-pressed="${h === this.horizon}" aria-label="Outcomes after ${escapeHtml(h)}">${escapeHtml(h)}</button>`).join("");
    const table = rows.map((r) => `<tr data-group="${escapeHtml(r.group)}"><th>${escapeHtml(r.group)}</th><td>${r.n}</td>`
      + `<td class="held">${r.held}</td><td class="invalidated">${r.invalidated}</td><td>${r.undecided}</td></tr>`).join("");
    body.innerHTML = `<div class="rp-horizons">${buttons}</div>`
      + `<table><thead><tr><th></th><th>n</th><th>held</th><th>invalid</th><th>undec.</th></tr></thead><tbody>${table}</tbody></table>`
      + `<div class="muted rp-foot">${total} reactions · ${states.pending || 0} pending · ${states.unknown || 0} unknown</div>`;
    for (const button of body.querySelectorAll("button[data-horizon]")) {
      button.addEventListener("click", () => {
        this.horizon = button.dataset.horizon;
        this.renderPanel();
      });
    }
  }

  itemAt(x, y) {
    return this.marks.itemAt(x, y);
  }

  /** Tooltip of a mark ({html, color}), or null for an item that is not one. */
  describe(item) {
    if (!item || item.kind !== "reaction") return null;
    const { outcome } = reactionVerdict(item);
    const qty = (s) => (s.qty === null ? (s.taken_ms === null && s.at_ms !== null && s.note ? "missed" : "–")
      : `${Number(s.qty).toFixed(2)}`);
    const liquidity = item.liquidity.map((s) => `${escapeHtml(s.at)} ${qty(s)}`).join(" · ");
    const events = { held: 0, pulled: 0, broken: 0 };
    for (const z of item.zones) events[z.event] += 1;
    const outcomes = Object.entries(item.outcomes).map(([h, o]) => `${escapeHtml(h)} ${escapeHtml(o ?? "–")}`).join(" · ");
    const backed = item.backed === null ? "unknown" : item.backed ? "yes" : "no";
    const score = item.backing && item.backing.score !== null ? ` (score ${Number(item.backing.score).toFixed(1)}x)` : "";
    const reason = item.reason ? `<div class="tt-note muted">${escapeHtml(item.reason)}</div>` : "";
    return {
      color: COLORS[outcome] || COLORS.undecided,
      html: `<div class="tt-title">Reaction of a ${escapeHtml(item.direction)} order block</div>
        <div><span class="muted">touched</span> ${formatPrice(item.touch_price)} · ${formatUtc(item.touch_time)}</div>
        <div><span class="muted">backed</span> ${backed}${score}</div>
        <div><span class="muted">liquidity</span> ${liquidity} ${escapeHtml(this.base)}</div>
        <div><span class="muted">zones</span> held ${events.held} · pulled ${events.pulled} · broken ${events.broken}</div>
        <div><span class="muted">outcome</span> ${outcomes}</div>
        <div><span class="muted">state</span> ${escapeHtml(capitalise(item.state))}</div>${reason}
        <div class="tt-note muted">liquidity: resting ${item.direction === "bullish" ? "bids" : "asks"} in ${formatPrice(item.range_low)} – ${formatPrice(item.range_high)}</div>`,
    };
  }

  extendDebug(debug) {
    const layer = this;
    Object.defineProperty(debug, "reactions", {
      get() {
        return { marks: layer.marks.painted.marks.map((m) => ({ ...m })), loaded: layer.byId.size,
          stats: layer.stats, horizon: layer.horizon, counts: { ...layer.counts } };
      },
    });
  }
}
