// Unit tests of the reaction marks' and the stats panel's rules (run by tests/web/test_chart_modules.py).
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  defaultHorizon,
  formatRate,
  markLabel,
  markOf,
  reactionVerdict,
  statsRows,
} from "../../../static/chart/reactions.js";

test("the verdict is the outcome at the longest horizon decided, unknown ones aside", () => {
  const r = (outcomes, state = "pending") => ({ outcomes, state });
  assert.deepEqual(reactionVerdict(r({ "1h": "held", "4h": null, "24h": null })), { outcome: "held", horizon: "1h" });
  assert.deepEqual(reactionVerdict(r({ "1h": "held", "4h": "invalidated", "24h": null })),
    { outcome: "invalidated", horizon: "4h" });
  assert.deepEqual(reactionVerdict(r({ "1h": "undecided", "4h": "unknown", "24h": "unknown" }, "unknown")),
    { outcome: "undecided", horizon: "1h" });
  assert.deepEqual(reactionVerdict(r({ "1h": null, "4h": null, "24h": null })), { outcome: "pending", horizon: null });
  assert.deepEqual(reactionVerdict(r({ "1h": "unknown", "4h": "unknown", "24h": "unknown" }, "unknown")),
    { outcome: "unknown", horizon: null });
});

test("each outcome has its own mark and label", () => {
  const shapes = ["held", "invalidated", "undecided", "pending", "unknown"].map(markOf);
  assert.equal(new Set(shapes).size, 5);
  assert.equal(markLabel("held", "4h"), "held 4h");
  assert.equal(markLabel("pending", null), "pending");
});

test("the panel's rows are the API's groups with rates in whole percent and a dash for no sample", () => {
  const counts = (n, held, inv, und) => ({ n, held_rate: held, invalidated_rate: inv, undecided_rate: und });
  const stats = {
    reactions: 3,
    horizons: {
      "1h": {
        all: counts(3, 2 / 3, 1 / 3, 0),
        by_backing: { backed: counts(2, 1, 0, 0), not_backed: counts(1, 0, 1, 0), unknown: counts(0, null, null, null) },
        by_direction: { bullish: counts(3, 2 / 3, 1 / 3, 0), bearish: counts(0, null, null, null) },
      },
      "4h": {
        all: counts(0, null, null, null),
        by_backing: {},
        by_direction: {},
      },
    },
  };
  assert.deepEqual(statsRows(stats, "1h").map((row) => Object.values(row)), [
    ["all", 3, "67%", "33%", "0%"],
    ["backed", 2, "100%", "0%", "0%"],
    ["not backed", 1, "0%", "100%", "0%"],
    ["bullish", 3, "67%", "33%", "0%"],
    ["bearish", 0, "–", "–", "–"],
  ]);
  assert.equal(statsRows(stats, "4h")[1].n, 0);
  assert.deepEqual(statsRows(stats, "24h"), []);
  assert.equal(formatRate(null), "–");
  assert.equal(defaultHorizon(stats), "1h");
  assert.equal(defaultHorizon({ horizons: { "1h": { all: { n: 0 } }, "4h": { all: { n: 0 } } } }), "1h");
  assert.equal(defaultHorizon(null), null);
});
