"""Scale-out on real Redis + Postgres: two web processes, one streaming worker, one simulator.

What a user relies on: whichever web process a browser is connected to, it sees the same pushes
in the same order and the same book, all data lives in Postgres, and a crashed streamer comes back
with a new epoch that clients follow, without duplicating or losing stored rows.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect

from bench.processes import wait_until
from bench.soak import book_differences
from tests.scaleout.conftest import ScaleOutStack

pytestmark = pytest.mark.scaleout

TIMEOUT = 30.0
ACK_EVERY = 20


class OverlayClient:
    """A browser stand-in on /ws/overlays: records every message, acknowledges as it goes."""

    def __init__(self, name: str, web_url: str) -> None:
        self.name = name
        self.web_url = web_url
        self.messages: list[dict[str, Any]] = []
        self._changed = asyncio.Condition()
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None

    async def __aenter__(self) -> OverlayClient:
        url = self.web_url.replace("http://", "ws://") + "/ws/overlays"
        self._ws = await connect(url, origin=self.web_url, open_timeout=10)  # type: ignore[arg-type]
        self._reader = asyncio.create_task(self._read())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._ws is not None and self._reader is not None
        await self._ws.close()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader

    async def _read(self) -> None:
        assert self._ws is not None
        frames = 0
        parts: dict[int, list[str]] = {}
        async for raw in self._ws:
            frames += 1
            if frames % ACK_EVERY == 0:
                await self._ws.send(json.dumps({"action": "ack", "received": frames}))
            message = json.loads(raw)
            if message["type"] == "fragment":  # a big message (e.g. a snapshot) in consecutive chunks
                chunks = parts.setdefault(message["id"], [])
                assert message["index"] == len(chunks), f"{self.name}: fragment out of order"
                chunks.append(message["chunk"])
                if len(chunks) < message["count"]:
                    continue
                message = json.loads("".join(parts.pop(message["id"])))
            self.messages.append(message)
            async with self._changed:
                self._changed.notify_all()

    async def until(
        self, predicate: Callable[[OverlayClient], bool], what: str, timeout: float = TIMEOUT
    ) -> None:
        try:
            async with asyncio.timeout(timeout), self._changed:
                await self._changed.wait_for(lambda: predicate(self))
        except TimeoutError:
            kinds = [(m["type"], m.get("epoch"), m.get("seq"), m.get("kind")) for m in self.messages[-8:]]
            raise AssertionError(
                f"{self.name}: {what} not seen in {timeout:g}s; last messages {kinds}"
            ) from None

    def deltas(self, epoch: str) -> dict[int, dict[str, Any]]:
        return {m["seq"]: m for m in self.messages if m["type"] == "delta" and m["epoch"] == epoch}

    def epochs(self) -> list[str]:
        seen: list[str] = []
        for m in self.messages:
            if m["type"] == "delta" and m["epoch"] not in seen:
                seen.append(m["epoch"])
        return seen

    def snapshots(self, reason: str | None = None) -> list[dict[str, Any]]:
        return [
            m for m in self.messages if m["type"] == "snapshot" and (reason is None or m["reason"] == reason)
        ]


def trace(client: OverlayClient) -> str:
    """What a client received, compactly, for assertion messages."""
    items = [
        f"{m['type'][:4]}:{m.get('reason') or m.get('kind')}:{str(m.get('epoch'))[:4]}:{m.get('seq')}"
        for m in client.messages
    ]
    return f"{client.name}: {' '.join(items)}"


def latest_epoch(client: OverlayClient) -> str | None:
    epochs = client.epochs()
    return epochs[-1] if epochs else None


def window_bounds(a: OverlayClient, b: OverlayClient, epoch: str) -> tuple[int, int] | None:
    """Seqs of `epoch` both clients were connected for: the later first delta to the earlier last."""
    da, db = a.deltas(epoch), b.deltas(epoch)
    if not da or not db:
        return None
    return max(min(da), min(db)), min(max(da), max(db))


def stream_in(client: OverlayClient, epoch: str, start: int, end: int) -> list[Any]:
    """What the client was sent for seqs start..end of `epoch`: every delta in full, and every
    resync snapshot by (reason, seq) (its state is read from the DB at that moment)."""
    out: list[Any] = []
    for m in client.messages:
        if m.get("epoch") != epoch or m.get("seq") is None or not start <= m["seq"] <= end:
            continue
        out.append(m if m["type"] == "delta" else ("snapshot", m["reason"], m["seq"]))
    return out


def has_window(a: OverlayClient, b: OverlayClient, epoch: str, size: int, kind: str | None = None) -> bool:
    bounds = window_bounds(a, b, epoch)
    if bounds is None or bounds[1] - bounds[0] + 1 < size:
        return False
    da = a.deltas(epoch)
    return kind is None or any(m["kind"] == kind for s, m in da.items() if bounds[0] <= s <= bounds[1])


def assert_same_stream(a: OverlayClient, b: OverlayClient, epoch: str) -> list[Any]:
    """Clients on A and B were sent the same thing, and every seq either arrived as a delta or was
    followed by a snapshot telling the client to take the fresh state (nothing silently lost)."""
    bounds = window_bounds(a, b, epoch)
    assert bounds is not None, f"no common deltas of epoch {epoch}:\n{trace(a)}\n{trace(b)}"
    start, end = bounds
    seen_a, seen_b = stream_in(a, epoch, start, end), stream_in(b, epoch, start, end)
    assert seen_a == seen_b, f"A and B differ in epoch {epoch}:\n{trace(a)}\n{trace(b)}"
    delivered = {m["seq"] for m in seen_a if isinstance(m, dict)}
    resyncs = [item[2] for item in seen_a if isinstance(item, tuple)]
    for seq in range(start, end + 1):
        assert seq in delivered or any(r >= seq for r in resyncs), (
            f"seq {seq} lost without a resync:\n{trace(a)}"
        )
    return [m for m in seen_a if isinstance(m, dict)]


WALL_QTY = "600"  # the simulator's book holds ~40-140 BTC per 50 EUR bin: this is a >4x wall


def place_wall_near_mid(stack: ScaleOutStack, side: str, distance: int) -> Decimal:
    """A wall `distance` EUR from mid, in the middle of a 50 EUR zone bin; returns its price."""
    mid = Decimal(stack.sim_state()["mid"])
    target = mid - distance if side == "bid" else mid + distance
    price = (target // 50) * 50 + 25
    stack.control("place_wall", side=side, price=str(price), qty=WALL_QTY)
    return price


def zone_rows(stack: ScaleOutStack) -> list[tuple[str, str, Decimal, Decimal, str, int]]:
    return stack.sql(  # type: ignore[return-value]
        "SELECT id, side, price_low, price_high, status, first_seen_ts_ms FROM orderbook_zones_current "
        "WHERE symbol = 'BTCEUR'"
    )


def metrics_rows(stack: ScaleOutStack) -> list[tuple[int, int]]:
    return stack.sql(
        "SELECT ts_ms, update_id FROM orderbook_metrics WHERE symbol = 'BTCEUR' ORDER BY ts_ms, id"
    )  # type: ignore[return-value]


def block_keys(stack: ScaleOutStack) -> list[tuple[str, str, int]]:
    return stack.sql("SELECT symbol, direction, created_ts_ms FROM order_blocks_1h")  # type: ignore[return-value]


def last_block_run_ms(stack: ScaleOutStack) -> int:
    rows = stack.sql("SELECT finished_at_ms FROM order_blocks_1h_runs WHERE symbol = 'BTCEUR'")
    return int(rows[0][0]) if rows else 0


def assert_single_writer(rows: list[tuple[int, int]]) -> None:
    """One streamer: one metrics row per publication time and update ids never going back."""
    stamps = [ts for ts, _ in rows]
    assert len(stamps) == len(set(stamps)), "two metrics rows with the same ts_ms: more than one writer"
    ids = [uid for _, uid in rows]
    assert all(x <= y for x, y in itertools.pairwise(ids)), "update_id went backwards across metrics rows"


def assert_no_duplicate_live_zones(rows: list[tuple[str, str, Decimal, Decimal, str, int]]) -> None:
    live = sorted(
        (side, low, high, zid)
        for zid, side, low, high, status, _ in rows
        if status in ("candidate", "confirmed")
    )
    for (side1, _, high1, id1), (side2, low2, _, id2) in itertools.pairwise(live):
        if side1 == side2:
            assert low2 > high1, f"zones {id1} and {id2} cover the same prices: a zone was duplicated"


async def same_book_on_both(stack: ScaleOutStack) -> tuple[dict[str, Any], dict[str, Any]]:
    """Read /api/book from A and B at the same moment (retrying when a publication falls between)."""
    async with httpx.AsyncClient(timeout=5) as http:
        for _ in range(40):
            a, b = await asyncio.gather(
                http.get(f"{stack.web_a_url}/api/book"), http.get(f"{stack.web_b_url}/api/book")
            )
            book_a, book_b = a.json(), b.json()
            if book_a["ts_ms"] == book_b["ts_ms"] and book_a["status"] == "live":
                return book_a, book_b
    raise AssertionError(
        f"A and B never served the same live publication: {book_a['ts_ms']} vs {book_b['ts_ms']}"
    )


# ---------------------------------------------------------------------------------------------


async def test_clients_on_both_web_processes_receive_the_same_messages(stack):
    async with OverlayClient("A", stack.web_a_url) as a, OverlayClient("B", stack.web_b_url) as b:
        for client in (a, b):
            await client.until(lambda c: bool(c.snapshots("connect")), "the connect snapshot")
            assert client.messages[0]["type"] == "snapshot"
            assert set(client.messages[0]["state"]) >= {"zones", "orderblocks", "metrics", "status"}
        await a.until(lambda c: latest_epoch(c) is not None, "a first delta")
        epoch = latest_epoch(a)
        assert epoch is not None
        # a wall makes the window carry zone changes, not only the per-cycle metrics
        await asyncio.to_thread(place_wall_near_mid, stack, "bid", 250)
        for client in (a, b):
            await client.until(
                lambda c: has_window(c, b if c is a else a, epoch, 24, kind="zones"),
                "24 common deltas including a zones change",
            )
        window = assert_same_stream(a, b, epoch)
    kinds = {m["kind"] for m in window}
    assert {"metrics", "zones"} <= kinds
    assert len(window) >= 20
    assert b.epochs() == a.epochs() == [epoch]


async def test_both_web_processes_serve_the_same_published_book_matching_the_exchange(stack):
    book_a, book_b = await same_book_on_both(stack)
    assert book_a == book_b
    assert len(book_a["bids"]) == len(book_a["asks"]) == 100
    async with httpx.AsyncClient(timeout=5) as http:
        truth = (
            await http.get(
                f"{stack.sim_url}/sim/truth", params={"update_id": book_a["update_id"], "limit": 100}
            )
        ).json()
        health_a = (await http.get(f"{stack.web_a_url}/api/health")).json()
        health_b = (await http.get(f"{stack.web_b_url}/api/health")).json()
    assert book_differences(book_a, truth) == []
    assert health_a["status"] == health_b["status"] == "live"


def test_derived_data_is_stored_in_postgres(stack):
    price = place_wall_near_mid(stack, "ask", 350)
    wait_until(
        lambda: any(side == "ask" and low <= price <= high for _, side, low, high, _, _ in zone_rows(stack)),
        TIMEOUT,
        f"an ask zone around the wall at {price} in orderbook_zones_current",
        stack.worker.log,
    )
    published = stack.sql("SELECT symbol, status, update_id FROM orderbook_published")
    assert published == [("BTCEUR", "live", published[0][2])]
    rows = metrics_rows(stack)
    assert len(rows) >= 10
    assert_single_writer(rows)
    assert stack.sql("SELECT count(*) FROM orderbook_zones_history")[0][0] > 0
    assert stack.sql("SELECT count(*) FROM btc_eur_1h")[0][0] >= 1000
    assert stack.sql("SELECT count(*) FROM order_blocks_1h WHERE symbol = 'BTCEUR'")[0][0] > 0
    # only the worker streams: neither web process opened an exchange connection of its own
    assert stack.sim_state()["connections"] == 1


async def test_streamer_crash_and_restart_converge_without_duplicates_or_loss(stack):
    blocking = asyncio.to_thread  # DB/HTTP polling helpers are synchronous: keep the readers running
    await blocking(place_wall_near_mid, stack, "bid", 450)
    async with OverlayClient("A", stack.web_a_url) as a, OverlayClient("B", stack.web_b_url) as b:
        await a.until(lambda c: latest_epoch(c) is not None, "a first delta")
        old_epoch = latest_epoch(a)
        assert old_epoch is not None
        await b.until(lambda c: has_window(c, a, old_epoch, 8), "8 common deltas before the crash")
        await blocking(
            wait_until, lambda: any(s == "bid" for _, s, *_ in zone_rows(stack)), TIMEOUT, "a bid zone stored"
        )
        before_book = await blocking(stack.wait_live)

        # read before the kill: a commit the worker sent just before dying may land after it
        zones_before = {zid: first_seen for zid, _, _, _, _, first_seen in await blocking(zone_rows, stack)}
        metrics_before = await blocking(metrics_rows, stack)
        blocks_before = await blocking(block_keys, stack)
        run_before = await blocking(last_block_run_ms, stack)
        stack.worker.kill()  # SIGKILL: no clean-up, mid-cycle
        restarted_ms = int(time.time() * 1000)
        stack.worker.start()

        # both clients see a new epoch, get a fresh state ("epoch" snapshot), then identical deltas
        for client in (a, b):
            await client.until(
                lambda c: any(s["epoch"] not in (None, old_epoch) for s in c.snapshots("epoch")),
                "a snapshot for the new epoch",
            )
        new_epoch = a.snapshots("epoch")[-1]["epoch"]
        assert b.snapshots("epoch")[-1]["epoch"] == new_epoch
        assert a.snapshots("epoch")[-1]["seq"] == b.snapshots("epoch")[-1]["seq"]
        for client in (a, b):
            await client.until(
                lambda c: has_window(c, b if c is a else a, new_epoch, 12, kind="metrics"),
                "12 common deltas in the new epoch",
            )
        assert_same_stream(a, b, new_epoch)
        assert a.epochs()[-1] == b.epochs()[-1] == new_epoch  # the dead epoch never comes back

    # clients that reconnect now converge on the same epoch
    async with OverlayClient("A2", stack.web_a_url) as a2, OverlayClient("B2", stack.web_b_url) as b2:
        for client in (a2, b2):
            await client.until(lambda c: latest_epoch(c) is not None, "a delta after reconnecting")
            assert latest_epoch(client) == new_epoch

    after_book = await blocking(stack.wait_live, before_book["update_id"])
    assert after_book["update_id"] > before_book["update_id"]
    metrics_after = await blocking(metrics_rows, stack)
    assert metrics_after[: len(metrics_before)] == metrics_before, (
        "metrics rows from before the crash changed"
    )
    assert any(ts > restarted_ms for ts, _ in metrics_after), "no metrics rows after the restart"
    assert_single_writer(metrics_after)
    zones_after = await blocking(zone_rows, stack)
    assert_no_duplicate_live_zones(zones_after)
    kept = {zid: first for zid, _, _, _, _, first in zones_after if zid in zones_before}
    assert kept, "no zone survived the restart: the current set was not restored"
    assert kept == {zid: zones_before[zid] for zid in kept}, "restored zones lost their first-seen time"
    # a candle closing after the restart triggers an order-block run: blocks stay unique, none lost
    await blocking(stack.control, "close_candle")
    await blocking(
        wait_until,
        lambda: last_block_run_ms(stack) > run_before,
        TIMEOUT,
        "an order-block run after the restart",
        stack.worker.log,
    )
    blocks_after = await blocking(block_keys, stack)
    assert len(blocks_after) == len(set(blocks_after))
    assert set(blocks_before) <= set(blocks_after)
