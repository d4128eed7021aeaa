// The page's heatmap columns: parsing, aggregation, which request to make next, and the picture's
// pixels. Pure (no DOM, no fetch), tested under node (tests/web/js).
//
// Where the columns come from:
// - "slots": complete cells at the chart's resolution R from GET /api/heatmap (the server
//   aggregates its HEATMAP_COLUMN_S columns: means weighted by live cycles over the columns that
//   observed the bin, max of maxima). Only slots that ended EDGE_MARGIN_S before the request are
//   asked for, so a slot never misses a column the server had not stored yet;
// - "subs": the newest columns at HEATMAP_COLUMN_S, from one "tail" request (from the start of the
//   current slot) and then the `heatmap` pushes; keyed by their start, so a push and the tail
//   answer holding the same column count once. The cells after the slots are aggregated from them
//   exactly as the server would.
// A bin absent from a column (outside the band or the trusted window) is NaN here and is drawn as
// nothing; it never counts as 0.

import { PERCENTILE, selectKth } from "./heatmap-scale.js";

export const EDGE_MARGIN_S = 10;
export const FETCH_MARGIN = 0.5; // fetch half a view more on each side: a short pan needs nothing
export const MAX_SUBS = 4000;
export const MAX_SLOTS = 6000; // a page panned across days keeps at most this many cells
export const MAX_IMAGE_PIXELS = 8_000_000;

function side(from, qty, max, binSize) {
  const n = qty ? qty.length : 0;
  const mean = new Float64Array(n);
  const peak = new Float64Array(n);
  for (let i = 0; i < n; i += 1) {
    mean[i] = qty[i] === null || qty[i] === undefined ? NaN : Number(qty[i]);
    const m = max ? max[i] : null;
    peak[i] = m === null || m === undefined ? NaN : Number(m);
  }
  const first = from === null || from === undefined || n === 0 ? 0 : Math.round(Number(from) / binSize);
  return { first, mean, max: peak };
}

/** One column of /api/heatmap (or of a `heatmap` push) with bin indexes instead of prices. */
export function parseColumn(raw, binSize) {
  return {
    t: raw.t,
    cycles: raw.live_cycles,
    bid: side(raw.bid_from, raw.bid_qty, raw.bid_max, binSize),
    ask: side(raw.ask_from, raw.ask_qty, raw.ask_max, binSize),
  };
}

function aggregateSide(columns, key) {
  let lo = Infinity;
  let hi = -Infinity;
  for (const c of columns) {
    const s = c[key];
    if (s.mean.length === 0) continue;
    lo = Math.min(lo, s.first);
    hi = Math.max(hi, s.first + s.mean.length);
  }
  if (lo === Infinity) return { first: 0, mean: new Float64Array(0), max: new Float64Array(0) };
  const n = hi - lo;
  const weighted = new Float64Array(n);
  const weight = new Float64Array(n);
  const peak = new Float64Array(n).fill(NaN);
  for (const c of columns) {
    const s = c[key];
    const w = c.cycles;
    for (let i = 0; i < s.mean.length; i += 1) {
      const at = s.first - lo + i;
      if (!Number.isNaN(s.mean[i])) {
        weighted[at] += w * s.mean[i];
        weight[at] += w;
      }
      if (!Number.isNaN(s.max[i]) && !(peak[at] >= s.max[i])) peak[at] = s.max[i];
    }
  }
  const mean = new Float64Array(n);
  for (let i = 0; i < n; i += 1) mean[i] = weight[i] > 0 ? weighted[i] / weight[i] : NaN;
  return { first: lo, mean, max: peak };
}

/** Columns merged into one cell starting at `t`, as the server aggregates them. */
export function aggregateColumns(columns, t) {
  return {
    t,
    cycles: columns.reduce((sum, c) => sum + c.cycles, 0),
    bid: aggregateSide(columns, "bid"),
    ask: aggregateSide(columns, "ask"),
  };
}

/** Resting quantity of bin `k` in a column (bids + asks), NaN when neither side observed it. */
export function cellTotal(column, k) {
  const b = column.bid;
  const a = column.ask;
  const bi = k - b.first;
  const ai = k - a.first;
  const bv = bi >= 0 && bi < b.mean.length ? b.mean[bi] : NaN;
  const av = ai >= 0 && ai < a.mean.length ? a.mean[ai] : NaN;
  if (Number.isNaN(bv)) return av;
  if (Number.isNaN(av)) return bv;
  return bv + av;
}

