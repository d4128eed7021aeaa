"""5m and 15m candles of the simulated market, consistent with its 1h candles. Pure.

History: every closed 1h candle of the history is split into twelve 5m candles (`split_hour`: a
seeded path from its open to its close inside its range, so the twelve open at its open, close at
its close, reach its high and its low, and their volumes add up to its volume); 15m candles are three
of those 5m candles each (`merge_candles`), so 5m, 15m and 1h agree as Binance's do. The history is
made on demand (a 5m candle is only built when asked for), one hour at a time.

Live: from the hour the simulator started, each series has its own live candle that folds the same
trades as the 1h one and closes on its own clock (or on request, like the 1h candle); the candles
between the start hour and the start time had no trades: flat at the start price.

Every series is contiguous in time (one candle per interval, none missing), so a Binance /klines
selection is index arithmetic (`IntradaySeries.query`).
"""

from __future__ import annotations

import functools
import random
from collections.abc import Sequence
from dataclasses import replace

from apps.simulator.klines import HOUR_MS, Candle, empty_candle, fold_trade

MINUTE_MS = 60_000
BASE_MS = 5 * MINUTE_MS  # the finest interval the simulator makes; coarser ones merge these
PIECES = HOUR_MS // BASE_MS


def _split(total: int, weights: Sequence[float]) -> list[int]:
    """`total` as integer parts proportional to `weights`, summing exactly to `total`."""
    whole = sum(weights)
    parts = [int(total * w / whole) for w in weights]
    parts[-1] += total - sum(parts)
    return parts


def _path(hour: Candle, rng: random.Random) -> list[int]:
    """PIECES + 1 prices from the hour's open to its close (a Brownian bridge), inside its range."""
    walk = [0.0]
    for _ in range(PIECES):
        walk.append(walk[-1] + rng.gauss(0.0, 1.0))
    bridge = [walk[i] - walk[-1] * i / PIECES for i in range(PIECES + 1)]
    reach = max(abs(b) for b in bridge) or 1.0
    scale = (hour.high - hour.low) / 2 / reach
    points = [
        min(hour.high, max(hour.low, round(hour.open + (hour.close - hour.open) * i / PIECES + b * scale)))
        for i, b in enumerate(bridge)
    ]
    points[0], points[-1] = hour.open, hour.close
    return points


