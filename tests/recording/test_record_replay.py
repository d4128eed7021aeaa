"""Issue 18's acceptance run, short: the real streamer records a faulty session from the simulator (as
with RECORD_DIR), then the same service replays it at 10x. Every published book of both runs equals
the simulator's truth at its update id; at each replay cycle the zones detected and the heatmap's
picture of the book equal the live run's at the same update id; the replay resyncs where the
recording has a gap, as the live run did. (`python -m bench.record_replay --minutes 2` is the long
run: docs/benchmarks.md.)"""

from __future__ import annotations

import pytest

from bench.record_replay import report, scenario

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True), pytest.mark.slow]


async def test_a_faulty_live_session_replayed_at_10x_publishes_the_truth_and_the_same_zones(tmp_path):
    result = await scenario(tmp_path, seconds=24, speed=10, seed=3, fault_every_s=1.5)
    print("\n".join(report(result, 10)))
    live, replay, comparison = result.live, result.replay, result.comparison
    assert live.mismatches == [] and replay.mismatches == []
    assert live.checked > 100 and replay.checked > 20
    assert len(live.health["faults"]) >= 14  # through the stall, the stale snapshot and the REST 500
    assert live.health["recording"]["lines_dropped"] == 0
    # the recording has gaps (the gap fault, the reconnects): the replay resyncs there and is live again
    assert replay.health["resyncs"].get("gap", 0) >= 1
    assert "resyncing" in replay.statuses and replay.statuses[-1] == "live"
    assert comparison.zone_mismatches == [] and comparison.picture_mismatches == []
    assert comparison.common >= 0.75 * comparison.replay_cycles > 10  # a late live cycle skips an id
    assert comparison.picture_common >= 0.75 * comparison.picture_cycles > 10