/** {bid: {mean, max}|null, ask: {mean, max}|null} of bin `k`. */
export function cellSides(column, k) {
  const pick = (s) => {
    const i = k - s.first;
    if (i < 0 || i >= s.mean.length || (Number.isNaN(s.mean[i]) && Number.isNaN(s.max[i]))) return null;
    return { mean: s.mean[i], max: s.max[i] };
  };
  return { bid: pick(column.bid), ask: pick(column.ask) };
}

function binRange(column) {
  let lo = Infinity;
  let hi = -Infinity;
  for (const s of [column.bid, column.ask]) {
    if (s.mean.length === 0) continue;
    lo = Math.min(lo, s.first);
    hi = Math.max(hi, s.first + s.mean.length);
  }
  return [lo, hi];
}

export class HeatmapData {
  constructor({ columnS, binSize }) {
    this.columnS = columnS;
    this.binSize = binSize;
    this.resolution = null;
    this.slots = new Map(); // slot start -> column (complete, from REST at `resolution`)
    this.restFrom = null; // the seconds the slots' requests covered, inclusive
    this.restTo = null;
    this.subs = new Map(); // column start -> column at columnS (tail request + pushes)
    this.tailFrom = null; // subs are complete from here on (a tail request answered)
    this.version = 0;
    this._columns = null;
    this._columnsVersion = -1;
  }

  slotOf(t) {
    return Math.floor(t / this.resolution) * this.resolution;
  }

  /** Another resolution drops the slots (the subs stay: they are at HEATMAP_COLUMN_S). */
  setResolution(resolution) {
    if (resolution === this.resolution) return false;
    this.resolution = resolution;
    this.slots.clear();
    this.restFrom = null;
    this.restTo = null;
    this.version += 1;
    return true;
  }

  /** An answer of GET /api/heatmap for [from, to] at the current resolution. */
  addSlots(answer, from, to) {
    if (answer.resolution_s !== this.resolution) return false; // asked before a zoom: stale
    const joins = this.restFrom !== null && from <= this.restTo + 1 && to >= this.restFrom - 1;
    if (!joins) {
      this.slots.clear();
      this.restFrom = from;
      this.restTo = to;
    } else {
      this.restFrom = Math.min(this.restFrom, from);
      this.restTo = Math.max(this.restTo, to);
    }
    for (const raw of answer.columns || []) this.slots.set(raw.t, parseColumn(raw, this.binSize));
    this._trimSlots(from);
    this.version += 1;
    return true;
  }

  /** Over MAX_SLOTS: the cells at the far end from the newest request are dropped (and no longer
   * count as held). */
  _trimSlots(from) {
    const excess = this.slots.size - MAX_SLOTS;
    if (excess <= 0) return;
    const keys = [...this.slots.keys()].sort((a, b) => a - b);
    const extendedLeft = from <= this.restFrom;
    const drop = extendedLeft ? keys.slice(keys.length - excess) : keys.slice(0, excess);
    for (const t of drop) this.slots.delete(t);
    if (extendedLeft) this.restTo = Math.min(this.restTo, drop[0] - 1);
    else this.restFrom = Math.max(this.restFrom, drop[drop.length - 1] + this.resolution);
  }

  /**
   * Periods that ended (EDGE_MARGIN_S before `nowS`) and are wholly held as columns right after the
   * slots become slots themselves, and their columns are dropped: a page left open for days holds
   * the current period's columns only, not every column pushed since it opened.
   */
  promote(nowS) {
    const R = this.resolution;
    if (R === null || this.restTo === null || this.tailFrom === null || this.tailFrom > this.restTo + 1) return 0;
    const edge = Math.floor((nowS - EDGE_MARGIN_S) / R) * R;
    if (edge <= this.restTo + 1) return 0;
    const groups = new Map();
    for (const [t, column] of this.subs) {
      if (t >= edge) continue;
      const slot = this.slotOf(t);
      if (slot > this.restTo) {
        if (!groups.has(slot)) groups.set(slot, []);
        groups.get(slot).push(column);
      }
      this.subs.delete(t);
    }
    for (const [slot, group] of groups) this.slots.set(slot, aggregateColumns(group, slot));
    this.restTo = edge - 1;
    this.tailFrom = Math.max(this.tailFrom, edge);
    this._trimSlots(this.restTo);
    this.version += 1;
    return groups.size;
  }

