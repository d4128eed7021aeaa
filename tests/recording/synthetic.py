"""A small recording written by hand in our line format: a BTCEUR depth stream of one-id events, an
aggTrade after every event, and snapshots where asked, with the book at every update id to check
against."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from apps.recording.domain.lines import frame_line, header_line, rest_line

FIRST_ID = 1000
STEP_NS = 100_000_000  # an event every 100 ms
START_NS = 1_700_000_000_000_000_000 - 1_700_000_000_000_000_000 % (3600 * 10**9) + 60 * 10**9


def price(value: int) -> str:
    return f"{value}.00000000"


@dataclass
class Synthetic:
    path: Path
    events: int
    snapshots: list[int]
    books: dict[int, tuple[dict[Decimal, Decimal], dict[Decimal, Decimal]]] = field(default_factory=dict)
    frames: list[str] = field(default_factory=list)  # every frame line's text, in order

    def time_of(self, update_id: int) -> int:
        return START_NS + (update_id - FIRST_ID) * STEP_NS

    def levels(self, update_id: int) -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
        bids, asks = self.books[update_id]
        return sorted(bids.items(), reverse=True), sorted(asks.items())


def write_synthetic(
    path: Path, events: int, snapshots: list[int], extra: dict[int, list[str]] | None = None
) -> Synthetic:
    """Events FIRST_ID .. FIRST_ID + events - 1; a snapshot of the book after each id in `snapshots`,
    received 50 ms after that event; `extra` frames (raw texts) after the event of their id."""
    synthetic = Synthetic(path, events, sorted(snapshots))
    bids = {Decimal(80 + i): Decimal(1) for i in range(10)}
    asks = {Decimal(100 + i): Decimal(1) for i in range(10)}
    lines = [header_line(START_NS - 1, "BTCEUR", 5000)]
    for update_id in range(FIRST_ID, FIRST_ID + events):
        bid, ask = 80 + update_id % 10, 100 + update_id % 7
        bid_qty, ask_qty = Decimal(update_id % 5), Decimal(1 + update_id % 3)
        for side, at, qty in ((bids, bid, bid_qty), (asks, ask, ask_qty)):
            if qty:
                side[Decimal(at)] = qty
            else:
                side.pop(Decimal(at), None)
        synthetic.books[update_id] = (dict(bids), dict(asks))
        ns = synthetic.time_of(update_id)
        data = {
            "e": "depthUpdate",
            "E": ns // 1_000_000,
            "s": "BTCEUR",
            "U": update_id,
            "u": update_id,
            "b": [[price(bid), f"{bid_qty}.00000000"]],
            "a": [[price(ask), f"{ask_qty}.00000000"]],
        }
        trade = {
            "e": "aggTrade",
            "E": ns // 1_000_000,
            "s": "BTCEUR",
            "a": update_id,
            "p": price(90),
            "q": "0.10000000",
            "f": update_id,
            "l": update_id,
            "T": ns // 1_000_000 - 1,
            "m": True,
            "M": True,
        }
        texts = [
            json.dumps({"stream": "btceur@depth@100ms", "data": data}, separators=(",", ":")),
            json.dumps({"stream": "btceur@aggTrade", "data": trade}, separators=(",", ":")),
            *(extra or {}).get(update_id, []),
        ]
        for offset, text in enumerate(texts):
            lines.append(frame_line(ns + offset, text))
            synthetic.frames.append(text)
        if update_id in snapshots:
            body = {
                "lastUpdateId": update_id,
                "bids": [[price(int(p)), f"{q}.00000000"] for p, q in sorted(bids.items(), reverse=True)],
                "asks": [[price(int(p)), f"{q}.00000000"] for p, q in sorted(asks.items())],
            }
            request = "/api/v3/depth?symbol=BTCEUR&limit=5000"
            lines.append(rest_line(ns + STEP_NS // 2, request, json.dumps(body, separators=(",", ":"))))
    path.write_text("".join(lines))
    return synthetic
