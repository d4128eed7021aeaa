// Unit tests of the heatmap, depth-profile and zone-history rules (run by tests/web/test_chart_modules.py).
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  EDGE_MARGIN_S,
  HeatmapData,
  aggregateColumns,
  buildImage,
  cellGrid,
  cellSides,
  cellTotal,
  columnAt,
  parseColumn,
  planFetch,
  visibleScale,
} from "../../../static/chart/heatmap-data.js";
import { timeOfLogical } from "../../../static/chart/heatmap-primitive.js";
import {
  RAMP_MAX_ALPHA,
  chooseResolution,
  compositeLuma,
  formatSpan,
  intensity,
  percentile,
  rampLut,
} from "../../../static/chart/heatmap-scale.js";
import { profileBars, profileGrey, profileWidth } from "../../../static/chart/depth-profile.js";
import { TimeMapper } from "../../../static/chart/timemap.js";
import { endMark, endsZones, historySpan, liveLayerZones } from "../../../static/chart/zone-history.js";

const BS = 50;
// a column as the API sends it: bins from `bidFirst`/`askFirst` (bin indexes), null = absent
const raw = (t, cycles, bidFirst, bidQty, askFirst, askQty, bidMax = bidQty, askMax = askQty) => ({
  t, live_cycles: cycles,
  bid_from: bidQty.length ? String(bidFirst * BS) : null, bid_qty: bidQty, bid_max: bidMax,
  ask_from: askQty.length ? String(askFirst * BS) : null, ask_qty: askQty, ask_max: askMax,
});

function nearestRank(values, p) {
  const sorted = values.filter((v) => v !== null && Number.isFinite(v)).sort((a, b) => a - b);
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
}

test("percentile: the nearest-rank quantile of the observed values, nulls and NaN left out", () => {
  let seed = 7;
  const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
  for (const n of [1, 2, 3, 10, 101, 5000]) {
    const values = Array.from({ length: n }, () => (random() < 0.1 ? null : Math.round(random() * 1000) / 10));
    for (const p of [0, 0.5, 0.9, 0.98, 1]) assert.equal(percentile(values, p), nearestRank(values, p), `n=${n} p=${p}`);
  }
  assert.equal(percentile([], 0.98), null);
  assert.equal(percentile([null, NaN], 0.98), null);
  // sorted and constant inputs (a flat book) stay fast: selection, not a quadratic pivot
  const sorted = Array.from({ length: 200_000 }, (_, i) => i);
  const started = performance.now();
  assert.equal(percentile(sorted, 0.98), 195_999);
  assert.equal(percentile(new Array(200_000).fill(3), 0.98), 3);
  assert.ok(performance.now() - started < 500);
});

test("one wall does not make the rest of the heatmap cold: the scale is the 98th percentile", () => {
  const background = Array.from({ length: 1000 }, (_, i) => 40 + (i % 100));
  const scale = percentile([...background, 600, 650, 700], 0.98);
  assert.ok(scale < 150, `scale ${scale}`);
  assert.ok(intensity(90, scale) > 0.5);
  assert.equal(intensity(600, scale), 1); // the wall saturates
});

test("intensity: absent bins have none, quantities are clamped to 0..1 and never decrease", () => {
  assert.equal(intensity(null, 10), null);
  assert.equal(intensity(NaN, 10), null);
  assert.equal(intensity(0, 10), 0);
  assert.equal(intensity(20, 10), 1);
  assert.equal(intensity(5, null), 1); // no scale yet: anything resting shows
  let last = -1;
  for (let v = 0; v <= 12; v += 0.5) {
    const x = intensity(v, 10);
    assert.ok(x >= last);
    last = x;
  }
});

test("the colour ramp: transparent at 0, brighter over the page as it rises, never opaque", () => {
  const lut = rampLut(256);
  assert.equal(lut[3], 0);
  let last = -1;
  for (let i = 0; i < 256; i += 1) {
    const rgba = Array.from(lut.slice(i * 4, i * 4 + 4));
    assert.ok(rgba[3] <= Math.round(RAMP_MAX_ALPHA * 255));
    const luma = compositeLuma(rgba);
    assert.ok(luma >= last - 0.5, `ramp darkens at ${i}: ${luma} < ${last}`);
    last = luma;
  }
  assert.ok(compositeLuma(Array.from(lut.slice(255 * 4))) > compositeLuma(Array.from(lut.slice(64 * 4, 64 * 4 + 4))) + 60);
});

