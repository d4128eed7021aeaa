// The heatmap layer: a series primitive (zOrder "bottom": under the grid, the bands and the
// candles) that paints the columns of HeatmapData.
//
// The picture is built once per data or scale change into an offscreen canvas, one pixel per cell
// (heatmap-data.js buildImage); each frame then draws it with drawImage, one call per run of cells
// of the same width (one run unless the candles have gaps), nearest-neighbour scaled to the chart's
// time and price coordinates. Per-cell fillRect on every frame is kept as mode "cells", only for the
// benchmark's comparison (bench/page_heatmap.py).

import { buildImage, cellGrid, cellSides, cellTotal, columnAt } from "./heatmap-data.js";
import { intensity, rampLut } from "./heatmap-scale.js";
import { BitmapPrimitive } from "./bitmap-primitive.js";

const LUT = rampLut(256);
const STATS_KEPT = 600;

/** Time (seconds) of a fractional logical index: the inverse of TimeMapper.toLogical. */
export function timeOfLogical(mapper, logical) {
  const ts = mapper.times;
  const n = ts.length;
  if (n === 0) return null;
  if (logical >= n - 1) return ts[n - 1] + (logical - (n - 1)) * mapper.intervalS;
  if (logical <= 0) return ts[0] + logical * mapper.intervalS;
  const i = Math.floor(logical);
  return ts[i] + (logical - i) * (ts[i + 1] - ts[i]);
}

function makeCanvas(width, height) {
  if (typeof OffscreenCanvas !== "undefined") return new OffscreenCanvas(width, height);
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  return canvas;
}

function pushStat(list, value) {
  list.push(value);
  if (list.length > STATS_KEPT) list.splice(0, list.length - STATS_KEPT);
}

export class HeatmapPrimitive extends BitmapPrimitive {
  constructor(data, mapper) {
    super("bottom");
    this.data = data;
    this.mapper = mapper;
    this.visible = true;
    this.mode = "image"; // "cells": per-cell fillRect each frame (benchmark baseline only)
    this.scale = null;
    this.image = null; // {t0, resolution, width, height, lo, hi, pixels, canvas}
    this.grid = null; // every cell's quantity (heatmap-data.js cellGrid), per data version
    this._gridOf = { version: -1, resolution: null };
    this._built = { version: -1, scale: null, resolution: null };
    this.painted = { drawn: false };
    this.drawCount = 0;
    this.stats = { drawMs: [], buildMs: [] };
  }

  drawScope(scope) {
    const started = performance.now();
    const painted = this.paint(scope);
    painted.ms = performance.now() - started;
    this.painted = painted;
    if (painted.drawn) pushStat(this.stats.drawMs, painted.ms);
    this.drawCount += 1;
  }

  setVisible(visible) {
    this.visible = visible;
    if (visible) this.refresh();
    this.requestUpdate();
  }

  setMode(mode) {
    this.mode = mode;
    this.requestUpdate();
  }

  setScale(scale) {
    this.scale = scale;
    this.refresh();
  }

  /** The cells' grid for the current data (rebuilt when the data or the resolution changed). */
  ensureGrid() {
    const data = this.data;
    if (this._gridOf.version !== data.version || this._gridOf.resolution !== data.resolution) {
      this.grid = data.resolution === null ? null : cellGrid(data.columns(), data.resolution);
      this._gridOf = { version: data.version, resolution: data.resolution };
    }
    return this.grid;
  }

  /** Rebuilds the picture when the data, the scale or the resolution changed since the last one
   * (not while hidden: switching it on builds it). */
  refresh() {
    const data = this.data;
    const built = this._built;
    if (!this.visible) return;
    if (built.version === data.version && built.scale === this.scale && built.resolution === data.resolution) return;
    const started = performance.now();
    const image = buildImage(this.ensureGrid(), this.scale, LUT);
    if (image) {
      image.canvas = makeCanvas(image.width, image.height);
      image.canvas.getContext("2d").putImageData(new ImageData(image.pixels, image.width, image.height), 0, 0);
    }
    this.image = image;
    this._built = { version: data.version, scale: this.scale, resolution: data.resolution };
    pushStat(this.stats.buildMs, performance.now() - started);
    this.requestUpdate();
  }

