"""The candles a recording holds, for answering GET /api/v3/klines on replay. Pure.

Rows come from recorded klines answers (the REST bodies the streamer fetched) and from closed
candles on the kline streams (``k.x`` true), the later record of a candle winning. An answer holds
only candles that had closed by the replay's position (nothing from the recording's future), selected
as Binance does (by open time, ascending, at most ``limit``: the first ones after ``startTime``, else
the last ones up to ``endTime``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

KlineRow = list[Any]  # [open ms, o, h, l, c, v, close ms, quote volume, trades, taker base, taker quote, "0"]


def row_of_kline(k: dict[str, Any]) -> KlineRow:
    """The /api/v3/klines row of a kline event's ``k`` object."""
    return [k["t"], k["o"], k["h"], k["l"], k["c"], k["v"], k["T"], k["q"], k["n"], k["V"], k["Q"], k["B"]]


def plausible_row(row: Any) -> bool:
    return isinstance(row, list) and len(row) >= 7 and type(row[0]) is int and type(row[6]) is int


@dataclass
class KlineArchive:
    """Rows by (symbol, interval), each by open time."""

    rows: dict[tuple[str, str], dict[int, KlineRow]] = field(default_factory=dict)

    def add_rest_body(self, symbol: str, interval: str, body: str) -> int:
        """The rows of one recorded klines answer; returns how many were usable."""
        try:
            rows = json.loads(body)
        except (ValueError, RecursionError):
            return 0
        if not isinstance(rows, list):
            return 0
        series = self.rows.setdefault((symbol, interval), {})
        added = 0
        for row in rows:
            if plausible_row(row):
                series[row[0]] = row
                added += 1
        return added

    def add_kline_frame(self, text: str) -> bool:
        """A kline stream frame: its candle when it closed (``x`` true)."""
        try:
            k = json.loads(text)["data"]["k"]
            if k["x"] is not True:
                return False
            row = row_of_kline(k)
            symbol, interval = str(k["s"]).upper(), str(k["i"])
        except (ValueError, KeyError, TypeError, RecursionError):
            return False
        if not plausible_row(row):
            return False
        self.rows.setdefault((symbol, interval), {})[row[0]] = row
        return True

    def intervals(self, symbol: str) -> list[str]:
        return sorted(interval for s, interval in self.rows if s == symbol)

    def query(
        self,
        symbol: str,
        interval: str,
        start_ms: int | None,
        end_ms: int | None,
        limit: int,
        closed_before_ms: int,
    ) -> list[KlineRow]:
        """Binance's selection among the candles closed before ``closed_before_ms``."""
        series = self.rows.get((symbol, interval), {})
        rows = [series[t] for t in sorted(series) if series[t][6] < closed_before_ms]
        if start_ms is not None:
            rows = [r for r in rows if r[0] >= start_ms]
        if end_ms is not None:
            rows = [r for r in rows if r[0] <= end_ms]
        return rows[:limit] if start_ms is not None else rows[-limit:]