test("resolution follows the zoom: cells >= 2 px, a multiple of the column, at most one bar", () => {
  assert.equal(chooseResolution(400, 60, 3600), 900); // 1h bars 9 px apart
  assert.equal(chooseResolution(225, 60, 3600), 600);
  assert.equal(chooseResolution(5, 60, 3600), 60); // zoomed in: the stored column
  assert.equal(chooseResolution(5000, 60, 3600), 3600); // zoomed far out: one bar
  assert.equal(chooseResolution(5, 2, 3600), 10);
  assert.equal(chooseResolution(60, 60, 86400), 120); // a 1d chart may go coarser
  assert.equal(chooseResolution(NaN, 60, 3600), 3600);
  for (const spp of [1, 3, 17, 90, 400, 2000]) {
    for (const column of [1, 2, 5, 30, 60, 90]) {
      const r = chooseResolution(spp, column, 3600);
      assert.equal(r % column, 0, `${r} not a multiple of ${column}`);
      assert.ok(r <= Math.max(3600, column));
    }
  }
  assert.equal(formatSpan(900), "15 min");
  assert.equal(formatSpan(7200), "2 h");
  assert.equal(formatSpan(10), "10 s");
});

test("columns aggregate as the server does: weighted by live cycles, absent bins not counted, max of maxima", () => {
  const a = parseColumn(raw(0, 60, 100, [10, null, 4], 110, [1], [12, null, 5], [2]), BS);
  const b = parseColumn(raw(60, 20, 101, [2, 8], 110, [], [3, 9], []), BS);
  assert.equal(a.bid.first, 100);
  assert.ok(Number.isNaN(a.bid.mean[1]));
  const c = aggregateColumns([a, b], 0);
  assert.equal(c.cycles, 80);
  assert.equal(c.bid.first, 100);
  assert.deepEqual(Array.from(c.bid.mean), [10, 2, (4 * 60 + 8 * 20) / 80]); // bin 101: only b saw it
  assert.deepEqual(Array.from(c.bid.max), [12, 3, 9]);
  assert.deepEqual(Array.from(c.ask.mean), [1]);
  assert.equal(cellTotal(c, 110), 1);
  assert.ok(Number.isNaN(cellTotal(c, 105))); // between the sides: nobody observed it
  assert.deepEqual(cellSides(c, 100), { bid: { mean: 10, max: 12 }, ask: null });
});

test("a pushed column and the tail answer holding it count once; slots win over columns", () => {
  const data = new HeatmapData({ columnS: 60, binSize: BS });
  data.setResolution(300);
  data.addSubs([raw(600, 60, 100, [10], 101, [1])]); // the push
  data.addSubs([raw(600, 60, 100, [10], 101, [1]), raw(660, 60, 100, [20], 101, [1])], 600); // the tail
  let cols = data.columns();
  assert.equal(cols.length, 1);
  assert.equal(cols[0].t, 600);
  assert.equal(cols[0].cycles, 120);
  assert.equal(cols[0].bid.mean[0], 15);
  assert.equal(data.tailFrom, 600);
  // a complete slot from the API for the same cell replaces what the columns made of it
  assert.equal(data.addSlots({ resolution_s: 300, columns: [raw(600, 300, 100, [11], 101, [1])] }, 0, 899), true);
  cols = data.columns();
  assert.equal(cols.length, 1);
  assert.equal(cols[0].cycles, 300);
  // an answer asked before a zoom is dropped; a zoom drops the slots but keeps the columns
  assert.equal(data.addSlots({ resolution_s: 60, columns: [] }, 0, 59), false);
  data.setResolution(60);
  assert.deepEqual(data.columns().map((c) => c.t), [600, 660]);
});

const held = (data) => data;

test("fetch plan: complete slots of the widened view, then the current slot's columns, then nothing", () => {
  const now = 100_000;
  const data = new HeatmapData({ columnS: 60, binSize: BS });
  data.setResolution(900);
  const args = { viewFrom: now - 36_000, viewTo: now + 3600, nowS: now, retentionS: 7 * 86400, columnS: 60, resolution: 900 };
  const first = planFetch({ ...args, held: held(data) });
  const edge = Math.floor((now - EDGE_MARGIN_S) / 900) * 900;
  assert.deepEqual(first, { kind: "slots", from: Math.floor((now - 36_000 - 0.5 * 39_600) / 900) * 900, to: edge - 1, resolution: 900 });
  assert.equal(first.from % 900, 0);
  data.addSlots({ resolution_s: 900, columns: [] }, first.from, first.to);
  const tail = planFetch({ ...args, held: held(data) });
  assert.deepEqual(tail, { kind: "tail", from: edge, to: now, resolution: 60 });
  data.addSubs([], tail.from);
  assert.equal(planFetch({ ...args, held: held(data) }), null);
  // time passes: the pushes keep the tail; nothing more is asked
  assert.equal(planFetch({ ...args, nowS: now + 3000, held: held(data) }), null);
  // a pan to the left asks only for what is missing on the left
  const left = planFetch({ ...args, viewFrom: now - 80_000, viewTo: now - 40_000, held: held(data) });
  assert.equal(left.kind, "slots");
  assert.equal(left.to, first.from - 1);
  // a zoom: another resolution, asked again
  data.setResolution(300);
  assert.equal(planFetch({ ...args, resolution: 300, held: held(data) }).resolution, 300);
  // before the retention: nothing to ask for
  assert.equal(planFetch({ ...args, viewFrom: 0, viewTo: 1000, retentionS: 3600, held: held(data) }), null);
});

