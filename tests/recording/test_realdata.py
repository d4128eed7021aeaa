"""Real Binance recordings (cryptofeed's raw data, ../shared/realdata/binance, see its README) replayed
to the real streamer, one streamer per recorded symbol configured for that symbol: at every update id
the streamer's book is exactly the recorded snapshot plus the recorded diffs (computed here, apart
from the service's code), and its best bid and ask equal the latest recorded bookTicker at or before
that id wherever the recording has one."""

from __future__ import annotations

import asyncio
import bisect
import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pytest
from sortedcontainers import SortedDict

from apps.book.domain.events import Level, Side
from apps.book.domain.order_book import OrderBook
from apps.book.services.streamer import OrderBookStreamer, StreamerSettings
from apps.recording.services.files import load_recording
from apps.simulator.replay.server import ReplayServer

REALDATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "realdata" / "binance"
RECORDINGS = {
    "2021-04-04": ["2021-04-04_BINANCE-ee25be.0"],
    "2021-04-05": ["2021-04-05_BINANCE-b38f7c.0"],
    "2021-04-05-us": ["2021-04-05_BINANCE_US-63b290.0"],
    "2021-04-17": ["2021-04-17_BINANCE.http.0.0", "2021-04-17_BINANCE.ws.1.0"],
    "2021-08-14": ["2021-08-14_BINANCE.http.0.0", "2021-08-14_BINANCE.ws.1.0"],
    "2021-10-12": ["2021-10-12_BINANCE.http.0.0", "2021-10-12_BINANCE.ws.1.0"],
}

pytestmark = [
    pytest.mark.asyncio,
    pytest.mark.skipif(
        not REALDATA.is_dir(),
        reason=f"the real Binance recordings are not there ({REALDATA.resolve()}: ../shared/realdata/binance "
        "beside the checkout)",
    ),
]


# ------------------------------------------------------------------ the expected books, from the files


@dataclass
class Expected:
    """One symbol as the recording has it: its snapshot, its diffs, its bookTickers (by u)."""

    snapshot_id: int = 0
    bids: list[Level] = field(default_factory=list)
    asks: list[Level] = field(default_factory=list)
    diffs: list[dict] = field(default_factory=list)
    tickers: list[dict] = field(default_factory=list)


def expected_of(paths: list[Path]) -> dict[str, Expected]:
    """Read with a parser of its own (cryptofeed's line format, as its README describes it)."""
    symbols: dict[str, Expected] = {}
    for path in paths:
        for line in path.read_text().splitlines():
            if rest := re.match(r"https?://\S+symbol=(\w+)\S* -> [\d.]+: (.*)", line):
                body = json.loads(rest.group(2))
                if "lastUpdateId" in body:
                    book = symbols.setdefault(rest.group(1), Expected())
                    book.snapshot_id = body["lastUpdateId"]
                    book.bids = [(Decimal(p), Decimal(q)) for p, q in body["bids"]]
                    book.asks = [(Decimal(p), Decimal(q)) for p, q in body["asks"]]
            elif frame := re.match(r"[\d.]+: (.*)", line):
                message = json.loads(frame.group(1))
                data = message["data"]
                if "@depth" in message["stream"]:
                    symbols.setdefault(data["s"], Expected()).diffs.append(data)
                elif "@bookTicker" in message["stream"]:
                    symbols.setdefault(data["s"], Expected()).tickers.append(data)
    return {symbol: book for symbol, book in symbols.items() if book.snapshot_id}


class Reference:
    """Snapshot + diffs by Binance's procedure, one diff at a time (exact decimals)."""

    def __init__(self, expected: Expected) -> None:
        self.bids = SortedDict({p: q for p, q in expected.bids if q})
        self.asks = SortedDict({p: q for p, q in expected.asks if q})
        self.update_id = expected.snapshot_id
        self.pending = [d for d in expected.diffs if d["u"] > expected.snapshot_id]
        self.first = True

    def advance_to(self, update_id: int) -> None:
        while self.update_id < update_id:
            diff = self.pending.pop(0)
            if self.first:
                assert diff["U"] <= self.update_id + 1 <= diff["u"]
            else:
                assert diff["U"] == self.update_id + 1, "the recorded chain is contiguous"
            self.first = False
            for side, levels in ((self.bids, diff["b"]), (self.asks, diff["a"])):
                for price, qty in levels:
                    if Decimal(qty) == 0:
                        side.pop(Decimal(price), None)
                    else:
                        side[Decimal(price)] = Decimal(qty)
            self.update_id = diff["u"]
        assert self.update_id == update_id, f"no recorded diff ends at {update_id}"


