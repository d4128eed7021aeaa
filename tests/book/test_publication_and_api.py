"""What the web side reads: the published book and health in the DB, over the real endpoints."""

from __future__ import annotations

import asyncio
import json

import pytest
from asgiref.sync import sync_to_async
from django.test import Client

from apps.book.models import OrderbookMetric, PublishedBook
from apps.book.services.publication import prune_metrics
from apps.book.services.streamer import OrderBookStreamer
from apps.core.database_state import DatabaseFileWatch
from apps.live.runtime import DatabasePublisher, prune_metrics_async
from apps.simulator.server import BinanceSimulator
from tests.book.streaming import StreamHarness, fast_settings

pytestmark = pytest.mark.django_db(transaction=True)  # async tests run under asyncio_mode = "auto"


def get_json(path: str) -> tuple[int, dict]:
    response = Client().get(path)
    return response.status_code, json.loads(response.content)


async def test_api_book_serves_the_published_book_equal_to_the_exchange():
    async with BinanceSimulator(depth_interval_s=0.05, seed=11) as sim:
        streamer = OrderBookStreamer(
            fast_settings(sim, publish_interval_ms=100),
            publisher=DatabasePublisher(DatabaseFileWatch.of_database()),
            pruner=prune_metrics_async,
        )
        h = StreamHarness(sim=sim, streamer=streamer)
        streamer.observers.append(h.observe)
        h.task = asyncio.create_task(streamer.run())
        try:
            await h.live()
            await h.live(after_update_id=sim.update_id)  # at least one publication written after live
            status, body = await sync_to_async(get_json)("/api/book?limit=5")
            assert status == 200 and body["status"] == "live" and body["symbol"] == "BTCEUR"
            assert len(body["bids"]) == 5 and len(body["asks"]) == 5
            truth_bids, truth_asks = sim.market.truth_top(body["update_id"], 5)
            assert body["bids"] == [
                [format(p, "f").rstrip("0").rstrip("."), format(q, "f").rstrip("0").rstrip(".")]
                for p, q in truth_bids
            ]
            assert [a[0] for a in body["asks"]] == [
                format(p, "f").rstrip("0").rstrip(".") for p, _ in truth_asks
            ]
            status, health = await sync_to_async(get_json)("/api/health")
            assert status == 200 and health["status"] == "live"
            stream = health["stream"]
            assert stream["snapshots"] == 1 and stream["rest"]["weight_used_1m"] >= 250
            assert stream["trusted_window"] == ["0", "Infinity"]
            # the book's size at the published update id: a book that only grows would show here
            all_bids, all_asks = sim.market.truth_top(stream["update_id"], 100_000)
            assert stream["levels"] == {"bids": len(all_bids), "asks": len(all_asks)}
            assert await sync_to_async(OrderbookMetric.objects.count)() >= 1
            metric = await sync_to_async(OrderbookMetric.objects.order_by("-ts_ms").first)()
            assert metric.best_ask > metric.best_bid and metric.spread == metric.best_ask - metric.best_bid

            sim.rest_fault("timeout", delay_s=1.5)  # keep the rebuild slow enough to read it
            sim.inject_gap(3)
            await h.until(lambda p: p.status == "resyncing")
            await h.until(lambda p: p.status == "resyncing")  # the previous one is now in the DB
            row = await sync_to_async(PublishedBook.objects.get)(symbol="BTCEUR")
            # not live: the status says so, and the levels are the last in-sync book, never a half-built one
            assert row.status == "resyncing"
            truth_bids, _ = sim.market.truth_top(row.update_id, 100)
            assert row.bids[0][0] == format(truth_bids[0][0], "f").rstrip("0").rstrip(".")
            status, body = await sync_to_async(get_json)("/api/book")
            assert body["status"] == "resyncing" and body["update_id"] == row.update_id
            await h.live(after_update_id=sim.update_id)
        finally:
            await h.stop()
        assert h.mismatches == []


def test_stale_publication_reads_as_stale_and_bad_limit_is_400(settings):
    PublishedBook.objects.create(
        symbol="BTCEUR",
        update_id=5,
        ts_ms=1_000,
        status="live",
        bids=[["1", "2"]],
        asks=[["3", "4"]],
        health={},
    )
    status, body = get_json("/api/book")
    assert status == 200 and body["status"] == "stale" and body["update_id"] == 5
    for bad in ("0", "101", "abc", "-1"):
        status, body = get_json(f"/api/book?limit={bad}")
        assert status == 400 and body["parameter"] == "limit", bad
    status, body = get_json("/api/book?depth=3")
    assert status == 400 and body["parameter"] == "depth"


def test_book_before_any_publication_is_connecting():
    status, body = get_json("/api/book")
    assert status == 200 and body["status"] == "connecting" and body["bids"] == []


def test_metrics_retention_prunes_in_batches():
    rows = [
        OrderbookMetric(
            ts_ms=t,
            symbol="BTCEUR",
            best_bid=1,
            best_ask=2,
            spread=1,
            mid=1.5,
            imbalance_topn=0.0,
            update_id=t,
        )
        for t in range(1, 26)
    ]
    OrderbookMetric.objects.bulk_create(rows)
    assert prune_metrics("BTCEUR", older_than_ms=21, batch=7) == 20
    assert list(OrderbookMetric.objects.values_list("ts_ms", flat=True).order_by("ts_ms")) == [
        21,
        22,
        23,
        24,
        25,
    ]