test("a lost push (resync) asks for the tail again; a far jump replaces the slots", () => {
  const now = 50_000;
  const data = new HeatmapData({ columnS: 60, binSize: BS });
  data.setResolution(600);
  const args = { viewFrom: now - 6000, viewTo: now, nowS: now, retentionS: 86400, columnS: 60, resolution: 600 };
  const first = planFetch({ ...args, held: data });
  data.addSlots({ resolution_s: 600, columns: [raw(first.from, 600, 100, [1], 101, [1])] }, first.from, first.to);
  data.addSubs([], planFetch({ ...args, held: data }).from);
  assert.equal(planFetch({ ...args, held: data }), null);
  data.invalidateTail();
  const again = planFetch({ ...args, nowS: now + 1200, held: data });
  assert.equal(again.kind, "slots"); // first the slots completed meanwhile, then the tail
  assert.equal(again.from, first.to + 1);
  data.addSlots({ resolution_s: 600, columns: [] }, 1_000, 1_599);
  assert.deepEqual([data.restFrom, data.restTo, data.slots.size], [1_000, 1_599, 0]);
});

test("the colour scale counts only the observed cells in view (time and price)", () => {
  const columns = [
    parseColumn(raw(0, 60, 100, [1, 2, null], 103, [3]), BS),
    parseColumn(raw(60, 60, 100, [100, 200], 103, []), BS),
  ];
  const inView = visibleScale(columns, 60, BS, { from: 0, to: 59, low: 0, high: 1e9 }, 1);
  assert.deepEqual(inView, { scale: 3, cells: 3 });
  const priceCut = visibleScale(columns, 60, BS, { from: 0, to: 200, low: 100 * BS, high: 100 * BS + 1 }, 1);
  assert.deepEqual(priceCut, { scale: 100, cells: 2 });
  assert.deepEqual(visibleScale(columns, 60, BS, { from: 500, to: 900, low: 0, high: 1e9 }), { scale: null, cells: 0 });
});

test("the picture: one pixel per cell, highest bin on top, absent bins and missing slots transparent", () => {
  const lut = rampLut(256);
  const columns = [
    parseColumn(raw(0, 60, 100, [10, null], 102, [600]), BS),
    parseColumn(raw(120, 60, 100, [20, 30], 102, []), BS), // the slot at 60 is missing
  ];
  const grid = cellGrid(columns, 60);
  assert.ok(Number.isNaN(grid.values[1 * 3 + 0])); // bin 101, slot 0: absent
  assert.equal(grid.values[0 * 3 + 0], 600); // bin 102 (the top row), slot 0
  const image = buildImage(grid, 100, lut);
  assert.deepEqual([image.width, image.height, image.lo, image.hi, image.t0], [3, 3, 100, 103, 0]);
  const px = (i, k) => Array.from(image.pixels.slice(((image.hi - 1 - k) * image.width + i) * 4, ((image.hi - 1 - k) * image.width + i) * 4 + 4));
  assert.equal(px(0, 101)[3], 0); // absent: nothing, not cold
  assert.equal(px(1, 100)[3], 0); // no column in that slot
  assert.ok(compositeLuma(px(0, 102)) > compositeLuma(px(0, 100)) + 40); // the wall is hotter
  assert.ok(px(0, 100)[3] > 0);
  assert.equal(buildImage(cellGrid([], 60), 1, lut), null);
  // no scale yet: whatever rests shows at the top of the ramp
  assert.equal(buildImage(grid, null, lut).pixels[3], lut[255 * 4 + 3]);
  assert.equal(columnAt(columns, 60, 130).t, 120);
  assert.equal(columnAt(columns, 60, 60), null);
});

test("times of fractional logical indexes invert the page's time mapper", () => {
  const mapper = new TimeMapper(3600);
  mapper.setTimes([0, 3600, 7200, 14400]);
  for (const t of [-1800, 0, 900, 5400, 10800, 14400, 20000]) {
    assert.ok(Math.abs(timeOfLogical(mapper, mapper.toLogical(t)) - t) < 1e-6, `t=${t}`);
  }
  assert.equal(timeOfLogical(new TimeMapper(), 3), null);
});