  /** The chart's visible time (seconds) and price range, or null before the chart has bars. */
  view() {
    if (!this._chart || !this._series) return null;
    const size = this._chart.paneSize();
    const axis = this._axis();
    if (!axis || !size.height || !size.width || !this.mapper.times.length) return null;
    const from = timeOfLogical(this.mapper, (0 - axis.x0) / axis.dx);
    const to = timeOfLogical(this.mapper, (size.width - axis.x0) / axis.dx);
    const high = this._series.coordinateToPrice(0);
    const low = this._series.coordinateToPrice(size.height);
    if (from === null || high === null || low === null) return null;
    return { from, to, low, high, width: size.width, secondsPerPx: this.mapper.intervalS / axis.dx };
  }

  /** x (CSS px) = x0 + logical * dx: the chart's coordinates are affine in the logical index (two
   * integer indexes give it; getVisibleLogicalRange would cut half a bar off each side). */
  _axis() {
    const timeScale = this._chart.timeScale();
    const x0 = timeScale.logicalToCoordinate(0);
    const x1 = timeScale.logicalToCoordinate(1);
    if (x0 === null || x1 === null || !(x1 > x0)) return null;
    return { x0, dx: x1 - x0 };
  }

  paint(scope) {
    const width = scope.mediaSize.width;
    const height = scope.mediaSize.height;
    const image = this.image;
    const base = { drawn: false, width, height, mode: this.mode, visible: this.visible };
    if (!this.visible || !image || !this._chart || !this._series || !this.mapper.times.length) return base;
    const axis = this._axis();
    if (!axis) return base;
    const series = this._series;
    const bs = this.data.binSize;
    const R = image.resolution;
    // the cells in view, one slot more on each side
    const tFrom = timeOfLogical(this.mapper, (0 - axis.x0) / axis.dx) - R;
    const tTo = timeOfLogical(this.mapper, (width - axis.x0) / axis.dx) + R;
    const i0 = Math.max(0, Math.floor((tFrom - image.t0) / R));
    const i1 = Math.min(image.width, Math.ceil((tTo - image.t0) / R));
    const priceTop = series.coordinateToPrice(0);
    const priceBottom = series.coordinateToPrice(height);
    if (i1 <= i0 || priceTop === null || priceBottom === null) return base;
    const kTop = Math.min(image.hi, Math.ceil(priceTop / bs) + 1); // exclusive
    const kBottom = Math.max(image.lo, Math.floor(priceBottom / bs) - 1);
    if (kTop <= kBottom) return base;
    const yTop = series.priceToCoordinate(kTop * bs);
    const yBottom = series.priceToCoordinate(kBottom * bs);
    if (yTop === null || yBottom === null) return base;
    const xs = new Float64Array(i1 - i0 + 1);
    for (let i = i0; i <= i1; i += 1) {
      xs[i - i0] = axis.x0 + this.mapper.toLogical(image.t0 + i * R) * axis.dx;
    }
    const ctx = scope.context;
    const hr = scope.horizontalPixelRatio;
    const vr = scope.verticalPixelRatio;
    const top = Math.round(yTop * vr);
    const bottom = Math.round(yBottom * vr);
    const rowFrom = image.hi - kTop;
    const rows = kTop - kBottom;
    let calls = 0;
    let runs = 0;
    if (this.mode === "cells") {
      calls = this._paintCells(ctx, image, xs, i0, i1, kBottom, kTop, hr, vr);
    } else {
      ctx.save();
      ctx.imageSmoothingEnabled = false;
      let start = 0;
      const last = i1 - i0;
      for (let j = 1; j <= last; j += 1) {
        const runWidth = xs[start + 1] - xs[start];
        const split = j === last || Math.abs(xs[j + 1] - xs[j] - runWidth) > 1e-3 * Math.max(1, Math.abs(runWidth));
        if (!split) continue;
        const left = Math.round(xs[start] * hr);
        const right = Math.round(xs[j] * hr);
        if (right > left) {
          ctx.drawImage(image.canvas, i0 + start, rowFrom, j - start, rows, left, top, right - left, bottom - top);
          calls += 1;
        }
        runs += 1;
        start = j;
      }
      ctx.restore();
    }
    return {
      ...base,
      drawn: true,
      resolution: R,
      scale: this.scale,
      t0: image.t0,
      slots: [i0, i1],
      bins: [kBottom, kTop],
      x: [xs[0], xs[xs.length - 1]],
      y: [yTop, yBottom],
      runs,
      calls,
    };
  }

