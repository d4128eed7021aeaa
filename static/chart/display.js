// What the page draws, and how it labels it: pure rules, tested under node (tests/web/js).
//
// - wall labels show the zone's notional and its score, the score capped at SCORE_CAP ("> 50x"):
//   a near-empty neighbourhood makes the score (volume / median of the neighbour bins) unbounded;
// - labels never overlap: the strongest zones are labelled first, a label that would touch one
//   already placed is left out (the tooltip still has everything);
// - a candidate zone is drawn only once it has stood for ZONE_DRAW_MIN_S: most candidates vanish
//   within seconds;
// - order blocks, by default: the active ones within OB_DISPLAY_ATR ATR(14) of the last close, at
//   most OB_DISPLAY_MAX per direction, nearest first (the page's "All order blocks" switch shows
//   every block; the API always returns everything).

import { formatNotional } from "./format.js";

export const SCORE_CAP = 50;
export const ZONE_MIN_HEIGHT_PX = 8;
export const LABEL_HEIGHT_PX = 13;

/** The wall score for a label: "12.3x", or ">50x" past the cap. */
export function formatScore(strength, cap = SCORE_CAP) {
  const n = Number(strength);
  if (!Number.isFinite(n)) return "–";
  return n > cap ? `>${cap}x` : `${n.toFixed(1)}x`;
}

export function zoneLabel(zone, quote) {
  const unit = quote ? ` ${quote}` : "";
  return `${String(zone.side).toUpperCase()} ${formatNotional(zone.notional)}${unit} · ${formatScore(zone.strength)}`;
}

/** Labels that fit without overlapping: `wanted` in priority order ({id, x1, x2, y1, y2}); returns the
 * placed ones. Two labels overlap when their boxes share any pixel (1 px of air is kept). */
export function placeLabels(wanted) {
  const placed = [];
  for (const label of wanted) {
    const clash = placed.some(
      (p) => label.x1 < p.x2 + 1 && p.x1 < label.x2 + 1 && label.y1 < p.y2 + 1 && p.y1 < label.y2 + 1,
    );
    if (!clash) placed.push(label);
  }
  return placed;
}

/** Zones the page draws at `nowS`: candidates only once they stood `drawMinS` seconds. */
export function drawableZones(zones, nowS, drawMinS) {
  return zones.filter((z) => z.status !== "candidate" || nowS - z.first_seen_ts_ms / 1000 >= drawMinS);
}

/** How far `price` is from the block's range, in the block's ATR(14) (0 inside it). */
export function atrDistance(block, price) {
  const low = Number(block.price_low);
  const high = Number(block.price_high);
  const atr = Number(block.atr14);
  const gap = price < low ? low - price : price > high ? price - high : 0;
  return atr > 0 ? gap / atr : gap === 0 ? 0 : Infinity;
}

/** The default order-block view: active blocks within `maxAtr` ATRs of `lastClose`, at most
 * `maxPerSide` per direction, nearest first. Without a last close nothing can be judged: all. */
export function nearbyBlocks(blocks, lastClose, maxAtr, maxPerSide) {
  if (!Number.isFinite(lastClose)) return blocks;
  const keep = [];
  for (const direction of ["bullish", "bearish"]) {
    const near = blocks
      .filter((b) => b.direction === direction && b.status !== "invalid")
      .map((b) => ({ block: b, distance: atrDistance(b, lastClose) }))
      .filter((entry) => entry.distance <= maxAtr)
      .sort((a, b) => a.distance - b.distance)
      .slice(0, maxPerSide);
    keep.push(...near.map((entry) => entry.block));
  }
  keep.push(...blocks.filter((b) => b.status === "invalid")); // the Invalid switch decides those
  return keep;
}
