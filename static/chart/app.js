// The chart page: candles, order-block boxes, liquidity-zone bands, best bid/ask/mid lines,
// legend, tooltip, layer toggles and the connection pill, kept live by LiveTransport.

import { AlertCenter } from "./alerts.js";
import {
  capitalise,
  escapeHtml,
  formatAge,
  formatNotional,
  formatPrice,
  formatStrength,
  formatUtc,
  quoteOf,
} from "./format.js";
import { backedOnly, isBacked, liquidityLines } from "./confluence.js";
import { SCORE_CAP, formatScore, nearbyBlocks } from "./display.js";
import { asOfText, headline } from "./headline.js";
import { HistoryLoader } from "./history.js";
import { LiquidityMemory } from "./liquidity-memory.js";
import { MIN_BAND_PX, MIN_HEIGHT_PX, OverlayPrimitive, blockVisible, colorOf } from "./overlay-primitive.js";
import { ReactionLayer } from "./reactions.js";
import { OverlayStore } from "./store.js";
import { TimeMapper } from "./timemap.js";
import { TIMEFRAME_SECONDS, candleTimeframe, searchWithTimeframe, timeframeFromSearch } from "./timeframes.js";
import { LiveTransport } from "./transport.js";

const LWC = window.LightweightCharts;
const config = JSON.parse(document.getElementById("page-config").textContent);
const quote = quoteOf(config.symbol);
const base = config.symbol.slice(0, -quote.length || undefined); // "BTC" of BTCEUR
const nowSeconds = () => Date.now() / 1000;
const INITIAL_BARS = 72;
let timeframe = timeframeFromSearch(location.search); // the URL's ?tf=, so a reload keeps it
let candleLoads = 0; // numbers each loadCandles: an answer for a timeframe no longer shown is dropped

const THEME = {
  background: "#0d1117",
  text: "#c9d1d9",
  grid: "#161b22",
  border: "#30363d",
  up: "#26a69a",
  down: "#ef5350",
  bid: "#29b6f6",
  ask: "#ffa726",
  mid: "#8b949e",
  frozen: "#6e7681",
};

const container = document.getElementById("chart");
const chart = LWC.createChart(container, {
  autoSize: true,
  layout: { background: { type: "solid", color: THEME.background }, textColor: THEME.text, fontSize: 12 },
  grid: { vertLines: { color: THEME.grid }, horzLines: { color: THEME.grid } },
  rightPriceScale: { borderColor: THEME.border, scaleMargins: { top: 0.08, bottom: 0.08 } },
  timeScale: { borderColor: THEME.border, timeVisible: true, secondsVisible: false, rightOffset: 12, barSpacing: 9 },
  crosshair: { mode: LWC.CrosshairMode.Normal },
});
const series = chart.addCandlestickSeries({
  upColor: THEME.up,
  downColor: THEME.down,
  wickUpColor: THEME.up,
  wickDownColor: THEME.down,
  borderVisible: false,
  priceFormat: { type: "price", precision: 2, minMove: 0.01 },
});

const mapper = new TimeMapper(TIMEFRAME_SECONDS[timeframe]);
const layers = {
  orderblocks: true, touched: Boolean(config.renderTouched), invalid: false, allBlocks: false, backedOnly: false,
  zones: true, priceLines: true,
};
const primitive = new OverlayPrimitive(mapper, { now: nowSeconds, layers, quote, base, zoneDrawMinS: config.zoneDrawMinS });
series.attachPrimitive(primitive);
// heatmap, ended zones and depth profile (their own module: liquidity-memory.js)
const memory = new LiquidityMemory({
  chart, series, mapper, config: config.memory, layers, quote, base,
  onChange: () => render(),
});
primitive.labelInset = (width) => memory.labelInset(width);
// order-block reactions: touch marks on the blocks drawn, and the stats panel (reactions.js)
const reactions = new ReactionLayer({
  series, mapper, config: config.reactions, base: config.symbol.slice(0, -quote.length || undefined),
  panel: { root: document.getElementById("reaction-panel"), summary: document.getElementById("reaction-summary"),
    body: document.getElementById("reaction-body") },
  key: document.getElementById("reaction-key"),
});
const store = new OverlayStore();
store.status = config.initialStatus || null; // the book's state as last published: shown before any push
let lastBar = null;
let current = { state: "connecting", text: "connecting", live: false };
// when this page last received a book update (its own clock: staleness never depends on clock skew)
let lastBookAt = config.initialStatus && config.initialStatus.age_s !== null && config.initialStatus.age_s !== undefined
  ? Date.now() - config.initialStatus.age_s * 1000 : null;
