// Unit tests of the chart page's pure modules (run by tests/web/test_chart_modules.py with node --test).
import assert from "node:assert/strict";
import { test } from "node:test";

import { escapeHtml, formatAge, formatStrength, quoteOf } from "../../../static/chart/format.js";
import { blockVisible, zoneAlpha, zoneStyle } from "../../../static/chart/overlay-primitive.js";
import { OverlayStore } from "../../../static/chart/store.js";
import { TimeMapper } from "../../../static/chart/timemap.js";
import { LiveTransport, backoffDelay } from "../../../static/chart/transport.js";

const delta = (seq, kind, data, epoch = "e1") => ({ type: "delta", epoch, seq, kind, data });

test("a snapshot replaces the state; the next delta sets the baseline when seq is unknown", () => {
  const store = new OverlayStore();
  store.applySnapshot({ epoch: null, seq: null, state: { zones: [{ id: "a" }], orderblocks: [{ id: "b" }] } });
  assert.deepEqual([...store.zones.keys()], ["a"]);
  assert.equal(store.acceptDelta(delta(41, "metrics", { mid: "1" })), "applied");
  assert.equal(store.seq, 41);
  assert.equal(store.metrics.mid, "1");
});

test("zone and block deltas add, change and remove by id", () => {
  const store = new OverlayStore();
  store.applySnapshot({ epoch: "e1", seq: 1, state: { zones: [{ id: "a", status: "candidate" }] } });
  assert.equal(store.acceptDelta(delta(2, "zones", { added: [{ id: "b" }], changed: [{ id: "a", status: "confirmed" }], removed: [] })), "applied");
  assert.equal(store.zones.get("a").status, "confirmed");
  assert.equal(store.acceptDelta(delta(3, "zones", { added: [], changed: [], removed: ["a"] })), "applied");
  assert.deepEqual([...store.zones.keys()], ["b"]);
  assert.equal(store.acceptDelta(delta(4, "orderblocks", { added: [{ id: "x", status: "fresh" }], changed: [] })), "applied");
  assert.equal(store.acceptDelta(delta(5, "orderblocks", { added: [], changed: [{ id: "x", status: "touched" }] })), "applied");
  assert.equal(store.blocks.get("x").status, "touched");
});

test("duplicates are ignored; a gap or a new epoch is a hole and changes nothing", () => {
  const store = new OverlayStore();
  store.applySnapshot({ epoch: "e1", seq: 10, state: {} });
  assert.equal(store.acceptDelta(delta(10, "metrics", { mid: "old" })), "duplicate");
  assert.equal(store.acceptDelta(delta(12, "metrics", { mid: "skipped" })), "hole");
  assert.equal(store.acceptDelta(delta(1, "metrics", { mid: "restart" }, "e2")), "hole");
  assert.equal(store.metrics, null);
  assert.equal(store.seq, 10);
  store.awaitingSnapshot = true;
  assert.equal(store.acceptDelta(delta(11, "metrics", {})), "waiting");
});

test("candle deltas are handed back to the page; status merges", () => {
  const store = new OverlayStore();
  store.applySnapshot({ epoch: "e1", seq: 0, state: { status: { status: "live", update_id: 5 } } });
  assert.equal(store.acceptDelta(delta(1, "candle", { time: 3600 })), "candle");
  assert.equal(store.acceptDelta(delta(2, "status", { status: "resyncing" })), "applied");
  assert.deepEqual(store.status, { status: "resyncing", update_id: 5 });
});

test("times map to fractional logical indexes between, before and after the bars", () => {
  const mapper = new TimeMapper(3600);
  mapper.setTimes([0, 3600, 7200, 14400]); // one missing hour between 7200 and 14400
  assert.equal(mapper.toLogical(3600), 1);
  assert.equal(mapper.toLogical(5400), 1.5);
  assert.equal(mapper.toLogical(10800), 2.5); // interpolated across the gap, not by the interval
  assert.equal(mapper.toLogical(14400 + 1800), 3.5); // past the last bar: the bar interval
  assert.equal(mapper.toLogical(-3600), -1);
  assert.equal(new TimeMapper().toLogical(5), null);
});

