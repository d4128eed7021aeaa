"""The active order blocks with what was last pushed for each. Pure.

``TrackedBlocks`` holds the blocks prepared for ``measure_blocks`` (``Blocks``), their one-hour
averages by position, and the readings last pushed (``SentReadings`` arrays, and by key); each cycle
``changes`` says which blocks to push (the rules of apps.confluence.domain.changes) and records them
as pushed. A new block list keeps what was pushed for the blocks still in it; those that left (an
invalid block, one deleted) are handed back once, to be pushed as unknown.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from apps.confluence.domain.changes import SentReadings
from apps.confluence.domain.ladder import FollowedBook
from apps.confluence.domain.liquidity import BlockRange, ConfluenceParams
from apps.confluence.domain.measure import (
    Blocks,
    MeasureMemo,
    Reading,
    Readings,
    ZoneSpans,
    block_averages_array,
    measure_blocks,
)
from apps.zones.domain.detection import AnalysisBounds
from apps.zones.domain.tracking import ZoneRecord

Change = tuple[int, Reading | None]  # (position, reading to push; None: unknown)


class TrackedBlocks:
    def __init__(self, params: ConfluenceParams) -> None:
        self.params = params
        self.blocks = Blocks.of((), params)
        self.pushed = SentReadings(0, params.change_fraction)
        self.averages = np.empty(0)
        self.sent: dict[str, Reading] = {}  # the readings last pushed, of the blocks known then
        self._spans = ZoneSpans.of(())
        self._spans_key: tuple[tuple[object, ...], ...] = ()  # what the spans were made of
        self._memo = MeasureMemo()

    def __len__(self) -> int:
        return len(self.blocks)

    def set_blocks(self, blocks: Sequence[BlockRange], averages: Mapping[str, float | None]) -> list[str]:
        """Track these blocks (OffGrid if a bound is not a whole number of 1e-8). Returns the keys of
        the blocks that were pushed as known and are gone: push them as unknown."""
        self.blocks = Blocks.of(blocks, self.params)
        keys = set(self.blocks.keys)
        gone = [key for key in self.sent if key not in keys]
        for key in gone:
            del self.sent[key]
        self.pushed = SentReadings.of(self.blocks.keys, self.sent, self.params.change_fraction)
        self.set_averages(averages)
        return gone

    def set_averages(self, averages: Mapping[str, float | None]) -> None:
        self.averages = block_averages_array(self.blocks, averages)

    def measure(self, book: FollowedBook, bounds: AnalysisBounds, zones: Iterable[ZoneRecord]) -> Readings:
        """This cycle's readings of every block."""
        zones = list(zones)
        key = tuple((z.id, z.status, z.side, z.price_low, z.price_high) for z in zones)
        if key != self._spans_key:  # the zones changed (they mostly do not, cycle to cycle)
            self._spans, self._spans_key = ZoneSpans.of(zones), key
        return measure_blocks(self.blocks, book, bounds, self._spans, self.params, self.averages, self._memo)

    def unknown(self) -> Readings:
        """Readings saying every block is unknown (the book is not live, ...)."""
        return Readings.unknown(len(self.blocks))

    def changes(self, readings: Readings) -> list[Change]:
        """The blocks whose reading is to be pushed (``SentReadings.changed``), recorded as pushed."""
        out: list[Change] = []
        keys = self.blocks.keys
        for at in self.pushed.changed(readings):
            reading = readings.reading(at)
            self.pushed.record(at, reading)
            if reading is None:
                self.sent.pop(keys[at], None)
            else:
                self.sent[keys[at]] = reading
            out.append((at, reading))
        return out