let lastBookTs = null;

function noteBook(metrics) {
  const ts = metrics ? metrics.ts_ms : null;
  if (ts !== null && ts !== undefined && ts !== lastBookTs) {
    lastBookTs = ts;
    lastBookAt = Date.now();
  }
}

// --- price lines ---------------------------------------------------------------------------------

const priceLines = {};
const PRICE_LINE_STYLE = {
  best_bid: { color: THEME.bid, title: "bid", lineStyle: LWC.LineStyle.Solid },
  best_ask: { color: THEME.ask, title: "ask", lineStyle: LWC.LineStyle.Solid },
  mid: { color: THEME.mid, title: "mid", lineStyle: LWC.LineStyle.Dashed },
};

function updatePriceLines() {
  const metrics = store.metrics;
  const frozen = !current.live;
  for (const [key, live] of Object.entries(PRICE_LINE_STYLE)) {
    const style = frozen ? { ...live, color: THEME.frozen, title: `${live.title} (${asOfText(bookTimeMs())})` } : live;
    const price = metrics ? Number(metrics[key]) : NaN;
    const show = layers.priceLines && Number.isFinite(price);
    if (!show) {
      if (priceLines[key]) {
        series.removePriceLine(priceLines[key]);
        delete priceLines[key];
      }
      continue;
    }
    if (priceLines[key]) {
      priceLines[key].applyOptions({ price, color: style.color, title: style.title });
    } else {
      priceLines[key] = series.createPriceLine({ price, lineWidth: 1, axisLabelVisible: true, ...style });
    }
  }
}

// --- legend --------------------------------------------------------------------------------------

const legend = {
  ohlc: document.getElementById("legend-ohlc"),
  book: document.getElementById("legend-book"),
  counts: document.getElementById("legend-counts"),
};

const OHLC_KEYS = ["open", "high", "low", "close"];
let shownOhlc = null; // the legend's bar as last shown: the crosshair moves far more often than it changes
let ohlcCells = null; // its nodes, made once: a move changes their texts (no HTML parsed, no nodes made)

function ohlcNodes() {
  if (ohlcCells && ohlcCells.time.parentNode === legend.ohlc) return ohlcCells;
  legend.ohlc.textContent = "";
  const span = (className) => {
    const node = document.createElement("span");
    node.className = className;
    node.textContent = "";
    legend.ohlc.append(node, " ");
    return node;
  };
  const time = span("muted");
  const values = OHLC_KEYS.map((key) => {
    span("muted").textContent = key[0].toUpperCase();
    return span("");
  });
  ohlcCells = { time, values };
  return ohlcCells;
}

function setText(node, text) {
  if (node.firstChild && node.firstChild.nodeType === Node.TEXT_NODE && node.childNodes.length === 1) {
    if (node.firstChild.data !== text) node.firstChild.data = text;
  } else {
    node.textContent = text;
  }
}

function showBar(bar) {
  if (!bar) {
    legend.ohlc.textContent = "no candles yet";
    shownOhlc = null;
    return;
  }
  const cls = bar.close >= bar.open ? "up" : "down";
  const texts = [formatUtc(bar.time), ...OHLC_KEYS.map((key) => formatPrice(bar[key]))];
  const shown = `${cls} ${texts.join(" ")}`;
  if (shown === shownOhlc && ohlcCells && ohlcCells.time.parentNode === legend.ohlc) return;
  const cells = ohlcNodes();
  setText(cells.time, texts[0]);
  cells.values.forEach((node, i) => {
    setText(node, texts[i + 1]);
    if (node.className !== cls) node.className = cls;
  });
  shownOhlc = shown;
}

function bookTimeMs() {
  if (store.metrics && Number.isFinite(Number(store.metrics.ts_ms))) return Number(store.metrics.ts_ms);
  return store.status && store.status.ts_ms ? Number(store.status.ts_ms) : null;
}

let shownBookHtml = null;