class CheckedBook(OrderBook):
    """The streamer's own book, checked after every diff it applies."""

    __slots__ = ("check",)

    def apply(self, update_id, bids, asks):
        super().apply(update_id, bids, asks)
        self.check(self)


@dataclass
class SymbolRun:
    symbol: str
    expected: Expected
    reference: Reference
    streamer: OrderBookStreamer
    checked: int = 0
    tickers_checked: int = 0
    problems: list[str] = field(default_factory=list)

    def check(self, book: OrderBook) -> None:
        u = book.update_id
        self.reference.advance_to(u)
        everything = (Decimal(0), Decimal("Infinity"))
        if book.levels_between(Side.BID, *everything) != list(self.reference.bids.items()):
            self.problems.append(f"{self.symbol} bids differ at {u}")
        if book.levels_between(Side.ASK, *everything) != list(self.reference.asks.items()):
            self.problems.append(f"{self.symbol} asks differ at {u}")
        self.checked += 1
        tickers = self.expected.tickers
        at = bisect.bisect_right([t["u"] for t in tickers], u) - 1
        if at >= 0:
            ticker = tickers[at]
            top = (book.best_bid(), book.best_ask())
            wanted = (
                (Decimal(ticker["b"]), Decimal(ticker["B"])),
                (Decimal(ticker["a"]), Decimal(ticker["A"])),
            )
            if top != wanted:
                self.problems.append(f"{self.symbol} top {top} != bookTicker {wanted} at {u}")
            self.tickers_checked += 1


def symbol_run(symbol: str, expected: Expected, replay: ReplayServer, limit: int | None) -> SymbolRun:
    settings = StreamerSettings(
        ws_url=replay.ws_url,
        rest_url=replay.rest_url,
        symbol=symbol,
        snapshot_limit=limit or 5000,
        publish_interval_ms=200,
        watchdog_s=30,
    )
    streamer = OrderBookStreamer(settings)
    run = SymbolRun(symbol, expected, Reference(expected), streamer)
    book = CheckedBook()
    book.check = run.check
    streamer.sync.book = book
    return run


@pytest.mark.parametrize("name", sorted(RECORDINGS))
async def test_every_update_id_of_a_real_recording_is_snapshot_plus_diffs(name):
    paths = [REALDATA / file for file in RECORDINGS[name]]
    expected = expected_of(paths)
    recording = load_recording(paths)
    assert sorted(recording.symbols) == sorted(expected)
    replay = ReplayServer(recording, speed=None, wait_for_clients=len(expected))
    await replay.start()
    runs = [symbol_run(s, expected[s], replay, recording.depth_limit(s)) for s in sorted(expected)]
    tasks = [asyncio.create_task(run.streamer.run()) for run in runs]
    try:
        await replay.wait_finished(timeout=120)
        for run in runs:  # every diff after the snapshot applied
            wanted = run.expected.diffs[-1]["u"]
            async with asyncio.timeout(10):
                while run.streamer.sync.book.update_id < wanted:
                    await asyncio.sleep(0.01)  # the streamer's queue drains; nothing to await on
    finally:
        for run in runs:
            run.streamer.stop()
        await asyncio.gather(*tasks)
        await replay.stop()
    for run in runs:
        after_snapshot = [d for d in run.expected.diffs if d["u"] > run.expected.snapshot_id]
        assert run.problems == [], run.problems[:5]
        assert run.checked == len(after_snapshot) > 0, run.symbol
        assert run.streamer.snapshots_fetched == 1 and dict(run.streamer.sync.resyncs) == {}, run.symbol
        if run.expected.tickers:
            assert run.tickers_checked > 0, run.symbol
    if name != "2021-04-04":  # the one recording without bookTicker
        assert sum(run.tickers_checked for run in runs) > 0