  _paintCells(ctx, image, xs, i0, i1, kBottom, kTop, hr, vr) {
    let calls = 0;
    const series = this._series;
    const bs = this.data.binSize;
    const ys = [];
    for (let k = kBottom; k <= kTop; k += 1) ys.push(Math.round(series.priceToCoordinate(k * bs) * vr));
    for (let i = i0; i < i1; i += 1) {
      const left = Math.round(xs[i - i0] * hr);
      const right = Math.round(xs[i - i0 + 1] * hr);
      for (let k = kBottom; k < kTop; k += 1) {
        const at = ((image.hi - 1 - k) * image.width + i) * 4;
        const a = image.pixels[at + 3];
        if (a === 0) continue;
        const px = image.pixels;
        ctx.fillStyle = `rgba(${px[at]},${px[at + 1]},${px[at + 2]},${(a / 255).toFixed(3)})`;
        ctx.fillRect(left, ys[k + 1 - kBottom], right - left, ys[k - kBottom] - ys[k + 1 - kBottom]);
        calls += 1;
      }
    }
    return calls;
  }

  /** The cell at time t and price: its data, the colour it was given and its centre on the chart. */
  sample(t, price) {
    const R = this.data.resolution;
    if (R === null) return null;
    const column = columnAt(this.data.columns(), R, t);
    if (!column) return null;
    const bs = this.data.binSize;
    const k = Math.floor(Number(price) / bs);
    const value = cellTotal(column, k);
    const out = {
      t: column.t,
      resolution: R,
      bin: k,
      low: k * bs,
      high: (k + 1) * bs,
      value: Number.isNaN(value) ? null : value,
      intensity: intensity(Number.isNaN(value) ? null : value, this.scale),
      rgba: null,
      x: null,
      y: null,
      ...cellSides(column, k),
    };
    const image = this.image;
    if (image && k >= image.lo && k < image.hi) {
      const i = Math.round((column.t - image.t0) / R);
      const at = ((image.hi - 1 - k) * image.width + i) * 4;
      out.rgba = Array.from(image.pixels.slice(at, at + 4));
    }
    if (this._chart && this._series) {
      out.x = this.mapper.x(this._chart.timeScale(), column.t + R / 2);
      out.y = this._series.priceToCoordinate((k + 0.5) * bs);
    }
    return out;
  }

  /** The cell under (x, y) in CSS pixels, for the tooltip; null where nothing was observed. */
  cellAt(x, y) {
    if (!this.visible || !this.painted.drawn || !this._chart || !this._series) return null;
    const axis = this._axis();
    const price = this._series.coordinateToPrice(y);
    if (!axis || price === null) return null;
    const t = timeOfLogical(this.mapper, (x - axis.x0) / axis.dx);
    if (t === null) return null;
    const cell = this.sample(t, price);
    if (!cell || (cell.bid === null && cell.ask === null)) return null;
    return { kind: "heatmap-cell", id: `heat:${cell.t}:${cell.bin}`, ...cell };
  }
}
