// One series primitive (series.attachPrimitive) that paints order-block boxes and liquidity-zone
// bands behind the candles, and records what it actually painted for tooltips and tests. A block
// backed by liquidity (confluence.js) gets a stronger border and a badge with its quantity and score.

import { isBacked, liquidityBadge } from "./confluence.js";
import { LABEL_HEIGHT_PX, ZONE_MIN_HEIGHT_PX, drawableZones, placeLabels, zoneLabel } from "./display.js";
import { BitmapPrimitive } from "./bitmap-primitive.js";
import { TimeMapper } from "./timemap.js";

export const MIN_BAND_PX = 3;
export const MIN_HEIGHT_PX = 4;
const GREY = [139, 148, 158];

const RGB = {
  bullish: [38, 166, 154],
  bearish: [239, 83, 80],
  bid: [41, 182, 246],
  ask: [255, 167, 38],
};

function rgba(rgb, alpha) {
  return `rgba(${rgb[0]},${rgb[1]},${rgb[2]},${alpha.toFixed(3)})`;
}

export function colorOf(key) {
  return rgba(RGB[key] || RGB.bid, 1);
}

/** Fill opacity of a zone grows with its strength (score x baseline). */
export function zoneAlpha(strength) {
  return Math.min(0.55, Math.max(0.14, 0.06 + 0.04 * Number(strength || 0)));
}

export const BACKED_BORDER_PX = 3;

export function blockStyle(block) {
  const rgb = RGB[block.direction] || RGB.bullish;
  if (block.status === "invalid") return { fill: rgba(rgb, 0.05), stroke: rgba(rgb, 0.35), dash: [2, 3], width: 1 };
  const backed = isBacked(block);
  const width = backed ? BACKED_BORDER_PX : 1; // backed by resting liquidity: a stronger border
  if (block.status === "touched") {
    return { fill: rgba(rgb, 0.09), stroke: rgba(rgb, backed ? 1 : 0.65), dash: [6, 4], width };
  }
  return { fill: rgba(rgb, backed ? 0.26 : 0.2), stroke: rgba(rgb, backed ? 1 : 0.95), dash: [], width };
}

/** `asOf` set: the book is not live, the zone is what was last seen (greyed, never shown as current). */
export function zoneStyle(zone, asOf = null) {
  const rgb = asOf !== null ? GREY : RGB[zone.side] || RGB.bid;
  const ended = zone.status === "broken" || zone.status === "pulled";
  const alpha = zoneAlpha(zone.strength) * (ended ? 0.35 : 1);
  return {
    fill: rgba(rgb, alpha),
    tail: rgba(rgb, alpha * 0.6),
    tailEdge: rgba(rgb, ended ? 0.3 : 0.7),
    stroke: rgba(rgb, ended ? 0.35 : 0.95),
    dash: zone.status === "candidate" ? [5, 4] : ended ? [2, 3] : [],
    width: zone.status === "confirmed" ? 2 : 1,
    label: rgba(rgb, ended ? 0.5 : 1),
  };
}

export function blockVisible(block, layers) {
  if (!layers.orderblocks) return false;
  if (block.status === "touched") return layers.touched;
  if (block.status === "invalid") return layers.invalid;
  return true;
}

export class OverlayPrimitive extends BitmapPrimitive {
  constructor(mapper, options) {
    super("normal"); // the background pass: above the grid, below the candles
    this.mapper = mapper;
    this.now = options.now; // () => seconds
    this.quote = options.quote || "";
    this.base = options.base || ""; // the base asset ("BTC"), for the backed blocks' badges
    this.zoneDrawMinS = options.zoneDrawMinS ?? 0;
    this.asOf = null; // seconds: the book is not live, draw what it was then (greyed)
    this.layers = { orderblocks: true, touched: true, invalid: false, zones: true, ...options.layers };
    this.blocks = [];
    this.zones = [];
    this.geometry = { boxes: [], bands: [], now: null };
    this.painted = { boxes: [], bands: [], labels: [], badges: [], width: 0, height: 0, now: null, asOf: null };
    this.drawCount = 0;
    this.labelInset = () => 0; // px at the right edge wall labels keep clear of (the depth profile)
  }

  drawScope(scope) {
    super.drawScope(scope);
    this.drawCount += 1;
  }

