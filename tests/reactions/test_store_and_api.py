"""Reactions over a real database: the stored row gives back the reaction it was written from, a
restart reads back what it needs, GET /api/reactions shows what the push carries, the statistics
count and rate outcomes with their sample sizes, and bad input is a 400 naming the parameter."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal as D

import pytest
from django.test import Client

from apps.orderblocks.models import OrderBlock
from apps.reactions.domain.enums import Outcome, ReactionState
from apps.reactions.domain.liquidity import Backing
from apps.reactions.domain.reaction import Reaction, close_unknown
from apps.reactions.domain.touches import BlockRef
from apps.reactions.models import OrderBlockReaction
from apps.reactions.presentation import reaction_overlay
from apps.reactions.services import store
from tests.reactions.machine import Run
from tests.reactions.scene import BEAR, BULL, HOUR_MS, MIN_MS, bid_zone, set_level

pytestmark = pytest.mark.django_db
T0 = 1_790_000_000_000  # a touch time in ms (2026-09-21)


def lived(touch_ms: int = T0) -> Reaction:
    """A reaction that went through every kind of step: zones held and pulled, a snapshot missed, a
    move away, outcomes."""
    run = Run()
    run.zones = [bid_zone("86000", "86050"), bid_zone("86100", "86150", "candidate")]
    run.cycle(touch_ms + 500, (touch_ms - 500, "86300"), (touch_ms, "86080"))
    set_level(run.book, "86020", "0")
    run.cycle(touch_ms + MIN_MS + 100)
    run.zones = [
        bid_zone("86000", "86050"),
        bid_zone("86100", "86150", "pulled", ts_ms=touch_ms + 2 * MIN_MS),
    ]
    run.live = False
    run.every(touch_ms + 5 * MIN_MS, touch_ms + 6 * MIN_MS, 10_000)
    run.live = True
    run.cycle(touch_ms + 20 * MIN_MS, (touch_ms + 20 * MIN_MS - 1, "86300.5"))
    run.every(touch_ms + 21 * MIN_MS, touch_ms + HOUR_MS + 2 * MIN_MS, 5 * MIN_MS)
    return run.reaction


def test_a_stored_reaction_reads_back_as_the_reaction_it_was_written_from():
    r = lived()
    assert r.outcomes[0] is Outcome.HELD and r.snapshots[2].taken_ms is None and len(r.zones) == 2
    store.save_reactions([r], watched_until_ms=T0 + HOUR_MS)
    [row] = OrderBlockReaction.objects.all()
    assert store.reaction_of(row) == r
    unknown = close_unknown(replace(r, notes=("resumed at ...",)), "the service was not running")
    store.save_reactions([unknown], watched_until_ms=T0 + 2 * HOUR_MS)  # a rewrite, not a second row
    [row] = OrderBlockReaction.objects.all()
    assert store.reaction_of(row) == unknown and row.watched_until_ms == T0 + 2 * HOUR_MS


def test_a_restart_reads_back_the_pending_reactions_how_far_each_was_watched_and_every_block_seen():
    pending = lived()
    done = replace(lived(T0 + HOUR_MS), block=BEAR, state=ReactionState.DONE)
    store.save_reactions([pending], watched_until_ms=T0 + 90 * MIN_MS)
    store.save_reactions([done], watched_until_ms=T0 + 3 * HOUR_MS)
    restored = store.load_restored("BTCEUR")
    assert list(restored.pending) == [pending]
    assert restored.watched_until_ms == {BULL.id: T0 + 90 * MIN_MS}
    assert sorted(restored.reacted_ids) == sorted([BULL.id, BEAR.id])


def _block(
    direction: str, created: int, status: str, low: str, high: str, valid_to: int | None = None
) -> None:
    OrderBlock.objects.create(
        symbol="BTCEUR",
        direction=direction,
        created_ts_ms=created,
        valid_from_ts_ms=created + 3 * HOUR_MS,
        valid_to_ts_ms=valid_to,
        price_low=D(low),
        price_high=D(high),
        atr14=D("142.5"),
        bos_level=D(high) + 100,
        bos_ts_ms=created + 2 * HOUR_MS,
        touched_ts_ms=None,
        status=status,
    )


def test_the_listener_watches_the_stored_fresh_blocks_and_learns_invalidations_from_the_store():
    _block("bullish", T0, "fresh", "86000", "86100")
    _block("bearish", T0 + HOUR_MS, "touched", "86900", "87000")
    _block("bullish", T0 + 2 * HOUR_MS, "invalid", "85000", "85100", valid_to=T0 + 9 * HOUR_MS)
    [fresh] = store.fresh_blocks("BTCEUR")
    assert fresh == BlockRef(
        f"BTCEUR:bullish:{T0}", BULL.direction, D("86000"), D("86100"), D("142.5"), T0 + 3 * HOUR_MS
    )
    invalid = store.invalid_close_times(
        "BTCEUR", [f"BTCEUR:bullish:{T0 + 2 * HOUR_MS}", fresh.id, "ETHEUR:bullish:1"]
    )
    assert invalid == {f"BTCEUR:bullish:{T0 + 2 * HOUR_MS}": T0 + 10 * HOUR_MS}  # the candle's close
    assert store.invalid_close_times("BTCEUR", []) == {}


def test_reactions_older_than_the_retention_are_pruned():
    old, recent = lived(T0), replace(lived(T0 + 400 * 24 * HOUR_MS), block=BEAR)
    store.save_reactions([old, recent], watched_until_ms=T0)
    assert store.prune_reactions("BTCEUR", T0 + 35 * 24 * HOUR_MS) == 1
    assert [row.block_id for row in OrderBlockReaction.objects.all()] == [BEAR.id]


# --- the API --------------------------------------------------------------------------------------


def test_the_api_lists_reactions_touched_in_the_range_as_the_push_shows_them():
    first, second = lived(T0), replace(lived(T0 + HOUR_MS), block=BEAR)
    store.save_reactions([first, second], watched_until_ms=T0)
    response = Client().get("/api/reactions")
    assert response.status_code == 200 and response["Cache-Control"] == "no-cache"
    body = response.json()
    assert body["truncated"] is False
    assert body["reactions"] == [reaction_overlay(first), reaction_overlay(second)]  # REST == push
    item = body["reactions"][0]
    assert item["liquidity"][0] == {
        "at": "touch",
        "at_ms": T0,
        "taken_ms": T0 + 500,
        "qty": "50",
        "notional": item["liquidity"][0]["notional"],
        "note": "",
    }
    assert [s["at"] for s in item["liquidity"]] == ["touch", "1m", "5m", "15m"]
    assert item["liquidity"][1]["qty"] == "20"  # the wall was pulled before the minute
    assert item["outcomes"] == {"1h": "held", "4h": None, "24h": None} and item["state"] == "pending"
    assert [(z["first_status"], z["event"]) for z in item["zones"]] == [
        ("confirmed", "held"),
        ("candidate", "pulled"),
    ]
    only_second = Client().get("/api/reactions", {"from": T0 // 1000 + 1, "to": T0 // 1000 + 3600}).json()
    assert [r["block_id"] for r in only_second["reactions"]] == [BEAR.id]


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ({"from": "yesterday"}, "from"),
        ({"to": "-5"}, "to"),
        ({"from": "200", "to": "100"}, "from"),
        ({"form": "1"}, "form"),
        ({"from": ""}, "from"),
    ],
)
@pytest.mark.parametrize("path", ["/api/reactions", "/api/reactions/stats"])
def test_bad_parameters_are_a_400_naming_the_parameter(path, query, parameter):
    response = Client().get(path, query)
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "bad_parameter" and body["parameter"] == parameter and body["detail"]


def _made(
    block_id: str, direction: str, backed: bool | None, outcomes: tuple, state: str = "done"
) -> Reaction:
    base = lived()
    block = replace(base.block, id=block_id, direction=direction)
    return replace(
        base,
        block=block,
        backing=Backing(backed, (), None),
        outcomes=tuple(None if o is None else Outcome(o) for o in outcomes),
        state=ReactionState(state),
    )


def test_stats_count_and_rate_outcomes_by_direction_and_backing_with_their_samples():
    reactions = [
        _made("a", "bullish", True, ("held", "held", "held")),
        _made("b", "bullish", True, ("held", "invalidated", "invalidated")),
        _made("c", "bullish", False, ("undecided", "undecided", "invalidated")),
        _made("d", "bearish", False, ("held", "held", "undecided")),
        _made("e", "bearish", None, ("invalidated", "unknown", "unknown"), "unknown"),
        _made("f", "bearish", True, ("held", None, None), "pending"),
    ]
    store.save_reactions(reactions, watched_until_ms=T0)
    body = Client().get("/api/reactions/stats").json()
    assert body["reactions"] == 6 and body["states"] == {"pending": 1, "done": 4, "unknown": 1}
    assert list(body["horizons"]) == ["1h", "4h", "24h"]
    h1, h24 = body["horizons"]["1h"], body["horizons"]["24h"]
    assert h1["horizon_s"] == 3600
    assert h1["all"] == {
        "n": 6,
        "held": 4,
        "invalidated": 1,
        "undecided": 1,
        "unknown": 0,
        "pending": 0,
        "held_rate": round(4 / 6, 4),
        "invalidated_rate": round(1 / 6, 4),
        "undecided_rate": round(1 / 6, 4),
    }
    assert h24["all"]["n"] == 4 and h24["all"]["unknown"] == 1 and h24["all"]["pending"] == 1
    assert h24["by_backing"]["backed"]["n"] == 2 and h24["by_backing"]["backed"]["held_rate"] == 0.5
    assert h24["by_backing"]["not_backed"] == {
        "n": 2,
        "held": 0,
        "invalidated": 1,
        "undecided": 1,
        "unknown": 0,
        "pending": 0,
        "held_rate": 0.0,
        "invalidated_rate": 0.5,
        "undecided_rate": 0.5,
    }
    assert h24["by_backing"]["unknown"]["unknown"] == 1 and h24["by_backing"]["unknown"]["held_rate"] is None
    assert h24["by_direction"]["bullish"]["n"] == 3 and h24["by_direction"]["bearish"]["n"] == 1
    empty = Client().get("/api/reactions/stats", {"to": 1}).json()
    assert empty["reactions"] == 0 and empty["horizons"]["24h"]["all"]["n"] == 0
    assert empty["horizons"]["24h"]["all"]["held_rate"] is None


def test_the_answers_match_the_published_schema():
    import jsonschema_rs

    from apps.overlays.openapi import openapi_document

    document = openapi_document("BTCEUR", 5000)

    def validate(path: str, body: dict) -> None:
        schema = document["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        jsonschema_rs.Draft202012Validator({**schema, "components": document["components"]}).validate(body)

    store.save_reactions(
        [lived(), _made("e", "bearish", None, ("invalidated", "unknown", "unknown"), "unknown")],
        watched_until_ms=T0,
    )
    listing = Client().get("/api/reactions").json()
    assert len(listing["reactions"]) == 2
    validate("/api/reactions", listing)
    validate("/api/reactions/stats", Client().get("/api/reactions/stats").json())
    broken = {**listing, "reactions": [{**listing["reactions"][0], "state": "maybe"}]}
    with pytest.raises(jsonschema_rs.ValidationError):
        validate("/api/reactions", broken)  # the check is not vacuous
