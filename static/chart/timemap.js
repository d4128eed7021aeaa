// Time (UTC seconds) -> x pixel, for any time, not only bar times.
//
// Lightweight Charts 4.1 `timeToCoordinate` returns null for times that are not bar times and
// for times after the last bar, and `logicalToCoordinate` only answers integer logical indexes.
// Zones start at first_seen (not a bar time) and open-ended boxes reach past the last bar, so we
// map a time to a fractional logical index (interpolating between the two surrounding bars, or
// extrapolating with the bar interval before the first / after the last bar) and place it between
// the two integer indexes' coordinates. Order blocks (1h) snap to the bar containing their time
// (`barX`), so on 4h or 1d they start at a bar, as the candle they belong to.

export const HOUR_S = 3600;

export class TimeMapper {
  constructor(intervalS = HOUR_S) {
    this.intervalS = intervalS;
    this.times = [];
  }

  setTimes(times) {
    this.times = times.slice();
  }

  /** Add a bar time (live candle); keeps the array sorted and free of duplicates. */
  addTime(time) {
    const n = this.times.length;
    if (n === 0 || time > this.times[n - 1]) {
      this.times.push(time);
    } else if (!this.times.includes(time)) {
      this.times.push(time);
      this.times.sort((a, b) => a - b);
    }
  }

  get lastTime() {
    return this.times.length ? this.times[this.times.length - 1] : null;
  }

  /** Fractional logical index of `t` (seconds), or null when there are no bars. */
  toLogical(t) {
    const ts = this.times;
    const n = ts.length;
    if (n === 0) return null;
    if (t >= ts[n - 1]) return n - 1 + (t - ts[n - 1]) / this.intervalS;
    if (t <= ts[0]) return (t - ts[0]) / this.intervalS;
    let lo = 0;
    let hi = n - 1;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (ts[mid] <= t) lo = mid;
      else hi = mid;
    }
    return lo + (t - ts[lo]) / (ts[hi] - ts[lo]);
  }

  /** x (CSS pixels in the pane) of a fractional logical index, through the chart's own mapping. */
  static logicalToX(timeScale, logical) {
    const base = Math.floor(logical);
    const x0 = timeScale.logicalToCoordinate(base);
    if (x0 === null) return null;
    const frac = logical - base;
    if (frac === 0) return x0;
    const x1 = timeScale.logicalToCoordinate(base + 1);
    if (x1 === null) return null;
    return x0 + frac * (x1 - x0);
  }

  /** x of time `t` (seconds) or null when no bars are loaded. */
  x(timeScale, t) {
    const logical = this.toLogical(t);
    return logical === null ? null : TimeMapper.logicalToX(timeScale, logical);
  }

  /** Time of the loaded bar that contains `t` (the last bar time <= t, within one interval past
   * the last bar), or null when `t` is before the first bar or after the last bar's interval. A 1h
   * order block at 13:00 on a 4h chart belongs to the 12:00 bar. */
  barTime(t) {
    const ts = this.times;
    const n = ts.length;
    if (n === 0 || t < ts[0] || t >= ts[n - 1] + this.intervalS) return null;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (ts[mid] <= t) lo = mid;
      else hi = mid - 1;
    }
    return ts[lo];
  }

  /** x of the bar containing `t`; outside the loaded bars, x of `t` itself (extrapolated). */
  barX(timeScale, t) {
    const bar = this.barTime(t);
    return this.x(timeScale, bar === null ? t : bar);
  }
}
