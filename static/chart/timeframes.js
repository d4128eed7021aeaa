// The chart's timeframes and which one the page shows: pure rules, tested under node (tests/web/js).
//
// - 5m, 15m, 1h (default), 4h, 1d; the choice is the URL's `?tf=`, so a reload keeps it; anything
//   else in the URL is the default;
// - every pushed candle names its timeframe (`tf`); the page applies only the one it shows (a push
//   without `tf` is a 1h candle, as before timeframes existed);
// - order blocks are 1h: on a longer timeframe a block is drawn from the bar that contains its time
//   (Lightweight Charts only places bar times; see TimeMapper.barTime).

export const TIMEFRAMES = ["5m", "15m", "1h", "4h", "1d"];
export const DEFAULT_TIMEFRAME = "1h";
export const TIMEFRAME_SECONDS = { "5m": 300, "15m": 900, "1h": 3600, "4h": 14400, "1d": 86400 };

/** The timeframe a `?tf=` query string asks for, or the default. */
export function timeframeFromSearch(search) {
  const tf = new URLSearchParams(search).get("tf");
  return TIMEFRAMES.includes(tf) ? tf : DEFAULT_TIMEFRAME;
}

/** `search` with `tf` set (other parameters kept), as "?..." for history.replaceState. */
export function searchWithTimeframe(search, tf) {
  const params = new URLSearchParams(search);
  params.set("tf", tf);
  return `?${params.toString()}`;
}

/** The timeframe of a pushed candle. */
export function candleTimeframe(candle) {
  return candle && typeof candle.tf === "string" ? candle.tf : "1h";
}

/** Open time (UTC seconds) of the `tf` bucket holding `t`: buckets are UTC-aligned, as the server's. */
export function bucketStart(t, tf) {
  const size = TIMEFRAME_SECONDS[tf];
  return t - (((t % size) + size) % size);
}
