"""The order blocks confluence measures and their one-hour averages, loaded off the event loop.

- ``ActiveBlocks``: every block that is not invalid, read from ``order_blocks_1h`` on the first cycle,
  again whenever the order-block run count moved (``version``: a run may add blocks or invalidate
  some) and every ``reload_every_s`` (blocks written by a command or another process).
- ``HourOfHeatmap``: the heatmap columns of the last hour (read once, then only the columns finished
  since, at each new column), and each block's ``avg_1h`` from them, worked out again when a column
  came or the blocks changed.
A failed read keeps what was there and is retried at the next occasion; it is logged, not raised.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from decimal import Decimal
from typing import Any

from apps.confluence.domain.history import block_averages, hour_window
from apps.confluence.domain.liquidity import BlockRange, ConfluenceParams
from apps.confluence.services import store
from apps.core.sync_threads import in_sync_thread
from apps.heatmap.domain.grid import column_start
from apps.heatmap.domain.packing import StoredRow

log = logging.getLogger("apps.confluence.live")
OffLoop = Callable[[Awaitable[Any]], Awaitable[Any]]  # the listener's: awaits, timed as off the loop


class ActiveBlocks:
    def __init__(
        self, symbol: str, *, version: Callable[[], int] | None = None, reload_every_s: float = 60.0
    ) -> None:
        self.symbol = symbol
        self.version = version
        self.reload_every_ms = int(reload_every_s * 1000)
        self.blocks: list[BlockRange] | None = None  # None: never read
        self.failures = 0
        self._loaded_ms: int | None = None
        self._loaded_version: int | None = None

    def due(self, now_ms: int) -> bool:
        if self.blocks is None or self._loaded_ms is None:
            return True
        if self.version is not None and self.version() != self._loaded_version:
            return True
        return now_ms - self._loaded_ms >= self.reload_every_ms

    async def reload(self, now_ms: int, off_loop: OffLoop) -> bool:
        """Read the blocks again; True when the set changed."""
        version = self.version() if self.version is not None else None
        self._loaded_ms = now_ms
        try:
            blocks = await off_loop(in_sync_thread(store.active_blocks)(self.symbol))
        except Exception as exc:
            self.failures += 1
            log.warning("confluence: reading the order blocks failed reason=%r", exc)
            return False
        self._loaded_version = version
        if blocks == self.blocks:
            return False
        if self.blocks is None or len(blocks) != len(self.blocks):
            log.info("confluence: %d active order blocks", len(blocks))
        self.blocks = blocks
        return True


class HourOfHeatmap:
    def __init__(self, symbol: str, bin_size: Decimal, column_s: int, params: ConfluenceParams) -> None:
        self.symbol = symbol
        self.bin_size = bin_size
        self.column_s = column_s
        self.params = params
        self.rows: list[StoredRow] = []
        self.averages: dict[str, float | None] = {}
        self.failures = 0
        self._column: int | None = None  # the column during which the rows were last read

    async def refresh(
        self, now_ms: int, blocks: Sequence[BlockRange], blocks_changed: bool, off_loop: OffLoop
    ) -> None:
        column = column_start(now_ms, self.column_s)
        read = column != self._column
        if not read and not blocks_changed:
            return
        if read:
            self._column = column
            since = hour_window(now_ms)
            start = self.rows[-1][0] + 1 if self.rows else since
            try:
                rows = await off_loop(
                    in_sync_thread(store.heatmap_rows)(
                        self.symbol, self.bin_size, self.column_s, start, now_ms // 1000
                    )
                )
            except Exception as exc:
                self.failures += 1
                log.warning("confluence: reading the heatmap columns failed reason=%r", exc)
                rows = []
            self.rows = [row for row in [*self.rows, *rows] if row[0] >= since]
        average = in_sync_thread(block_averages)
        self.averages = await off_loop(average(self.rows, list(blocks), self.params, self.bin_size))