test("x uses only integer logical indexes of the chart (LWC 4.1 answers 0 for fractions)", () => {
  const calls = [];
  const timeScale = {
    logicalToCoordinate(logical) {
      calls.push(logical);
      if (!Number.isInteger(logical)) throw new Error("fractional logical");
      return 100 + logical * 10;
    },
  };
  const mapper = new TimeMapper(3600);
  mapper.setTimes([0, 3600, 7200]);
  assert.equal(mapper.x(timeScale, 1800), 105);
  assert.equal(mapper.x(timeScale, 7200 + 3 * 3600), 150); // 3 bars past the last one
  assert.equal(mapper.x(timeScale, 3600), 110);
  assert.ok(calls.every(Number.isInteger));
});

test("addTime keeps bar times sorted and unique", () => {
  const mapper = new TimeMapper();
  mapper.setTimes([0, 3600]);
  mapper.addTime(7200);
  mapper.addTime(3600);
  assert.deepEqual(mapper.times, [0, 3600, 7200]);
  assert.equal(mapper.lastTime, 7200);
});

test("styles: opacity grows with strength, ended zones fade, candidates are dashed", () => {
  assert.ok(zoneAlpha(12) > zoneAlpha(5));
  assert.ok(zoneAlpha(1e12) <= 0.55);
  const candidate = zoneStyle({ side: "bid", status: "candidate", strength: 6 });
  const confirmed = zoneStyle({ side: "bid", status: "confirmed", strength: 6 });
  const pulled = zoneStyle({ side: "bid", status: "pulled", strength: 6 });
  assert.ok(candidate.dash.length > 0 && confirmed.dash.length === 0);
  assert.ok(Number(pulled.fill.match(/[\d.]+\)$/)[0].slice(0, -1)) < Number(confirmed.fill.match(/[\d.]+\)$/)[0].slice(0, -1)));
});

test("invalid blocks only with their toggle; touched follow render_touched", () => {
  const layers = { orderblocks: true, touched: false, invalid: false };
  assert.equal(blockVisible({ status: "fresh" }, layers), true);
  assert.equal(blockVisible({ status: "touched" }, layers), false);
  assert.equal(blockVisible({ status: "invalid" }, layers), false);
  assert.equal(blockVisible({ status: "invalid" }, { ...layers, invalid: true }), true);
  assert.equal(blockVisible({ status: "fresh" }, { ...layers, orderblocks: false }), false);
});

test("text formats", () => {
  assert.equal(quoteOf("BTCEUR"), "EUR");
  assert.equal(quoteOf("ETHUSDT"), "USDT");
  assert.equal(formatAge(59), "59s");
  assert.equal(formatAge(3 * 3600 + 120), "3h 2m");
  assert.equal(formatAge(2 * 86400 + 5 * 3600), "2d 5h");
  assert.equal(formatStrength(6.54), "6.5x");
  assert.equal(formatStrength(9e10), ">999x");
});

test("reconnect delays: full jitter under an exponential ceiling with a cap", () => {
  const ceilings = [0, 1, 2, 3, 4, 5, 6, 10].map((attempt) => backoffDelay(attempt, 500, 15000, () => 1));
  assert.deepEqual(ceilings, [500, 1000, 2000, 4000, 8000, 15000, 15000, 15000]);
  assert.equal(backoffDelay(3, 500, 15000, () => 0), 0);
  assert.equal(backoffDelay(3, 500, 15000, () => 0.5), 2000);
});