  /** Columns at HEATMAP_COLUMN_S (the tail answer, a push); `from` set: complete from there on. */
  addSubs(rawColumns, from = null) {
    for (const raw of rawColumns) this.subs.set(raw.t, parseColumn(raw, this.binSize));
    if (from !== null) this.tailFrom = this.tailFrom === null ? from : Math.min(this.tailFrom, from);
    if (this.subs.size > MAX_SUBS) {
      const keys = [...this.subs.keys()].sort((a, b) => a - b);
      for (const t of keys.slice(0, keys.length - MAX_SUBS)) this.subs.delete(t);
      this.tailFrom = Math.max(this.tailFrom ?? -Infinity, keys[keys.length - MAX_SUBS]);
    }
    this.version += 1;
  }

  /** Pushes may have been lost (a resync): the tail is asked for again. */
  invalidateTail() {
    this.tailFrom = null;
    this.version += 1;
  }

  /** Every cell at the current resolution, oldest first (slots, then cells made of subs). */
  columns() {
    if (this._columnsVersion === this.version) return this._columns;
    const out = new Map(this.slots);
    if (this.resolution !== null) {
      const groups = new Map();
      for (const [t, column] of this.subs) {
        const slot = this.slotOf(t);
        if (this.slots.has(slot) || (this.restFrom !== null && slot >= this.restFrom && slot + this.resolution - 1 <= this.restTo)) continue;
        if (!groups.has(slot)) groups.set(slot, []);
        groups.get(slot).push(column);
      }
      for (const [slot, group] of groups) out.set(slot, aggregateColumns(group, slot));
    }
    this._columns = [...out.values()].sort((a, b) => a.t - b.t);
    this._columnsVersion = this.version;
    return this._columns;
  }
}

/**
 * The next request for a view of [viewFrom, viewTo] (seconds) at resolution R, or null when
 * everything the view needs is held or asked for:
 *   {kind: "slots", from, to, resolution: R}   complete slots, slot-aligned, ending before the edge
 *   {kind: "tail", from, to, resolution: columnS}   the current slot's columns, up to now
 * The view is widened by FETCH_MARGIN on both sides and clipped to [now - retention, now]; only the
 * part not yet covered is asked for (one side at a time).
 */
export function planFetch({ viewFrom, viewTo, nowS, retentionS, columnS, resolution, held }) {
  const R = resolution;
  const span = Math.max(viewTo - viewFrom, R);
  const lo = Math.max(viewFrom - span * FETCH_MARGIN, nowS - retentionS);
  const hi = Math.min(viewTo + span * FETCH_MARGIN, nowS);
  if (!(hi >= lo)) return null;
  const edge = Math.floor((nowS - EDGE_MARGIN_S) / R) * R; // the first slot not complete yet
  const wantFrom = Math.floor(lo / R) * R;
  const wantTo = Math.min(Math.floor(hi / R) * R + R, edge) - 1;
  const tailJoins = held.tailFrom !== null && held.restTo !== null && held.tailFrom <= held.restTo + 1;
  const restTo = tailJoins ? Infinity : held.restTo;
  if (wantTo >= wantFrom) {
    const slots = (from, to) => ({ kind: "slots", from, to, resolution: R });
    if (held.restFrom === null || wantTo < held.restFrom - 1 || wantFrom > restTo + 1) return slots(wantFrom, wantTo);
    if (wantFrom < held.restFrom) return slots(wantFrom, held.restFrom - 1);
    if (wantTo > restTo) return slots(restTo + 1, wantTo);
  }
  if (hi >= edge && (held.tailFrom === null || held.tailFrom > edge)) {
    const to = held.tailFrom === null ? Math.floor(nowS) : held.tailFrom - 1;
    return { kind: "tail", from: edge, to, resolution: columnS };
  }
  return null;
}

/**
 * Every cell's resting quantity (bids + asks) on one grid: column i = slot t0 + i * resolution, row 0
 * = the highest bin (bin hi - 1); NaN for absent bins and missing slots. Built once per data change;
 * the colour scale and the picture are read from it in flat loops (a 7-day view: ~160,000 cells).
 * Null when there is nothing (or an absurd amount) to draw.
 */