function updateLegend() {
  const m = store.metrics;
  const asOf = current.live ? "" : ` · ${asOfText(bookTimeMs())}`;
  const bookClass = current.live ? "" : "frozen";
  setIfChanged(legend.book, "className", bookClass);
  const bookHtml = m
    ? `<span class="bid">bid ${formatPrice(m.best_bid)}</span> <span class="ask">ask ${formatPrice(m.best_ask)}</span> ` +
      `<span class="muted">spread ${Number(m.spread).toFixed(2)} · imbalance ${Number(m.imbalance_topn).toFixed(2)}${escapeHtml(asOf)}</span>`
    : `<span class="muted">no book metrics yet</span>`;
  if (bookHtml !== shownBookHtml) {
    legend.book.innerHTML = bookHtml; // only when it reads differently: each set is a style and layout pass
    shownBookHtml = bookHtml;
  }
  let zones = 0;
  for (const z of store.zones.values()) if (z.status === "candidate" || z.status === "confirmed") zones += 1;
  let blocks = 0;
  for (const b of store.blocks.values()) if (b.status !== "invalid") blocks += 1;
  const shown = shownBlocks().filter((b) => b.status !== "invalid").length;
  const near = layers.backedOnly ? "backed" : "near price";
  const blockText = shown === blocks ? `${blocks} active order blocks` : `${shown} of ${blocks} active order blocks (${near})`;
  const backed = store.blockList().filter(isBacked).length;
  const backedText = backed ? ` · ${backed} backed by liquidity` : "";
  const paused = store.zoneState && !store.zoneState.computing ? ` · zones paused: ${store.zoneState.reason}` : "";
  const noun = zones === 1 ? "zone" : "zones";
  const what = current.live ? `${zones} live ${noun}` : `${zones} ${noun} ${asOfText(bookTimeMs())}`;
  const counts = `${what} · ${blockText}${backedText}${paused}`;
  setIfChanged(legend.counts, "textContent", counts);
}

// --- tooltip -------------------------------------------------------------------------------------

const tooltip = document.getElementById("tooltip");
let shownTip = { html: null, width: 0, height: 0 };

function tooltipHtml(item) {
  const now = primitive.asOf ?? nowSeconds(); // ages stop while the book is not live
  const range = `${formatPrice(item.price_low)} – ${formatPrice(item.price_high)}`;
  if (item.kind === "zone") {
    return `<div class="tt-title">${escapeHtml(capitalise(item.side))} liquidity zone</div>
      <div><span class="muted">status</span> ${escapeHtml(item.status)}</div>
      <div><span class="muted">range</span> ${range}</div>
      <div><span class="muted">notional</span> ${formatNotional(item.notional)} ${quote}</div>
      <div><span class="muted">score</span> ${formatStrength(item.strength, 2)}${
        Number(item.strength) > SCORE_CAP ? ` <span class="muted">(labelled ${formatScore(item.strength)})</span>` : ""}</div>
      <div class="tt-note muted">score: the wall's volume over the median of the neighbouring bins</div>
      <div><span class="muted">age</span> ${formatAge(now - item.first_seen_ts_ms / 1000)}</div>
      <div><span class="muted">persistence</span> ${formatAge(item.persistence_s)}</div>`;
  }
  const until = item.time_to === null || item.time_to === undefined ? "open" : formatUtc(item.time_to);
  return `<div class="tt-title">${escapeHtml(capitalise(item.direction))} order block</div>
    <div><span class="muted">status</span> ${escapeHtml(item.status)}</div>
    <div><span class="muted">range</span> ${range}</div>
    <div><span class="muted">ATR(14)</span> ${formatPrice(item.atr14)}</div>
    <div><span class="muted">BOS level</span> ${formatPrice(item.bos_level)}</div>
    <div><span class="muted">bar</span> ${formatUtc(item.time_from)}</div>
    <div><span class="muted">until</span> ${until}</div>
    <div><span class="muted">age</span> ${formatAge(now - item.time_from)}</div>
    ${liquidityLines(item, { base, quote, zones: store.zones, state: store.confluenceState })}`;
}