test("depth profile: one bar per bin holding something, grey unless the push and the page are live", () => {
  const depth = { live: true, bin_size: "50", bid_from: "86900", bid_qty: [5, 0, 600], ask_from: "87050", ask_qty: [7, null] };
  const { bars, max } = profileBars(depth);
  assert.equal(max, 600);
  assert.deepEqual(bars.map((b) => [b.side, b.low, b.high, b.qty]), [
    ["bid", 86900, 86950, 5], ["bid", 87000, 87050, 600], ["ask", 87050, 87100, 7],
  ]);
  assert.equal(profileGrey(depth, true), false);
  assert.equal(profileGrey({ ...depth, live: false }, true), true);
  assert.equal(profileGrey(depth, false), true);
  assert.equal(profileGrey(null, true), true);
  assert.deepEqual(profileBars(null), { bars: [], max: 0 });
  assert.equal(profileWidth(1400), 110);
  assert.equal(profileWidth(330), 36);
});

test("zone history: a distinct end mark per reason; the live layer leaves out what the history draws", () => {
  const marks = ["broken", "pulled", "merged"].map(endMark);
  assert.equal(new Set(marks).size, 3);
  assert.equal(endMark("pulled"), "circle");
  assert.equal(endMark("broken"), "cross");
  const zones = [{ id: "a", status: "confirmed" }, { id: "b", status: "pulled" }, { id: "c", status: "broken" }];
  assert.deepEqual(liveLayerZones(zones, new Set(["b", "a"])).map((z) => z.id), ["a", "c"]);
  assert.equal(endsZones({ added: [], changed: [{ id: "a", status: "confirmed" }], removed: [] }), false);
  assert.equal(endsZones({ added: [], changed: [{ id: "a", status: "pulled" }], removed: [] }), true);
  assert.equal(endsZones({ added: [], changed: [], removed: ["x"] }), true);
  assert.deepEqual(historySpan({ first_seen_ts_ms: 10_000, ended_ts_ms: 70_000 }), { from: 10, to: 70 });
});

test("a page left open keeps the current period's columns only: ended periods become cells", () => {
  const data = new HeatmapData({ columnS: 60, binSize: BS });
  data.setResolution(300);
  data.addSlots({ resolution_s: 300, columns: [] }, 0, 899); // the slots up to the edge at 900
  data.addSubs([], 900); // the tail: complete from 900
  for (let t = 900; t < 2400; t += 60) data.addSubs([raw(t, 60, 100, [t / 60], 101, [1])]);
  assert.equal(data.subs.size, 25);
  const before = data.columns().map((c) => [c.t, c.cycles, c.bid.mean[0]]);
  assert.equal(data.promote(2410 + EDGE_MARGIN_S), 5); // 900, 1200, ... 2100 ended
  assert.deepEqual([data.restTo, data.tailFrom, data.subs.size], [2399, 2400, 0]);
  assert.deepEqual(data.columns().map((c) => [c.t, c.cycles, c.bid.mean[0]]), before); // the same cells
  assert.equal(data.promote(2410 + EDGE_MARGIN_S), 0);
  // a lost push (resync): nothing is promoted until the tail is asked for again
  data.invalidateTail();
  for (let t = 2400; t < 2700; t += 60) data.addSubs([raw(t, 60, 100, [1], 101, [1])]);
  assert.equal(data.promote(2710 + EDGE_MARGIN_S), 0);
});

test("a page panned across days keeps at most MAX_SLOTS cells, the far end dropped", async () => {
  const { MAX_SLOTS } = await import("../../../static/chart/heatmap-data.js");
  const data = new HeatmapData({ columnS: 60, binSize: BS });
  data.setResolution(60);
  const answer = (from, n) => ({ resolution_s: 60, columns: Array.from({ length: n }, (_, i) => raw(from + i * 60, 1, 100, [1], 101, [1])) });
  data.addSlots(answer(600_000, 4000), 600_000, 600_000 + 4000 * 60 - 1);
  data.addSlots(answer(600_000 - 3000 * 60, 3000), 600_000 - 3000 * 60, 599_999); // panned left
  assert.equal(data.slots.size, MAX_SLOTS);
  assert.equal(data.restFrom, 600_000 - 3000 * 60);
  assert.equal(data.restTo, 600_000 - 3000 * 60 + MAX_SLOTS * 60 - 1); // the newest end was dropped
  assert.ok(Math.max(...data.slots.keys()) <= data.restTo);
});