def split_hour(hour: Candle, seed: int) -> list[Candle]:
    """The twelve 5m candles of a closed 1h candle (deterministic for a seed and hour)."""
    rng = random.Random(seed * 1_000_003 + hour.open_ms // BASE_MS)
    points = _path(hour, rng)
    weights = [rng.uniform(0.3, 1.7) for _ in range(PIECES)]
    volumes = _split(hour.volume, weights)
    trades = _split(hour.trades, weights)
    takers = [min(v, t) for v, t in zip(volumes, _split(hour.taker_base, weights), strict=True)]
    top, bottom = rng.randrange(PIECES), rng.randrange(PIECES)
    pieces: list[Candle] = []
    trade_id = hour.first_trade_id
    wick = (hour.high - hour.low) / 6  # a typical wick: a sixth of the hour's range
    for i in range(PIECES):
        open_, close = points[i], points[i + 1]
        high = min(hour.high, max(open_, close) + int(abs(rng.gauss(0, 1)) * wick))
        low = max(hour.low, min(open_, close) - int(abs(rng.gauss(0, 1)) * wick))
        high, low = (hour.high if i == top else high), (hour.low if i == bottom else low)
        avg = (open_ + high + low + close) // 4
        pieces.append(
            Candle(
                open_ms=hour.open_ms + i * BASE_MS,
                open=open_,
                high=high,
                low=low,
                close=close,
                volume=volumes[i],
                quote_volume=volumes[i] * avg,
                trades=trades[i],
                taker_base=takers[i],
                taker_quote=takers[i] * avg,
                first_trade_id=trade_id if trades[i] else -1,
                last_trade_id=trade_id + trades[i] - 1 if trades[i] else -1,
                closed=True,
                interval_ms=BASE_MS,
            )
        )
        trade_id += trades[i]
    return pieces


def merge_candles(candles: Sequence[Candle], interval_ms: int) -> Candle:
    """One candle of `interval_ms` made of consecutive shorter ones."""
    traded = [c for c in candles if c.trades]
    return Candle(
        open_ms=candles[0].open_ms,
        open=candles[0].open,
        high=max(c.high for c in candles),
        low=min(c.low for c in candles),
        close=candles[-1].close,
        volume=sum(c.volume for c in candles),
        quote_volume=sum(c.quote_volume for c in candles),
        trades=sum(c.trades for c in candles),
        taker_base=sum(c.taker_base for c in candles),
        taker_quote=sum(c.taker_quote for c in candles),
        first_trade_id=traded[0].first_trade_id if traded else -1,
        last_trade_id=traded[-1].last_trade_id if traded else -1,
        closed=all(c.closed for c in candles),
        interval_ms=interval_ms,
    )


class IntradaySeries:
    """One interval (5m or 15m): history derived from the 1h history, then its own live candle."""

    def __init__(
        self, hours: Sequence[Candle], interval_ms: int, *, seed: int, start_ms: int, start_price_ticks: int
    ) -> None:
        if interval_ms % BASE_MS or HOUR_MS % interval_ms:
            raise ValueError(f"interval_ms must be a multiple of {BASE_MS} that divides an hour")
        self.interval_ms = interval_ms
        self._hours = list(hours)  # the closed 1h history the simulator started with
        self._seed = seed
        self._per_hour = HOUR_MS // interval_ms
        origin = start_ms - start_ms % HOUR_MS  # the 1h live candle's open
        self.first_ms = self._hours[0].open_ms if self._hours else origin
        self._derived = len(self._hours) * self._per_hour
        price = start_price_ticks  # where the 1h history ends and the live candles open
        live_open = start_ms - start_ms % interval_ms
        # the start hour up to the start: no trades yet
        self._rolled = [
            replace(empty_candle(t, price, interval_ms), closed=True)
            for t in range(origin, live_open, interval_ms)
        ]
        self._live = empty_candle(live_open, price, interval_ms)

    @functools.lru_cache(maxsize=512)  # noqa: B019  (one series per interval, alive as long as the simulator)
    def _hour_candles(self, hour_index: int) -> tuple[Candle, ...]:
        fives = split_hour(self._hours[hour_index], self._seed)
        step = self.interval_ms // BASE_MS
        return tuple(merge_candles(fives[i : i + step], self.interval_ms) for i in range(0, PIECES, step))

    def _at(self, index: int) -> Candle:
        if index < self._derived:
            hour_index, piece = divmod(index, self._per_hour)
            return self._hour_candles(hour_index)[piece]
        index -= self._derived
        return self._rolled[index] if index < len(self._rolled) else self._live

    @property
    def _count(self) -> int:
        return self._derived + len(self._rolled) + 1

    @property
    def live(self) -> Candle:
        return self._live

    @property
    def closed(self) -> list[Candle]:
        """Every closed candle, oldest first (builds the whole history: for tests)."""
        return [self._at(i) for i in range(self._count - 1)]

    def on_trade(
        self, price: int, qty: int, taker_buy: bool, first_trade_id: int, last_trade_id: int
    ) -> None:
        self._live = fold_trade(self._live, price, qty, taker_buy, first_trade_id, last_trade_id)

    def roll(self, now_ms: int) -> list[Candle]:
        """Close the live candle(s) whose interval has ended by ``now_ms``; returns them."""
        closed = []
        while now_ms >= self._live.open_ms + self.interval_ms:
            closed.append(self.force_close())
        return closed

    def force_close(self) -> Candle:
        """Close the live candle now; the next one opens at its open time + the interval."""
        done = replace(self._live, closed=True)
        self._rolled.append(done)
        self._live = empty_candle(done.open_ms + self.interval_ms, done.close, self.interval_ms)
        return done

    def query(self, start_ms: int | None, end_ms: int | None, limit: int) -> list[Candle]:
        """Binance /klines selection: by open time, ascending, at most ``limit`` (live candle included)."""
        step = self.interval_ms
        last = self._count - 1
        low = 0 if start_ms is None else max(0, -((self.first_ms - start_ms) // step))  # ceil
        high = last if end_ms is None else min(last, (end_ms - self.first_ms) // step)
        if high < low:
            return []
        if start_ms is not None:
            indexes = range(low, min(high, low + limit - 1) + 1)
        else:
            indexes = range(max(low, high - limit + 1), high + 1)
        return [self._at(i) for i in indexes]
