// Unit tests of the page's timeframe rules and the older-candles loader (node --test; run by
// tests/web/test_chart_modules.py).
import assert from "node:assert/strict";
import { test } from "node:test";

import { HistoryLoader, LOAD_AHEAD_BARS } from "../../../static/chart/history.js";
import { TimeMapper } from "../../../static/chart/timemap.js";
import {
  DEFAULT_TIMEFRAME,
  TIMEFRAMES,
  bucketStart,
  candleTimeframe,
  searchWithTimeframe,
  timeframeFromSearch,
} from "../../../static/chart/timeframes.js";

test("the URL's ?tf= picks the timeframe; anything else is the default", () => {
  assert.deepEqual(TIMEFRAMES, ["5m", "15m", "1h", "4h", "1d"]);
  assert.equal(timeframeFromSearch("?tf=15m"), "15m");
  assert.equal(timeframeFromSearch("?x=1&tf=1d"), "1d");
  assert.equal(timeframeFromSearch(""), DEFAULT_TIMEFRAME);
  assert.equal(timeframeFromSearch("?tf=2h"), "1h");
  assert.equal(timeframeFromSearch("?tf=4H"), "1h");
  assert.equal(searchWithTimeframe("", "4h"), "?tf=4h");
  assert.equal(searchWithTimeframe("?x=1&tf=1h", "5m"), "?x=1&tf=5m");
});

test("pushed candles name their timeframe; a push without one is 1h", () => {
  assert.equal(candleTimeframe({ time: 1, tf: "5m" }), "5m");
  assert.equal(candleTimeframe({ time: 1 }), "1h");
});

test("buckets are UTC-aligned", () => {
  const day = Date.UTC(2026, 2, 4) / 1000;
  assert.equal(bucketStart(day + 13 * 3600, "4h"), day + 12 * 3600);
  assert.equal(bucketStart(day + 16 * 3600, "4h"), day + 16 * 3600);
  assert.equal(bucketStart(day + 23 * 3600 + 59, "1d"), day);
  assert.equal(bucketStart(day + 7 * 60, "5m"), day + 5 * 60);
});

test("a time maps to the bar containing it, not between bars", () => {
  const day = Date.UTC(2026, 2, 4) / 1000;
  const mapper = new TimeMapper(4 * 3600);
  mapper.setTimes([day, day + 4 * 3600, day + 8 * 3600, day + 16 * 3600]); // 12:00 missing
  assert.equal(mapper.barTime(day + 13 * 3600), day + 8 * 3600); // in the gap: the bar before
  assert.equal(mapper.barTime(day + 5 * 3600), day + 4 * 3600);
  assert.equal(mapper.barTime(day + 4 * 3600), day + 4 * 3600);
  assert.equal(mapper.barTime(day + 19 * 3600), day + 16 * 3600); // inside the last bar
  assert.equal(mapper.barTime(day + 20 * 3600), null); // past the last bar's interval
  assert.equal(mapper.barTime(day - 1), null);
  const timeScale = { logicalToCoordinate: (logical) => 100 + logical * 10 };
  assert.equal(mapper.barX(timeScale, day + 5 * 3600), 110); // the 04:00 bar, not 04:00 + 1/4 bar
  assert.equal(mapper.x(timeScale, day + 5 * 3600), 112.5);
  assert.equal(mapper.barX(timeScale, day + 24 * 3600), 150); // past the bars: extrapolated
});

function deferred() {
  let resolve;
  let reject;
  const promise = new Promise((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

function loader(pageSize = 3) {
  const calls = [];
  const loaded = [];
  const history = new HistoryLoader({
    pageSize,
    fetchOlder: (to, limit) => {
      const answer = deferred();
      calls.push({ to, limit, answer });
      return answer.promise;
    },
    onLoaded: (candles) => loaded.push(candles.map((c) => c.time)),
  });
  return { history, calls, loaded };
}

test("older candles are asked for when the left edge nears the first bar, one request at a time", async () => {
  const { history, calls, loaded } = loader();
  assert.equal(history.maybeLoad(LOAD_AHEAD_BARS + 1, 1000), null); // far from the edge
  const first = history.maybeLoad(10, 1000);
  assert.ok(first);
  assert.equal(history.maybeLoad(5, 1000), null); // in flight: no duplicate
  assert.equal(history.maybeLoad(-3, 1000), null);
  assert.deepEqual(calls.map((c) => [c.to, c.limit]), [[999, 3]]);
  calls[0].answer.resolve([{ time: 700 }, { time: 800 }, { time: 900 }]);
  await first;
  assert.deepEqual(loaded, [[700, 800, 900]]);
  assert.equal(history.exhausted, false);
  const second = history.maybeLoad(10, 700);
  calls[1].answer.resolve([{ time: 600 }]); // shorter than a page: nothing older on the server
  await second;
  assert.deepEqual(loaded, [[700, 800, 900], [600]]);
  assert.equal(history.exhausted, true);
  assert.equal(history.maybeLoad(0, 600), null);
  assert.equal(calls.length, 2);
});

test("a failed request is retried by the next scroll; an empty answer stops", async () => {
  const { history, calls, loaded } = loader();
  const failing = history.maybeLoad(0, 1000);
  calls[0].answer.reject(new Error("HTTP 500"));
  await failing;
  assert.equal(history.inFlight, null);
  const empty = history.maybeLoad(0, 1000);
  calls[1].answer.resolve([]);
  await empty;
  assert.deepEqual(loaded, []);
  assert.equal(history.exhausted, true);
});

test("a timeframe switch drops the answer still in flight and starts over", async () => {
  const { history, calls, loaded } = loader();
  const old = history.maybeLoad(0, 1000);
  history.reset();
  const fresh = history.maybeLoad(0, 5000); // the new series asks at once, the old one is forgotten
  calls[0].answer.resolve([{ time: 1 }]);
  await old;
  assert.deepEqual(loaded, []);
  assert.ok(history.inFlight !== null); // the old answer did not clear the new request
  calls[1].answer.resolve([{ time: 4000 }, { time: 4500 }, { time: 4900 }]);
  await fresh;
  assert.deepEqual(loaded, [[4000, 4500, 4900]]);
  assert.equal(history.requests, 2);
});