chart.subscribeCrosshairMove((param) => {
  const bar = param.time !== undefined ? param.seriesData.get(series) : null;
  showBar(bar ? { time: param.time, ...bar } : lastBar);
  const item = param.point
    ? reactions.itemAt(param.point.x, param.point.y) || primitive.itemAt(param.point.x, param.point.y)
      || memory.itemAt(param.point.x, param.point.y) : null;
  if (!item) {
    tooltip.hidden = true;
    if (tooltip.dataset.id) tooltip.dataset.id = "";
    return;
  }
  const own = memory.describe(item) || reactions.describe(item); // heatmap cells, depth bars, ended zones, reactions
  const html = own ? own.html : tooltipHtml(item);
  tooltip.hidden = false;
  if (html !== shownTip.html) { // rebuilt and measured only when its text changes, not on every move
    tooltip.innerHTML = html;
    // coloured through the CSSOM: the page's Content-Security-Policy allows no inline style attribute
    tooltip.querySelector(".tt-title").style.color = own ? own.color : colorOf(item.kind === "zone" ? item.side : item.direction);
    shownTip = { html, width: tooltip.offsetWidth, height: tooltip.offsetHeight };
  }
  if (tooltip.dataset.id !== item.id) tooltip.dataset.id = item.id; // also when the same text shows again
  // right of the cursor, or left of it when that would cover the price axis
  const paneWidth = primitive.painted.width || container.clientWidth;
  let left = param.point.x + 14;
  if (left + shownTip.width > paneWidth - 4) left = param.point.x - shownTip.width - 14;
  const maxY = container.clientHeight - shownTip.height - 8;
  tooltip.style.left = `${Math.max(4, left)}px`;
  tooltip.style.top = `${Math.max(4, Math.min(param.point.y + 14, maxY))}px`;
});

// --- layer toggles -------------------------------------------------------------------------------

for (const input of document.querySelectorAll("input[data-layer]")) {
  input.checked = Boolean(layers[input.dataset.layer]);
  input.addEventListener("change", () => {
    layers[input.dataset.layer] = input.checked;
    primitive.setLayers(layers);
    render();
  });
}

// --- data ----------------------------------------------------------------------------------------

function toBar(c) {
  return { time: c.time, open: c.open, high: c.high, low: c.low, close: c.close };
}

function applyCandle(candle, tf = candleTimeframe(candle)) {
  if (tf !== timeframe) return; // pushes carry every timeframe; draw the one shown
  const last = mapper.lastTime;
  if (last !== null && candle.time < last) return; // older than the chart's last bar: already drawn
  const bar = toBar(candle);
  series.update(bar);
  mapper.addTime(candle.time);
  lastBar = bar;
}

async function loadCandles() {
  const load = ++candleLoads;
  const tf = timeframe;
  const response = await fetch(`${config.api.candles}?tf=${tf}&limit=${config.candleLimit}`, { cache: "no-cache" });
  if (!response.ok) throw new Error(`candles: HTTP ${response.status}`);
  const body = await response.json();
  if (load !== candleLoads) return; // another timeframe was chosen meanwhile
  olderCandles.reset(); // an older page asked for before this load belongs to the series it replaces
  const bars = body.candles.map(toBar);
  series.setData(bars);
  mapper.setTimes(bars.map((b) => b.time));
  lastBar = bars.length ? bars[bars.length - 1] : null;
  showBar(lastBar);
  // open on the recent past, where the walls and the live order blocks are (the same zoom on every
  // timeframe; with fewer bars they sit on the right)
  chart.timeScale().setVisibleLogicalRange({ from: bars.length - INITIAL_BARS, to: bars.length + 12 });
  loaded = { tf, bars: bars.length };
}

async function refreshCandleTail() {
  const last = mapper.lastTime;
  if (last === null) return loadCandles();
  const tf = timeframe;
  const response = await fetch(`${config.api.candles}?tf=${tf}&from=${last}`, { cache: "no-cache" });
  if (!response.ok) throw new Error(`candles: HTTP ${response.status}`);
  for (const candle of (await response.json()).candles) applyCandle(candle, tf);
}

// --- timeframes and older candles ---------------------------------------------------------------

let loaded = { tf: null, bars: 0 }; // what the last loadCandles drew (tests)
const timeframeButtons = [...document.querySelectorAll("button[data-tf]")];

function showTimeframe() {
  for (const button of timeframeButtons) button.setAttribute("aria-pressed", String(button.dataset.tf === timeframe));
  document.getElementById("tf-title").textContent = timeframe;
  chart.applyOptions({ timeScale: { timeVisible: timeframe !== "1d" } });
}

