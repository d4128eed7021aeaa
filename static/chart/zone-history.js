// Zone history: zones that ended (GET /api/zones/history) drawn as muted bands from first seen to
// their end, at their price, with a mark at the end saying how they ended:
//   broken  a cross   (price traded through the wall)
//   pulled  an open circle   (the wall was withdrawn)
//   merged  a bracket   (another zone took its range over)
// A zone the history holds is drawn only here: the live layer (overlay-primitive.js) keeps the
// zones that are live, and ended ones the history does not know yet.

import { BitmapPrimitive } from "./bitmap-primitive.js";

export const ENDED_STATUSES = ["broken", "pulled", "merged"];
export const HISTORY_MIN_HEIGHT_PX = 6;
export const HISTORY_MIN_WIDTH_PX = 3;

const RGB = { bid: [41, 182, 246], ask: [255, 167, 38] };

export function endMark(status) {
  if (status === "broken") return "cross";
  if (status === "pulled") return "circle";
  if (status === "merged") return "bracket";
  return "none";
}

/** Legend text of the marks. */
export const MARK_KEY = "ended: × broken · ○ pulled · ] merged";

/** Muted colours: the history never competes with the live walls. */
export function historyStyle(zone) {
  const rgb = RGB[zone.side] || RGB.bid;
  const c = (alpha) => `rgba(${rgb[0]},${rgb[1]},${rgb[2]},${alpha})`;
  return { fill: c(0.1), stroke: c(0.38), mark: c(0.95), dash: [3, 3] };
}

/** The store's zones for the live layer: those the history draws (ended, known to it) left out. */
export function liveLayerZones(storeZones, historyIds) {
  return storeZones.filter((z) => !(ENDED_STATUSES.includes(z.status) && historyIds.has(z.id)));
}

/** A zones delta that ends a zone (removed, or a status that ends it): the history is out of date. */
export function endsZones(data) {
  if (!data) return false;
  if ((data.removed || []).length) return true;
  return [...(data.added || []), ...(data.changed || [])].some((z) => ENDED_STATUSES.includes(z.status));
}

/** Seconds the zone's band spans: first seen to its end. */
export function historySpan(zone) {
  const from = zone.first_seen_ts_ms / 1000;
  const ended = zone.ended_ts_ms ?? zone.last_seen_ts_ms;
  return { from, to: Math.max(from, ended / 1000) };
}

function drawMark(ctx, kind, x, y, r, lineWidth) {
  ctx.beginPath();
  if (kind === "cross") {
    ctx.moveTo(x - r, y - r);
    ctx.lineTo(x + r, y + r);
    ctx.moveTo(x - r, y + r);
    ctx.lineTo(x + r, y - r);
  } else if (kind === "circle") {
    ctx.arc(x, y, r, 0, 2 * Math.PI);
  } else if (kind === "bracket") {
    ctx.moveTo(x - r * 0.8, y - r);
    ctx.lineTo(x, y - r);
    ctx.lineTo(x, y + r);
    ctx.lineTo(x - r * 0.8, y + r);
  }
  ctx.lineWidth = lineWidth;
  ctx.stroke();
}

export class ZoneHistoryPrimitive extends BitmapPrimitive {
  constructor(mapper) {
    super("normal");
    this.mapper = mapper;
    this.zones = [];
    this.visible = true;
    this.painted = { bands: [], width: 0, height: 0 };
  }

  setZones(zones) {
    this.zones = zones;
    this.requestUpdate();
  }

  setVisible(visible) {
    if (visible === this.visible) return;
    this.visible = visible;
    this.requestUpdate();
  }

  paint(scope) {
    const width = scope.mediaSize.width;
    const height = scope.mediaSize.height;
    const out = { bands: [], width, height };
    if (!this.visible || !this._chart || !this._series || !this.mapper.times.length) return out;
    const ctx = scope.context;
    const hr = scope.horizontalPixelRatio;
    const vr = scope.verticalPixelRatio;
    const timeScale = this._chart.timeScale();
    for (const zone of this.zones) {
      const span = historySpan(zone);
      const x1 = this.mapper.x(timeScale, span.from);
      const xEnd = this.mapper.x(timeScale, span.to);
      let y1 = this._series.priceToCoordinate(Number(zone.price_high));
      let y2 = this._series.priceToCoordinate(Number(zone.price_low));
      if (x1 === null || xEnd === null || y1 === null || y2 === null) continue;
      if (y2 - y1 < HISTORY_MIN_HEIGHT_PX) {
        const mid = (y1 + y2) / 2;
        y1 = mid - HISTORY_MIN_HEIGHT_PX / 2;
        y2 = mid + HISTORY_MIN_HEIGHT_PX / 2;
      }
      const x2 = Math.max(xEnd, x1 + HISTORY_MIN_WIDTH_PX);
      const r = Math.min(7, Math.max(4.5, (y2 - y1) / 2));
      if (x2 + r < 0 || x1 > width || y2 < 0 || y1 > height) continue;
      const style = historyStyle(zone);
      const left = Math.round(x1 * hr);
      const top = Math.round(y1 * vr);
      const w = Math.max(1, Math.round(x2 * hr) - left);
      const h = Math.max(1, Math.round(y2 * vr) - top);
      ctx.fillStyle = style.fill;
      ctx.fillRect(left, top, w, h);
      ctx.save();
      ctx.strokeStyle = style.stroke;
      ctx.lineWidth = Math.max(1, Math.round(hr));
      ctx.setLineDash(style.dash.map((d) => d * hr));
      ctx.strokeRect(left + 0.5, top + 0.5, w - 1, h - 1);
      ctx.restore();
      const mark = endMark(zone.status);
      const cy = (y1 + y2) / 2;
      // a dark halo under the mark: readable over a bright heatmap
      ctx.strokeStyle = "rgba(13,17,23,0.9)";
      drawMark(ctx, mark, x2 * hr, cy * vr, r * hr, Math.max(3.5, 3.5 * hr));
      ctx.strokeStyle = style.mark;
      drawMark(ctx, mark, x2 * hr, cy * vr, r * hr, Math.max(1.5, 1.5 * hr));
      out.bands.push({ id: zone.id, kind: "zone-ended", side: zone.side, status: zone.status, mark,
        x1, x2, y1, y2, markX: x2, markY: cy, markR: r });
    }
    return out;
  }

  /** The ended zone under (x, y) (its band or its mark), newest drawn first. */
  itemAt(x, y) {
    const bands = this.painted.bands;
    for (let i = bands.length - 1; i >= 0; i -= 1) {
      const b = bands[i];
      const onBand = x >= b.x1 && x <= b.x2 && y >= b.y1 && y <= b.y2;
      const onMark = Math.abs(x - b.markX) <= b.markR + 2 && Math.abs(y - b.markY) <= b.markR + 2;
      if (onBand || onMark) {
        const zone = this.zones.find((z) => z.id === b.id);
        if (zone) return { ...zone, kind: "zone-ended" };
      }
    }
    return null;
  }

  hitTest(x, y) {
    const item = this.itemAt(x, y);
    if (!item) return null;
    return { externalId: item.id, zOrder: "normal", isBackground: true, cursorStyle: "help" };
  }
}
