// The liquidity inside each order block (confluence): pure rules for the page, tested under node
// (tests/web/js/confluence.test.mjs).
//
// - a block's `liquidity` is what the server last pushed (null: unknown, e.g. outside the analysed
//   band or the book not live; never shown as 0) and `backed` says a confirmed zone overlaps it or its
//   score reaches ZONE_WALL_MULTIPLIER;
// - a backed block gets a stronger border and a badge "12.4 BTC · 5.1x" (its resting quantity and
//   score); the tooltip lists the details; "Backed only" shows the backed blocks alone.

import { escapeHtml, formatNotional, formatPrice } from "./format.js";
import { formatScore } from "./display.js";

/** A quantity with three significant digits: 12.4, 3.25, 0.512, 124 (never in exponent form). */
export function formatQuantity(value) {
  const n = Number(value);
  if (!Number.isFinite(n)) return "–";
  if (n === 0) return "0";
  const digits = Math.max(0, 2 - Math.floor(Math.log10(Math.abs(n))));
  return n.toFixed(Math.min(digits, 8));
}

export function isBacked(block) {
  return Boolean(block && block.backed && block.liquidity && block.status !== "invalid");
}

/** The badge of a backed block: "12.4 BTC · 5.1x" (no score: the quantity alone); null otherwise. */
export function liquidityBadge(block, base) {
  if (!isBacked(block)) return null;
  const unit = base ? ` ${base}` : "";
  const qty = `${formatQuantity(block.liquidity.qty)}${unit}`;
  return block.liquidity.score === null || block.liquidity.score === undefined
    ? qty : `${qty} · ${formatScore(block.liquidity.score)}`;
}

/** The blocks "Backed only" leaves on the chart. */
export function backedOnly(blocks) {
  return blocks.filter(isBacked);
}

/** The tooltip's liquidity lines for a block (HTML). `zones`: the page's zones by id (for their
 * status); `state`: {computing, reason} of the confluence, when known. */
export function liquidityLines(block, { base = "", quote = "", zones = new Map(), state = null } = {}) {
  const liq = block.liquidity;
  if (block.status === "invalid") return "";
  if (!liq) {
    const why = state && !state.computing ? state.reason : "outside the analysed band of the book";
    return `<div><span class="muted">liquidity</span> unknown <span class="muted">(${escapeHtml(why)})</span></div>`;
  }
  const side = liq.side === "bid" ? "bids" : "asks";
  const confirmed = liq.zones.filter((id) => zones.get(id)?.status === "confirmed").length;
  const zoneText = liq.zones.length
    ? `${liq.zones.length}${confirmed ? ` (${confirmed} confirmed)` : ""}` : "none";
  const avg = liq.avg_1h === null || liq.avg_1h === undefined ? "no heatmap data" : `${formatQuantity(liq.avg_1h)} ${base}`;
  return `<div><span class="muted">liquidity</span> ${formatQuantity(liq.qty)} ${base} <span class="muted">(${formatNotional(liq.notional)} ${quote}, ${side} in ${formatPrice(liq.price_low)} – ${formatPrice(liq.price_high)})</span></div>
    <div><span class="muted">score</span> ${liq.score === null ? "–" : formatScore(liq.score)}</div>
    <div><span class="muted">zones</span> ${zoneText}</div>
    <div><span class="muted">1h average</span> ${avg}</div>
    <div><span class="muted">backed</span> ${block.backed ? "yes" : "no"}</div>
    <div class="tt-note muted">score: the resting quantity over the median of same-width windows of the analysed band</div>`;
}