async function fetchOlder(to, limit) {
  const response = await fetch(`${config.api.candles}?tf=${timeframe}&to=${to}&limit=${limit}`, { cache: "no-cache" });
  if (!response.ok) throw new Error(`candles: HTTP ${response.status}`);
  return (await response.json()).candles;
}

/** Older candles before the first bar; the view stays where it was (its logical range shifts). */
function prependCandles(candles) {
  const first = mapper.times.length ? mapper.times[0] : Infinity;
  const older = candles.filter((c) => c.time < first).map(toBar);
  if (!older.length) return;
  const range = chart.timeScale().getVisibleLogicalRange();
  series.setData([...older, ...series.data()]);
  mapper.setTimes([...older.map((b) => b.time), ...mapper.times]);
  if (range) chart.timeScale().setVisibleLogicalRange({ from: range.from + older.length, to: range.to + older.length });
}

const olderCandles = new HistoryLoader({ fetchOlder, onLoaded: prependCandles, pageSize: config.candleLimit });
chart.timeScale().subscribeVisibleLogicalRangeChange((range) => {
  olderCandles.maybeLoad(range ? range.from : null, mapper.times.length ? mapper.times[0] : null);
});

async function switchTimeframe(tf) {
  if (tf === timeframe || !TIMEFRAME_SECONDS[tf]) return;
  timeframe = tf;
  window.history.replaceState(null, "", `${location.pathname}${searchWithTimeframe(location.search, tf)}`);
  mapper.intervalS = TIMEFRAME_SECONDS[tf];
  olderCandles.reset();
  showTimeframe();
  try {
    await loadCandles();
  } catch (err) {
    legend.ohlc.textContent = `candles unavailable (${err.message})`;
  }
  render();
}

for (const button of timeframeButtons) button.addEventListener("click", () => switchTimeframe(button.dataset.tf));
showTimeframe();

function shownBlocks() {
  const all = store.blockList();
  const near = layers.allBlocks ? all : nearbyBlocks(all, lastBar ? lastBar.close : NaN, config.obDisplayAtr, config.obDisplayMax);
  return layers.backedOnly ? backedOnly(near) : near;
}

const pill = document.getElementById("pill");
const transportBadge = document.getElementById("transport");

function setIfChanged(element, property, value) {
  if (element[property] !== value) element[property] = value;
}

function updateHeadline() {
  current = headline({
    serverReachable: transport.serverReachable,
    book: store.status,
    lastBookMs: lastBookAt,
    nowMs: Date.now(),
    staleAfterS: config.staleAfterS,
  });
  const book = store.status || {};
  const error = book.last_error ? `\nlast error: ${book.last_error.text}` : "";
  // set only what reads differently: this runs every second and on every push
  setIfChanged(pill, "textContent", current.text);
  setIfChanged(pill, "title", `The order book as the server last saw it${book.reason ? `: ${book.reason}` : ""}${error}`);
  setIfChanged(pill, "className", `pill pill-${current.state}`);
  primitive.setAsOf(current.live ? null : (bookTimeMs() ?? Date.now()) / 1000);
}

// A cycle's pushes (metrics, depth, zones, confluence...) arrive back to back: they are drawn once,
// in the next frame, not once each (a burst of renders in one frame was the slowest frame of a pan).
let renderPending = false;

function renderNextFrame() {
  if (renderPending) return;
  renderPending = true;
  requestAnimationFrame(() => {
    renderPending = false;
    render();
  });
}

function render() {
  updateHeadline();
  memory.render(current.live);
  const blocks = shownBlocks();
  primitive.setData(blocks, memory.liveZones([...store.zones.values()]));
  reactions.setShownBlocks(blocks.filter((b) => blockVisible(b, layers)).map((b) => b.id));
  updatePriceLines();
  updateLegend();
}

const alerts = new AlertCenter({
  api: config.api.alerts,
  list: document.getElementById("alerts-list"),
  count: document.getElementById("alerts-count"),
  toasts: document.getElementById("toasts"),
  toggle: document.getElementById("alerts-toggle"),
  panel: document.getElementById("alerts-panel"),
  notify: document.getElementById("alerts-notify"),
});