  /** The boxes, the bands and the wall labels, behind the candles; places the badges too. */
  paint(scope) {
    const ctx = scope.context;
    const hr = scope.horizontalPixelRatio;
    const vr = scope.verticalPixelRatio;
    const width = scope.mediaSize.width;
    const height = scope.mediaSize.height;
    const painted = { boxes: [], bands: [], width, height, now: this.geometry.now };

    const strokeRect = (left, top, right, bottom, style) => {
      ctx.save();
      ctx.lineWidth = Math.max(1, Math.round(style.width * hr));
      ctx.strokeStyle = style.stroke;
      ctx.setLineDash(style.dash.map((d) => d * hr));
      const inset = ctx.lineWidth / 2;
      ctx.strokeRect(
        Math.round(left * hr) + inset,
        Math.round(top * vr) + inset,
        Math.max(0, Math.round((right - left) * hr) - 2 * inset),
        Math.max(0, Math.round((bottom - top) * vr) - 2 * inset),
      );
      ctx.restore();
    };
    const fillRect = (left, top, right, bottom, fill) => {
      ctx.fillStyle = fill;
      const l = Math.round(left * hr);
      const t = Math.round(top * vr);
      ctx.fillRect(l, t, Math.round(right * hr) - l, Math.round(bottom * vr) - t);
    };
    const visible = (r) => r.x2 >= 0 && r.x1 <= width && r.y2 >= 0 && r.y1 <= height;

    for (const g of this.geometry.boxes) {
      const rect = { x1: g.x1, x2: g.extends ? width : g.x2, y1: g.y1, y2: g.y2 };
      if (rect.x2 < rect.x1 || !visible(rect)) continue;
      fillRect(rect.x1, rect.y1, rect.x2, rect.y2, g.style.fill);
      strokeRect(rect.x1, rect.y1, rect.x2, rect.y2, g.style);
      painted.boxes.push({ id: g.id, kind: "orderblock", ...rect, extends: g.extends,
        direction: g.item.direction, status: g.item.status, fill: g.style.fill, dash: g.style.dash.length > 0,
        stroke: g.style.stroke, borderPx: g.style.width, backed: isBacked(g.item) });
    }

    const labelFont = `${Math.round(10 * vr)}px system-ui, sans-serif`;
    const badgeFont = `600 ${Math.round(11 * vr)}px system-ui, sans-serif`;
    ctx.textBaseline = "middle";
    const wanted = [];
    ctx.font = badgeFont;
    for (const g of this.geometry.boxes) {
      // badges first: placed before any wall label, at the left of the box's visible part
      const text = liquidityBadge(g.item, this.base);
      if (text === null) continue;
      const textWidth = ctx.measureText(text).width / hr;
      const tx = Math.max(g.x1, 0) + 5;
      const inside = g.y2 - g.y1 >= LABEL_HEIGHT_PX + 6;
      const cy = inside ? g.y1 + 3 + LABEL_HEIGHT_PX / 2 : g.y1 - 1 - LABEL_HEIGHT_PX / 2;
      // not live: the badge is what was last measured, greyed like the walls
      const color = this.asOf !== null ? rgba(GREY, 1) : colorOf(g.item.direction);
      wanted.push({ id: g.id, kind: "badge", text, color, strength: Infinity,
        x1: tx, x2: tx + textWidth, y1: cy - LABEL_HEIGHT_PX / 2, y2: cy + LABEL_HEIGHT_PX / 2 });
    }
    ctx.font = labelFont;
    for (const g of this.geometry.bands) {
      const rect = { x1: g.x1, x2: g.x2, y1: g.y1, y2: g.y2 };
      const tailTo = g.extends ? width : null;
      if (!visible({ ...rect, x2: Math.max(rect.x2, tailTo ?? rect.x2) })) continue;
      fillRect(rect.x1, rect.y1, rect.x2, rect.y2, g.style.fill);
      if (tailTo !== null && tailTo > rect.x2) {
        // the live wall continues to the right edge (lighter): readable at any zoom
        fillRect(rect.x2, rect.y1, tailTo, rect.y2, g.style.tail);
        strokeRect(rect.x2, rect.y1, tailTo, rect.y2, { ...g.style, stroke: g.style.tailEdge, width: 1 });
      }
      strokeRect(rect.x1, rect.y1, rect.x2, rect.y2, g.style);
      {
        const text = zoneLabel(g.item, this.quote);
        const textWidth = ctx.measureText(text).width / hr;
        const tx = Math.min(Math.max(rect.x2, rect.x1) + 4, width - textWidth - 4 - this.labelInset(width));
        const cy = (rect.y1 + rect.y2) / 2;
        wanted.push({ id: g.id, kind: "zone", text, color: g.style.label, strength: Number(g.item.strength),
          x1: tx, x2: tx + textWidth, y1: cy - LABEL_HEIGHT_PX / 2, y2: cy + LABEL_HEIGHT_PX / 2 });
      }
      painted.bands.push({ id: g.id, kind: "zone", ...rect, tailTo, extends: g.extends, side: g.item.side,
        status: g.item.status, fill: g.style.fill, dash: g.style.dash.length > 0 });
    }
    // badges, then the strongest walls first; a label that would overlap a placed one is left to the tooltip
    wanted.sort((a, b) => b.strength - a.strength);
    const placed = placeLabels(wanted);
    painted.labels = placed.filter((label) => label.kind === "zone");
    painted.badges = placed.filter((label) => label.kind === "badge");
    for (const label of painted.labels) { // the badges are drawn over the candles: paintOver()
      ctx.fillStyle = "rgba(13,17,23,0.85)"; // the page background: readable over bands and grid
      fillRect(label.x1 - 2, label.y1, label.x2 + 2, label.y2, ctx.fillStyle);
      ctx.fillStyle = label.color;
      ctx.fillText(label.text, Math.round(label.x1 * hr), Math.round(((label.y1 + label.y2) / 2) * vr));
    }
    painted.asOf = this.asOf;
    return painted;
  }

