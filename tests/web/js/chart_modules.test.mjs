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
