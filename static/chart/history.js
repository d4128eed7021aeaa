// Older candles on demand: when the chart's left edge comes within LOAD_AHEAD_BARS of the first
// loaded bar, ask the server for the page before it (`/api/candles?tf=..&to=<first bar - 1>`).
// At most one request is in flight; an answer shorter than the page means the server has nothing
// older, and no more is asked for until `reset` (a timeframe switch), which also drops an answer
// still in flight for the previous timeframe. A failed request is retried by the next scroll.

export const LOAD_AHEAD_BARS = 50;

export class HistoryLoader {
  /**
   * @param {object} options
   * @param {(toSeconds: number, limit: number) => Promise<object[]>} options.fetchOlder candles with
   *   time <= toSeconds, oldest first, at most `limit`
   * @param {(candles: object[]) => void} options.onLoaded older candles to prepend (never empty)
   * @param {number} options.pageSize
   */
  constructor({ fetchOlder, onLoaded, pageSize }) {
    this.fetchOlder = fetchOlder;
    this.onLoaded = onLoaded;
    this.pageSize = pageSize;
    this.generation = 0;
    this.inFlight = null;
    this.exhausted = false;
    this.requests = 0;
  }

  /** A new series (another timeframe): forget what was learnt about the old one. */
  reset() {
    this.generation += 1;
    this.inFlight = null;
    this.exhausted = false;
  }

  /** Called with the visible logical range's left edge and the first loaded bar's time. */
  maybeLoad(logicalFrom, firstTime) {
    if (this.exhausted || this.inFlight !== null) return null;
    if (logicalFrom === null || logicalFrom === undefined || firstTime === null || firstTime === undefined) return null;
    if (logicalFrom > LOAD_AHEAD_BARS) return null;
    const generation = this.generation;
    this.requests += 1;
    const request = this.fetchOlder(firstTime - 1, this.pageSize)
      .then((candles) => {
        if (generation !== this.generation) return;
        if (candles.length < this.pageSize) this.exhausted = true;
        const older = candles.filter((c) => c.time < firstTime);
        if (older.length) this.onLoaded(older);
      })
      .catch(() => {})
      .finally(() => {
        if (generation === this.generation) this.inFlight = null;
      });
    this.inFlight = request;
    return request;
  }
}