  /** The badges of backed blocks go over the candles (the boxes and wall labels stay behind them). */
  paintOver(scope) {
    const badges = this.painted.badges || [];
    if (!badges.length) return;
    const ctx = scope.context;
    const hr = scope.horizontalPixelRatio;
    const vr = scope.verticalPixelRatio;
    ctx.font = `600 ${Math.round(11 * vr)}px system-ui, sans-serif`;
    ctx.textBaseline = "middle";
    for (const badge of badges) {
      const left = Math.round((badge.x1 - 3) * hr);
      const top = Math.round(badge.y1 * vr);
      ctx.fillStyle = "rgba(13,17,23,0.9)";
      ctx.fillRect(left, top, Math.round((badge.x2 + 3) * hr) - left, Math.round(badge.y2 * vr) - top);
      ctx.fillStyle = badge.color;
      ctx.fillText(badge.text, Math.round(badge.x1 * hr), Math.round(((badge.y1 + badge.y2) / 2) * vr));
    }
  }

  setData(blocks, zones) {
    this.blocks = blocks;
    this.zones = zones;
    this.requestUpdate();
  }

  /** `seconds` when the book stopped being live (walls freeze and grey out), null while live. */
  setAsOf(seconds) {
    if (seconds === this.asOf) return;
    this.asOf = seconds;
    this.requestUpdate();
  }

  setLayers(layers) {
    this.layers = { ...this.layers, ...layers };
    this.requestUpdate();
  }

  updateAllViews() {
    if (!this._chart || !this._series) return;
    const timeScale = this._chart.timeScale();
    const series = this._series;
    const now = this.asOf ?? this.now();
    const ys = (item, minPx) => {
      let top = series.priceToCoordinate(Number(item.price_high));
      let bottom = series.priceToCoordinate(Number(item.price_low));
      if (top === null || bottom === null) return null;
      if (bottom - top < minPx) {
        const mid = (top + bottom) / 2;
        top = mid - minPx / 2;
        bottom = mid + minPx / 2;
      }
      return [top, bottom];
    };
    const boxes = [];
    for (const block of this.blocks) {
      if (!blockVisible(block, this.layers)) continue;
      // blocks are 1h: on any timeframe they start and end at the bar containing their times
      const x1 = this.mapper.barX(timeScale, block.time_from);
      const open = block.time_to === null || block.time_to === undefined;
      const x2 = open ? null : this.mapper.barX(timeScale, block.time_to);
      const y = ys(block, MIN_HEIGHT_PX);
      if (x1 === null || (!open && x2 === null) || y === null) continue;
      boxes.push({ id: block.id, item: block, x1, x2, y1: y[0], y2: y[1], extends: open, style: blockStyle(block) });
    }
    const bands = [];
    if (this.layers.zones) {
      for (const zone of drawableZones(this.zones, now, this.zoneDrawMinS)) {
        const open = zone.time_to === null || zone.time_to === undefined;
        const x1 = this.mapper.x(timeScale, zone.time_from);
        const xEnd = this.mapper.x(timeScale, open ? Math.max(now, zone.time_from) : zone.time_to);
        const y = ys(zone, ZONE_MIN_HEIGHT_PX);
        if (x1 === null || xEnd === null || y === null) continue;
        const x2 = Math.max(xEnd, x1 + MIN_BAND_PX);
        bands.push({ id: zone.id, item: zone, x1, x2, y1: y[0], y2: y[1], extends: open,
          style: zoneStyle(zone, this.asOf) });
      }
      // stronger bands on top
      bands.sort((a, b) => Number(a.item.strength) - Number(b.item.strength));
    }
    this.geometry = { boxes, bands, now };
  }

  /** The zone or block under (x, y) in CSS pixels, bands first (they are drawn on top). */
  itemAt(x, y) {
    const painted = this.painted;
    for (let i = painted.bands.length - 1; i >= 0; i -= 1) {
      const r = painted.bands[i];
      const right = r.tailTo !== null && r.tailTo !== undefined ? Math.max(r.x2, r.tailTo) : r.x2;
      if (x >= r.x1 && x <= right && y >= r.y1 && y <= r.y2) return this.zones.find((z) => z.id === r.id) || null;
    }
    for (let i = painted.boxes.length - 1; i >= 0; i -= 1) {
      const r = painted.boxes[i];
      if (x >= r.x1 && x <= r.x2 && y >= r.y1 && y <= r.y2) return this.blocks.find((b) => b.id === r.id) || null;
    }
    return null;
  }

  hitTest(x, y) {
    const item = this.itemAt(x, y);
    if (!item) return null;
    return { externalId: item.id, zOrder: "normal", isBackground: true, cursorStyle: "help" };
  }
}

// re-exported for the debug hook and tests
export { TimeMapper };
