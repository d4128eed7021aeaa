// Unit tests of the page's confluence rules and of the store keeping the liquidity inside the blocks
// (run by tests/web/test_chart_modules.py with node --test).
import assert from "node:assert/strict";
import { test } from "node:test";

import { backedOnly, formatQuantity, isBacked, liquidityBadge, liquidityLines } from "../../../static/chart/confluence.js";
import { BACKED_BORDER_PX, blockStyle } from "../../../static/chart/overlay-primitive.js";
import { OverlayStore } from "../../../static/chart/store.js";

const liquidity = (over = {}) => ({
  side: "bid", price_low: "85950", price_high: "86150", qty: "12.41", notional: "1068000.5", score: 5.1234,
  zones: ["z1"], avg_1h: 8.2, ...over,
});
const block = (over = {}) => ({ id: "b", direction: "bullish", status: "fresh", liquidity: liquidity(), backed: true, ...over });
const delta = (seq, kind, data) => ({ type: "delta", epoch: "e", seq, kind, data });

test("quantities keep three significant digits and never go to exponent form", () => {
  assert.equal(formatQuantity("12.41"), "12.4");
  assert.equal(formatQuantity("3.2549"), "3.25");
  assert.equal(formatQuantity("0.51234"), "0.512");
  assert.equal(formatQuantity("124.6"), "125");
  assert.equal(formatQuantity("0.00000123"), "0.00000123");
  assert.equal(formatQuantity("0"), "0");
  assert.equal(formatQuantity("x"), "–");
});

test("a backed block gets the badge 'qty base · score', others none", () => {
  assert.equal(liquidityBadge(block(), "BTC"), "12.4 BTC · 5.1x");
  assert.equal(liquidityBadge(block({ liquidity: liquidity({ score: null }) }), "BTC"), "12.4 BTC");
  assert.equal(liquidityBadge(block({ liquidity: liquidity({ score: 80 }) }), "BTC"), "12.4 BTC · >50x");
  assert.equal(liquidityBadge(block({ backed: false }), "BTC"), null);
  assert.equal(liquidityBadge(block({ liquidity: null }), "BTC"), null); // unknown is never backed
  assert.equal(liquidityBadge(block({ status: "invalid" }), "BTC"), null);
  assert.deepEqual(backedOnly([block(), block({ id: "c", backed: false })]).map((b) => b.id), ["b"]);
});

test("a backed block's border is stronger than an unbacked one's, touched or fresh", () => {
  assert.equal(blockStyle(block()).width, BACKED_BORDER_PX);
  assert.ok(BACKED_BORDER_PX > blockStyle(block({ backed: false })).width);
  const touched = blockStyle(block({ status: "touched" }));
  assert.equal(touched.width, BACKED_BORDER_PX);
  assert.ok(touched.dash.length > 0);
  assert.equal(blockStyle(block({ status: "invalid" })).width, 1);
});

test("the tooltip lists the liquidity, or says why it is unknown", () => {
  const zones = new Map([["z1", { status: "confirmed" }]]);
  const html = liquidityLines(block(), { base: "BTC", quote: "EUR", zones });
  assert.match(html, /12\.4 BTC/);
  assert.match(html, /1\.07 M EUR/);
  assert.match(html, /bids in 85,950\.00 – 86,150\.00/);
  assert.match(html, /5\.1x/);
  assert.match(html, /1 \(1 confirmed\)/);
  assert.match(html, /8\.20 BTC/);
  assert.match(liquidityLines(block({ liquidity: liquidity({ avg_1h: null }) })), /no heatmap data/);
  assert.match(liquidityLines(block({ liquidity: null, backed: false })), /unknown.*outside the analysed band/);
  const paused = { computing: false, reason: "book is resyncing" };
  assert.match(liquidityLines(block({ liquidity: null, backed: false }), { state: paused }), /book is resyncing/);
  assert.equal(liquidityLines(block({ status: "invalid" })), "");
});

test("the store keeps the pushed liquidity across order-block deltas and drops it for invalid blocks", () => {
  const store = new OverlayStore();
  store.applySnapshot({
    epoch: "e", seq: 1,
    state: { orderblocks: [block(), { id: "c", direction: "bearish", status: "fresh", liquidity: null, backed: false }],
      confluence: { computing: true, reason: "live" } },
  });
  assert.equal(store.confluenceState.reason, "live");
  assert.equal(store.blockList().find((b) => b.id === "b").liquidity.qty, "12.41");
  assert.equal(store.acceptDelta(delta(2, "confluence", {
    changed: [{ id: "c", liquidity: liquidity({ side: "ask", qty: "3" }), backed: true }],
    state: { computing: true, reason: "live" },
  })), "applied");
  // an order-block delta carries no liquidity: what was pushed stays
  assert.equal(store.acceptDelta(delta(3, "orderblocks", { added: [], changed: [{ id: "c", direction: "bearish", status: "touched" }] })), "applied");
  const c = store.blockList().find((b) => b.id === "c");
  assert.equal(c.status, "touched");
  assert.equal(c.liquidity.qty, "3");
  assert.equal(c.backed, true);
  assert.equal(store.acceptDelta(delta(4, "orderblocks", { added: [], changed: [{ id: "c", direction: "bearish", status: "invalid" }] })), "applied");
  const invalid = store.blockList().find((b) => b.id === "c");
  assert.equal(invalid.liquidity, null);
  assert.equal(invalid.backed, false);
  assert.equal(store.acceptDelta(delta(5, "confluence", {
    changed: [{ id: "b", liquidity: null, backed: false }], state: { computing: false, reason: "book is resyncing" },
  })), "applied");
  assert.equal(store.blockList().find((b) => b.id === "b").liquidity, null);
  assert.equal(store.confluenceState.computing, false);
});