const transport = new LiveTransport({
  wsUrl: `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}${config.wsPath}`,
  pollIntervalMs: config.pollIntervalMs,
  handlers: {
    snapshot(message) {
      store.applySnapshot(message);
      memory.onState(message.state, transport.counts.snapshots > 1);
      reactions.onState(transport.counts.snapshots > 1);
      noteBook(store.metrics);
      render();
      if (message.reason !== "connect" || transport.counts.snapshots > 1) {
        refreshCandleTail().catch(() => {});
        alerts.catchUp(); // alerts pushed while this page missed messages
      }
    },
    delta(message) {
      const verdict = store.acceptDelta(message);
      memory.onDelta(message, verdict);
      reactions.onDelta(message, verdict);
      if (verdict === "applied" && message.kind === "metrics") noteBook(store.metrics);
      if (verdict === "applied" && message.kind === "alert") {
        alerts.onPush(message.data);
        return verdict; // nothing on the chart changed
      }
      if (verdict === "candle") applyCandle(message.data);
      else if (verdict === "applied") renderNextFrame();
      else if (verdict === "hole") store.awaitingSnapshot = transport.ws !== null;
      return verdict;
    },
    async poll() {
      const response = await fetch(config.api.overlays, { cache: "no-cache" });
      if (!response.ok) throw new Error(`overlays: HTTP ${response.status}`);
      const state = await response.json();
      if (transport.mode === "live") return; // the socket came back meanwhile: its snapshot wins
      store.applyState(state);
      memory.onState(state, true);
      reactions.onState(true);
      noteBook(store.metrics);
      render();
      alerts.catchUp(); // no pushes while polling: the list keeps up by REST
      await refreshCandleTail();
    },
    mode(mode) {
      transportBadge.textContent = `push: ${mode}`;
      transportBadge.className = `transport transport-${mode}`;
      render();
    },
  },
});

setInterval(() => {
  const before = current.state;
  updateHeadline();
  if (current.state !== before) render();
  primitive.requestUpdate(); // live bands grow with the clock
}, 1000);

// --- debug hook (tests) --------------------------------------------------------------------------

window.__chartDebug = {
  ready: false,
  chart,
  series,
  mapper,
  minBandPx: MIN_BAND_PX,
  minHeightPx: MIN_HEIGHT_PX,
  get transport() {
    return transport.transport;
  },
  get pill() {
    return transport.mode;
  },
  get headline() {
    return { ...current };
  },
  get painted() {
    return primitive.painted;
  },
  get timeframe() {
    return timeframe;
  },
  get loaded() {
    return { ...loaded };
  },
  get history() {
    return { requests: olderCandles.requests, inFlight: olderCandles.inFlight !== null, exhausted: olderCandles.exhausted };
  },
  get drawCount() {
    return primitive.drawCount;
  },
  get counts() {
    return { ...transport.counts };
  },
  get pollingActive() {
    return transport.pollTimer !== null;
  },
  get seq() {
    return { epoch: store.epoch, seq: store.seq };
  },
  get layers() {
    return { ...layers };
  },
  get priceLines() {
    return Object.fromEntries(Object.entries(priceLines).map(([k, line]) => [k, line.options().price]));
  },
  get priceLineStyles() {
    return Object.fromEntries(
      Object.entries(priceLines).map(([k, line]) => [k, { color: line.options().color, title: line.options().title }]),
    );
  },
  state() {
    return {
      zones: [...store.zones.values()],
      orderblocks: store.blockList(),
      confluence: store.confluenceState,
      metrics: store.metrics,
      status: store.status,
    };
  },
  timeToX(t) {
    return mapper.x(chart.timeScale(), t);
  },
  priceToY(price) {
    return series.priceToCoordinate(Number(price));
  },
  dropSocket(blockMs) {
    transport.dropSocket(blockMs);
  },
  get alerts() {
    return {
      keys: alerts.alerts.map((a) => a.key),
      toasted: alerts.toasted,
      notified: alerts.notified,
      loadError: alerts.loadError,
    };
  },
};

memory.extendDebug(window.__chartDebug);
reactions.extendDebug(window.__chartDebug);

// --- start ---------------------------------------------------------------------------------------

async function start() {
  for (;;) {
    try {
      await loadCandles();
      break;
    } catch (err) {
      legend.ohlc.textContent = `candles unavailable (${err.message}); retrying`;
      await new Promise((resolve) => setTimeout(resolve, 5000));
    }
  }
  alerts.load(); // not awaited: a pushed alert that arrives first is merged with the list
  transport.start();
  reactions.load();
  window.__chartDebug.ready = true;
}

start();
