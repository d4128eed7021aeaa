// Heatmap scale and colour rules: pure, tested under node (tests/web/js).
//
// - intensity: a cell's resting quantity over a robust top of the visible data, the PERCENTILE
//   (98th) of its observed (non-null) cells, so one huge wall does not turn everything else cold;
//   cells above it saturate. Absent (null) bins have no intensity: they are drawn as nothing;
// - the colour ramp runs from transparent (nothing resting) through dim indigo and violet to
//   amber and yellow; its alpha tops out at RAMP_MAX_ALPHA so candles and wicks stay readable over it,
//   and its brightness over the page background never decreases with the quantity;
// - the resolution of a heatmap request follows the chart's zoom: the smallest usual step (a
//   multiple of HEATMAP_COLUMN_S) whose cells are at least TARGET_COLUMN_PX wide, at most one bar.

export const PERCENTILE = 0.98;
export const TARGET_COLUMN_PX = 2;
export const RAMP_MAX_ALPHA = 0.6;
export const PAGE_BACKGROUND = [13, 17, 23];
export const NICE_STEPS_S = [
  1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 21600, 43200, 86400, 604800,
];

// intensity -> colour; alpha grows with the intensity (a near-empty bin barely tints the chart)
export const RAMP = [
  { at: 0.0, rgb: [24, 20, 72], alpha: 0.0 },
  { at: 0.12, rgb: [40, 32, 120], alpha: 0.2 },
  { at: 0.35, rgb: [92, 44, 160], alpha: 0.34 },
  { at: 0.6, rgb: [190, 60, 128], alpha: 0.44 },
  { at: 0.82, rgb: [240, 140, 60], alpha: 0.52 },
  { at: 1.0, rgb: [252, 218, 120], alpha: RAMP_MAX_ALPHA },
];

function swap(a, i, j) {
  const t = a[i];
  a[i] = a[j];
  a[j] = t;
}

/** Rearranges `a` (a typed array) so that a[k] is the k-th smallest (Hoare's selection). */
export function selectKth(a, k) {
  let lo = 0;
  let hi = a.length - 1;
  while (hi > lo) {
    const mid = (lo + hi) >> 1; // median of three as the pivot: sorted or constant runs stay linear
    if (a[mid] < a[lo]) swap(a, mid, lo);
    if (a[hi] < a[lo]) swap(a, hi, lo);
    if (a[hi] < a[mid]) swap(a, hi, mid);
    const pivot = a[mid];
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i] < pivot) i += 1;
      while (a[j] > pivot) j -= 1;
      if (i <= j) {
        swap(a, i, j);
        i += 1;
        j -= 1;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return a[k];
  }
  return a[k];
}

/** The p-quantile (0..1, nearest rank) of the finite numbers in `values`; null when there are none.
 * Linear time (selection, no sort): a 7-day view holds ~100,000 cells. */
export function percentile(values, p) {
  const finite = new Float64Array(values.length);
  let n = 0;
  for (const v of values) {
    if (v !== null && Number.isFinite(v)) {
      finite[n] = v;
      n += 1;
    }
  }
  if (n === 0) return null;
  const k = Math.min(n - 1, Math.max(0, Math.ceil(p * n) - 1));
  return selectKth(finite.subarray(0, n), k);
}

/** 0..1 for a quantity against the scale (the visible data's PERCENTILE), linear: a bin at half the
 * scale is drawn at the middle of the ramp; null for an absent bin. */
export function intensity(value, scale) {
  if (value === null || value === undefined || !Number.isFinite(value)) return null;
  if (!(scale > 0)) return value > 0 ? 1 : 0;
  return Math.min(1, Math.max(0, value / scale));
}

/** [r, g, b, alpha 0..1] of the ramp at x (0..1). */
export function rampColor(x) {
  const v = Math.min(1, Math.max(0, x));
  let i = 1;
  while (i < RAMP.length - 1 && RAMP[i].at < v) i += 1;
  const a = RAMP[i - 1];
  const b = RAMP[i];
  const f = b.at === a.at ? 0 : (v - a.at) / (b.at - a.at);
  const mix = (p, q) => p + (q - p) * f;
  return [mix(a.rgb[0], b.rgb[0]), mix(a.rgb[1], b.rgb[1]), mix(a.rgb[2], b.rgb[2]), mix(a.alpha, b.alpha)];
}

/** The ramp as `n` RGBA bytes entries (index = round(intensity * (n - 1))), for ImageData. */
export function rampLut(n = 256) {
  const lut = new Uint8ClampedArray(n * 4);
  for (let i = 0; i < n; i += 1) {
    const [r, g, b, alpha] = rampColor(i / (n - 1));
    lut.set([Math.round(r), Math.round(g), Math.round(b), Math.round(alpha * 255)], i * 4);
  }
  return lut;
}

/** Relative luminance (0..255) of an RGBA colour drawn over `background` (what the eye sees). */
export function compositeLuma([r, g, b, a255], background = PAGE_BACKGROUND) {
  const a = a255 / 255;
  const over = (c, bg) => c * a + bg * (1 - a);
  return 0.2126 * over(r, background[0]) + 0.7152 * over(g, background[1]) + 0.0722 * over(b, background[2]);
}

/** CSS colour of the ramp at x, for the legend's colour bar. */
export function rampCss(x) {
  const [r, g, b, a] = rampColor(x);
  return `rgba(${Math.round(r)},${Math.round(g)},${Math.round(b)},${a.toFixed(3)})`;
}

/**
 * Seconds per heatmap cell for a chart showing `secondsPerPx`: the smallest of NICE_STEPS_S that is a
 * multiple of `columnS` (or `columnS` itself) and at least `targetPx` wide, capped at `maxS` (one bar
 * of the chart's timeframe; never below `columnS`).
 */
export function chooseResolution(secondsPerPx, columnS, maxS, targetPx = TARGET_COLUMN_PX) {
  const steps = [columnS, ...NICE_STEPS_S.filter((s) => s > columnS && s % columnS === 0)];
  const cap = Math.max(columnS, maxS);
  const allowed = steps.filter((s) => s <= cap);
  if (!(secondsPerPx > 0)) return allowed[allowed.length - 1];
  return allowed.find((s) => s / secondsPerPx >= targetPx) ?? allowed[allowed.length - 1];
}

/** Short text for a quantity of the base asset: 0.84, 12.3, 612, 1.2 k. */
export function formatQty(value) {
  const n = Number(value);
  if (!Number.isFinite(n)) return "–";
  if (n >= 1e4) return `${(n / 1e3).toFixed(1)} k`;
  if (n >= 100) return n.toFixed(0);
  if (n >= 10) return n.toFixed(1);
  return n.toFixed(2);
}

/** "15 min", "2 h", "1 day", "10 s": a cell's duration for the legend. */
export function formatSpan(seconds) {
  if (seconds % 86400 === 0) return seconds === 86400 ? "1 day" : `${seconds / 86400} days`;
  if (seconds % 3600 === 0) return `${seconds / 3600} h`;
  if (seconds % 60 === 0) return `${seconds / 60} min`;
  return `${seconds} s`;
}