test("fragments are joined in order; a missing fragment drops the message", () => {
  const transport = new LiveTransport({ wsUrl: "ws://unused", handlers: {} });
  try {
    const text = JSON.stringify({ type: "snapshot", state: { zones: [{ id: "z" }] } });
    const parts = [text.slice(0, 10), text.slice(10, 25), text.slice(25)];
    const fragment = (id, index, count = 3) => ({ type: "fragment", id, index, count, chunk: parts[index] });
    assert.equal(transport._joinFragment(fragment(1, 0)), null);
    assert.equal(transport._joinFragment(fragment(1, 1)), null);
    assert.deepEqual(transport._joinFragment(fragment(1, 2)), JSON.parse(text));
    assert.equal(transport._joinFragment(fragment(2, 0)), null);
    assert.equal(transport._joinFragment(fragment(2, 2)), null); // index 1 never came
    assert.equal(transport.fragments, null);
  } finally {
    transport.stop();
  }
});

test("zone deltas carry why zones are (not) computed", () => {
  const store = new OverlayStore();
  store.applySnapshot({ epoch: "e1", seq: 0, state: {} });
  store.acceptDelta(delta(1, "zones", { added: [], changed: [], removed: [], state: { computing: false, reason: "book is resyncing" } }));
  assert.deepEqual(store.zoneState, { computing: false, reason: "book is resyncing" });
});

test("server text is escaped before it goes into the tooltip", () => {
  assert.equal(escapeHtml('<img src=x onerror="y">'), "&lt;img src=x onerror=&quot;y&quot;&gt;");
});

import { atrDistance, drawableZones, formatScore, nearbyBlocks, placeLabels, zoneLabel } from "../../../static/chart/display.js";
import { UNREACHABLE_AFTER_S, headline } from "../../../static/chart/headline.js";

test("wall labels: notional and a capped score", () => {
  assert.equal(formatScore(12.34), "12.3x");
  assert.equal(formatScore(50), "50.0x");
  assert.equal(formatScore(9e10), ">50x");
  assert.equal(zoneLabel({ side: "bid", notional: "1520000", strength: 7.9 }, "EUR"), "BID 1.52 M EUR · 7.9x");
  assert.equal(zoneLabel({ side: "ask", notional: "900", strength: 1e6 }, ""), "ASK 900 · >50x");
});

test("labels never overlap: a label touching a placed one is left out, in priority order", () => {
  const label = (id, x1, y1) => ({ id, x1, x2: x1 + 80, y1, y2: y1 + 13 });
  const placed = placeLabels([label("strong", 100, 100), label("overlaps", 150, 105), label("below", 100, 114),
    label("elsewhere", 300, 100)]);
  assert.deepEqual(placed.map((l) => l.id), ["strong", "below", "elsewhere"]);
  for (const a of placed) {
    for (const b of placed) {
      if (a === b) continue;
      assert.ok(a.x2 < b.x1 || b.x2 < a.x1 || a.y2 < b.y1 || b.y2 < a.y1, `${a.id} overlaps ${b.id}`);
    }
  }
});

test("candidates are drawn only once they stood ZONE_DRAW_MIN_S; other statuses at once", () => {
  const zones = [
    { id: "young", status: "candidate", first_seen_ts_ms: 98_000 },
    { id: "old", status: "candidate", first_seen_ts_ms: 90_000 },
    { id: "confirmed", status: "confirmed", first_seen_ts_ms: 99_500 },
  ];
  assert.deepEqual(drawableZones(zones, 100, 5).map((z) => z.id), ["old", "confirmed"]);
  assert.deepEqual(drawableZones(zones, 100, 0).map((z) => z.id), ["young", "old", "confirmed"]);
});

