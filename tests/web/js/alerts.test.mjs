import assert from "node:assert/strict";
import { test } from "node:test";

import { alertClock, catchUpFrom, mergeAlerts, ruleClass } from "../../../static/chart/alerts.js";

const alert = (key, ts_ms, extra = {}) => ({ key, ts_ms, rule: "zone_pulled_in_block", title: "t", text: key, ...extra });

test("merging keeps each alert once, oldest first, and says which are new", () => {
  const known = [alert("b", 2000), alert("a", 1000)];
  const { alerts, added } = mergeAlerts(known, [alert("c", 3000), alert("a", 1000, { text: "again" })]);
  assert.deepEqual(alerts.map((a) => a.key), ["a", "b", "c"]);
  assert.deepEqual(added.map((a) => a.key), ["c"]); // a pushed alert already fetched is not new
  assert.equal(alerts[0].text, "again"); // the newer copy's fields win (e.g. its delivery)
});

test("merging keeps only the most recent max alerts", () => {
  const many = Array.from({ length: 10 }, (_, i) => alert(`k${i}`, i * 1000));
  const { alerts } = mergeAlerts([], many, 3);
  assert.deepEqual(alerts.map((a) => a.key), ["k7", "k8", "k9"]);
  assert.deepEqual(mergeAlerts([], [null, { ts_ms: 1 }]).alerts, []);
});

test("the clock, the catch-up start and the rule's style", () => {
  assert.equal(alertClock(alert("x", Date.UTC(2026, 0, 2, 3, 4, 5, 600))), "03:04:05");
  assert.equal(catchUpFrom([]), null);
  assert.equal(catchUpFrom([alert("a", 1000), alert("b", 5999)]), 5);
  assert.equal(ruleClass("book_stale"), "alert-stale");
  assert.equal(ruleClass("something_new"), "alert-other");
});
