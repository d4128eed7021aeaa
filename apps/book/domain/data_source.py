"""Where market data came from, and which sources may share a database.

A database that holds Binance (or imported) candles and order blocks must never receive simulated
ones: `serve --simulator` once appended 2,000 simulated candles after a 60,462-hour gap and turned
24 real order blocks invalid. Binance and imported data describe the same market and may mix. A
replayed recording (`serve --replay`) is real data again but at another time (or shifted to now):
it keeps to databases of replays.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class SourceKind(StrEnum):
    BINANCE = "binance"  # the Binance protocol at a URL (the exchange, or anything speaking it)
    SIMULATOR = "simulator"  # the bundled simulator (`make demo`, `serve --simulator`)
    IMPORT = "import"  # a candle file (`import_candles`)
    REPLAY = "replay"  # a recording replayed (`serve --replay`)


# which market a kind of source describes: sources of one market may share a database
_MARKET = {
    SourceKind.BINANCE: "real",
    SourceKind.IMPORT: "real",
    SourceKind.SIMULATOR: "simulated",
    SourceKind.REPLAY: "replayed",
}


@dataclass(frozen=True)
class DataSource:
    kind: SourceKind
    url: str

    def describe(self) -> str:
        return f"{self.kind} data ({self.url})"


def is_mixing(held: SourceKind, incoming: SourceKind) -> bool:
    """Simulated data never shares a database with real (Binance or imported) data, nor replayed
    data with either."""
    return _MARKET[held] != _MARKET[incoming]


def first_conflict(held: list[DataSource], incoming: DataSource) -> DataSource | None:
    """The first source already in the database that `incoming` must not be mixed with."""
    return next((source for source in held if is_mixing(source.kind, incoming.kind)), None)