test("order blocks by default: active, within N ATR of the last close, at most M per direction, nearest first", () => {
  const block = (id, direction, low, high, status = "fresh") =>
    ({ id, direction, status, price_low: String(low), price_high: String(high), atr14: "100" });
  const blocks = [
    block("b-in", "bullish", 990, 1010), block("b-near", "bullish", 700, 800), block("b-far", "bullish", 10, 20),
    block("b-touched", "bullish", 850, 900, "touched"), block("b-invalid", "bullish", 980, 990, "invalid"),
    block("s-1", "bearish", 1100, 1200), block("s-2", "bearish", 1300, 1400), block("s-3", "bearish", 1500, 1600),
  ];
  assert.equal(atrDistance(blocks[0], 1000), 0);
  assert.equal(atrDistance(blocks[1], 1000), 2);
  const shown = nearbyBlocks(blocks, 1000, 10, 2).map((b) => b.id);
  assert.deepEqual(shown, ["b-in", "b-touched", "s-1", "s-2", "b-invalid"]);
  assert.deepEqual(nearbyBlocks(blocks, 1000, 3, 10).map((b) => b.id),
    ["b-in", "b-touched", "b-near", "s-1", "s-2", "b-invalid"]);
  assert.equal(nearbyBlocks(blocks, NaN, 10, 2).length, blocks.length); // no close yet: nothing to judge by
});

test("headline: never claims more than the book and the connection know", () => {
  const now = 1_000_000;
  const base = { serverReachable: true, lastBookMs: now - 1000, nowMs: now, staleAfterS: 5 };
  assert.equal(headline({ ...base, book: { status: "live" } }).state, "live");
  assert.equal(headline({ ...base, book: { status: "live" } }).live, true);
  const stale = headline({ ...base, book: { status: "live" }, lastBookMs: now - 12_000 });
  assert.deepEqual([stale.state, stale.text, stale.live], ["stale", "stale (last book update 12s ago)", false]);
  // the server's stale: its publications (and their times) go on, so the pill says since when
  const serverStale = headline({ ...base, book: { status: "stale", since_ms: now - 40_000 } });
  assert.deepEqual([serverStale.state, serverStale.live], ["stale", false]);
  assert.equal(serverStale.text, `stale since ${new Date(now - 40_000).toISOString().slice(11, 19)} UTC`);
  assert.equal(headline({ ...base, serverReachable: false, book: { status: "live" } }).text, "server unreachable");
  const retry = headline({ ...base, book: { status: "backoff", reason: "connect failed", attempt: 3, since_ms: now - 5000 } });
  assert.equal(retry.text, "reconnecting to Binance (connect failed, attempt 3)");
  const down = headline({ ...base, book: { status: "backoff", since_ms: now - UNREACHABLE_AFTER_S * 1000 } });
  assert.equal(down.text, `Binance unreachable since ${new Date(now - UNREACHABLE_AFTER_S * 1000).toISOString().slice(11, 19)} UTC`);
  assert.equal(headline({ ...base, book: { status: "resyncing", reason: "gap" } }).text, "resyncing the book (gap)");
  assert.equal(headline({ ...base, book: null }).state, "connecting");
  assert.equal(headline({ ...base, book: { status: "connecting" } }).live, false);
});

test("zone colours: bid and ask differ while live; a frozen book is grey", () => {
  const bid = zoneStyle({ side: "bid", status: "confirmed", strength: 6 });
  const ask = zoneStyle({ side: "ask", status: "confirmed", strength: 6 });
  const rgb = (style) => style.fill.split(",").slice(0, 3).join(",");
  assert.notEqual(rgb(bid), rgb(ask));
  const frozenBid = zoneStyle({ side: "bid", status: "confirmed", strength: 6 }, 1_700_000_000);
  const frozenAsk = zoneStyle({ side: "ask", status: "confirmed", strength: 6 }, 1_700_000_000);
  assert.equal(rgb(frozenBid), "rgba(139,148,158");
  assert.equal(rgb(frozenBid), rgb(frozenAsk));
});

test("a long reason is cut for the pill", async () => {
  const { shortReason, REASON_CHARS } = await import("../../../static/chart/headline.js");
  const long = "connect failed: InvalidStatus: server rejected WebSocket connection: HTTP 503";
  assert.equal(shortReason(long).length, REASON_CHARS);
  assert.ok(shortReason(long).endsWith("…"));
  assert.equal(shortReason("gap"), "gap");
});
