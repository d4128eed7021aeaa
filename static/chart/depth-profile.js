// The depth profile: the current book on the heatmap grid as a horizontal histogram at the right
// edge of the pane (bids blue, asks orange, bar length = the bin's resting quantity over the
// largest bin's), aligned with the price axis, updated by every `depth` push; grey when the
// profile is not live (the push says so, or the page's headline is not live).

import { BitmapPrimitive } from "./bitmap-primitive.js";

export const PROFILE_MIN_PX = 36;
export const PROFILE_MAX_PX = 110;
export const PROFILE_SHARE = 0.1; // of the pane's width

const COLORS = {
  bid: "rgba(41,182,246,0.62)",
  ask: "rgba(255,167,38,0.62)",
  grey: "rgba(139,148,158,0.4)",
};

/** The profile's width in CSS px for a pane `width` px wide (0 when there is no profile). */
export function profileWidth(width) {
  return Math.round(Math.min(PROFILE_MAX_PX, Math.max(PROFILE_MIN_PX, width * PROFILE_SHARE)));
}

/** Bars of a depth document ({bin_size, bid_from, bid_qty, ask_from, ask_qty}): one per bin that
 * holds something, {side, low, high, qty}, and the largest quantity. */
export function profileBars(depth) {
  const bars = [];
  let max = 0;
  if (!depth) return { bars, max };
  const bs = Number(depth.bin_size);
  for (const side of ["bid", "ask"]) {
    const from = depth[`${side}_from`];
    const qty = depth[`${side}_qty`] || [];
    if (from === null || from === undefined || !(bs > 0)) continue;
    const first = Math.round(Number(from) / bs);
    qty.forEach((q, i) => {
      const value = Number(q);
      if (q === null || !Number.isFinite(value) || value <= 0) return;
      bars.push({ side, low: (first + i) * bs, high: (first + i + 1) * bs, qty: value });
      max = Math.max(max, value);
    });
  }
  return { bars, max };
}

/** Grey unless both the profile and the page's headline are live. */
export function profileGrey(depth, headlineLive) {
  return !headlineLive || !depth || depth.live !== true;
}

export class DepthProfilePrimitive extends BitmapPrimitive {
  constructor() {
    super("normal");
    this.depth = null;
    this.headlineLive = false;
    this.visible = true;
    this.painted = { bars: [], width: 0, height: 0, profileWidth: 0, grey: true, max: 0 };
  }

  setDepth(depth) {
    this.depth = depth;
    this.requestUpdate();
  }

  setLive(live) {
    if (live === this.headlineLive) return;
    this.headlineLive = live;
    this.requestUpdate();
  }

  setVisible(visible) {
    this.visible = visible;
    this.requestUpdate();
  }

  /** Room the profile takes at the right edge (wall labels keep out of it). */
  inset(width) {
    return this.visible && this.depth ? profileWidth(width) + 4 : 0;
  }

  paint(scope) {
    const width = scope.mediaSize.width;
    const height = scope.mediaSize.height;
    const grey = profileGrey(this.depth, this.headlineLive);
    const out = { bars: [], width, height, profileWidth: 0, grey, max: 0, live: this.depth ? this.depth.live : null,
      time: this.depth ? this.depth.time : null };
    if (!this.visible || !this.depth || !this._series) return out;
    const { bars, max } = profileBars(this.depth);
    if (!bars.length) return out;
    const ctx = scope.context;
    const hr = scope.horizontalPixelRatio;
    const vr = scope.verticalPixelRatio;
    const room = profileWidth(width);
    out.profileWidth = room;
    out.max = max;
    const right = Math.round(width * hr);
    // a faint backdrop: the profile reads as its own scale, not as part of the candles
    ctx.fillStyle = "rgba(13,17,23,0.55)";
    ctx.fillRect(right - Math.round(room * hr), 0, Math.round(room * hr), Math.round(height * vr));
    for (const bar of bars) {
      const y1 = this._series.priceToCoordinate(bar.high);
      const y2 = this._series.priceToCoordinate(bar.low);
      if (y1 === null || y2 === null || y2 < 0 || y1 > height) continue;
      const length = Math.max(1, (bar.qty / max) * room);
      const top = Math.round(y1 * vr);
      let bottom = Math.round(y2 * vr);
      if (bottom - top >= 4 * vr) bottom -= Math.round(vr); // a hairline between neighbouring bars
      ctx.fillStyle = grey ? COLORS.grey : COLORS[bar.side];
      ctx.fillRect(right - Math.round(length * hr), top, Math.round(length * hr), Math.max(1, bottom - top));
      out.bars.push({ ...bar, x1: width - length, x2: width, y1, y2 });
    }
    ctx.font = `${Math.round(10 * vr)}px system-ui, sans-serif`;
    ctx.textBaseline = "top";
    ctx.textAlign = "right";
    ctx.fillStyle = grey ? "rgba(139,148,158,0.8)" : "rgba(201,209,217,0.8)";
    ctx.fillText(grey ? "depth (not live)" : "depth", right - Math.round(3 * hr), Math.round(4 * vr));
    return out;
  }

  /** The bar under (x, y), for the tooltip. */
  itemAt(x, y) {
    for (const bar of this.painted.bars) {
      if (x >= this.painted.width - this.painted.profileWidth && x <= bar.x2 && y >= bar.y1 && y <= bar.y2) {
        return { kind: "depth-bin", id: `depth:${bar.side}:${bar.low}`, ...bar, grey: this.painted.grey,
          time: this.painted.time, max: this.painted.max };
      }
    }
    return null;
  }
}