export function cellGrid(columns, resolution) {
  if (!columns.length) return null;
  let lo = Infinity;
  let hi = -Infinity;
  for (const c of columns) {
    const [a, b] = binRange(c);
    lo = Math.min(lo, a);
    hi = Math.max(hi, b);
  }
  if (lo === Infinity) return null;
  const t0 = columns[0].t;
  const width = Math.round((columns[columns.length - 1].t - t0) / resolution) + 1;
  const height = hi - lo;
  if (width * height > MAX_IMAGE_PIXELS) return null;
  const values = new Float32Array(width * height).fill(NaN);
  for (const c of columns) {
    const x = Math.round((c.t - t0) / resolution);
    for (const side of [c.bid, c.ask]) {
      const mean = side.mean;
      let at = (hi - 1 - side.first) * width + x;
      for (let i = 0; i < mean.length; i += 1, at -= width) {
        const v = mean[i];
        if (v !== v) continue; // NaN: not observed
        const old = values[at];
        values[at] = old === old ? old + v : v;
      }
    }
  }
  return { t0, resolution, width, height, lo, hi, values };
}

/** PERCENTILE of the observed cells of `grid` in the time range [from, to] and price range [low, high]. */
export function gridScale(grid, binSize, { from, to, low, high }, p = PERCENTILE) {
  if (!grid) return { scale: null, cells: 0 };
  const x0 = Math.max(0, Math.floor((from - grid.t0) / grid.resolution));
  const x1 = Math.min(grid.width - 1, Math.floor((to - grid.t0) / grid.resolution));
  const kLow = Math.max(grid.lo, Math.floor(low / binSize));
  const kHigh = Math.min(grid.hi - 1, Math.floor(high / binSize));
  if (x1 < x0 || kHigh < kLow) return { scale: null, cells: 0 };
  const found = new Float64Array((x1 - x0 + 1) * (kHigh - kLow + 1));
  let n = 0;
  for (let row = grid.hi - 1 - kHigh; row <= grid.hi - 1 - kLow; row += 1) {
    const base = row * grid.width;
    for (let x = x0; x <= x1; x += 1) {
      const v = grid.values[base + x];
      if (v === v) {
        found[n] = v;
        n += 1;
      }
    }
  }
  if (n === 0) return { scale: null, cells: 0 };
  const k = Math.min(n - 1, Math.max(0, Math.ceil(p * n) - 1));
  return { scale: selectKth(found.subarray(0, n), k), cells: n };
}

/** PERCENTILE of the observed cells in view, from the columns (see gridScale). */
export function visibleScale(columns, resolution, binSize, view, p = PERCENTILE) {
  return gridScale(cellGrid(columns, resolution), binSize, view, p);
}

/**
 * The picture of a grid: one RGBA pixel per cell from `lut` (rampLut: index = intensity * (n - 1),
 * intensity = quantity / scale, clamped), alpha 0 for absent bins and missing slots.
 */
export function buildImage(grid, scale, lut) {
  if (!grid) return null;
  const { values } = grid;
  const pixels = new Uint8ClampedArray(values.length * 4);
  const levels = lut.length / 4 - 1;
  const factor = scale > 0 ? levels / scale : null;
  for (let at = 0; at < values.length; at += 1) {
    const v = values[at];
    if (v !== v) continue;
    const level = factor === null ? (v > 0 ? levels : 0) : Math.min(levels, Math.max(0, Math.round(v * factor)));
    const from = level * 4;
    const to = at * 4;
    pixels[to] = lut[from];
    pixels[to + 1] = lut[from + 1];
    pixels[to + 2] = lut[from + 2];
    pixels[to + 3] = lut[from + 3];
  }
  return { t0: grid.t0, resolution: grid.resolution, width: grid.width, height: grid.height, lo: grid.lo, hi: grid.hi,
    pixels };
}

/** The column holding time `t` (binary search over columns sorted by t), or null. */
export function columnAt(columns, resolution, t) {
  let lo = 0;
  let hi = columns.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const c = columns[mid];
    if (t < c.t) hi = mid - 1;
    else if (t >= c.t + resolution) lo = mid + 1;
    else return c;
  }
  return null;
}
