"""1h candles of the simulated market: a deterministic closed history plus the live candle (the 5m and
15m series derived from it are in apps.simulator.intraday).

Pure: time comes in as ``now_ms``; randomness from a seeded ``random.Random``. Prices are integer ticks
(0.01), base volume integer steps (0.00001), quote volume integer units of 0.0000001 (tick x step).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, replace

HOUR_MS = 3_600_000


@dataclass(frozen=True, slots=True)
class Candle:
    open_ms: int
    open: int
    high: int
    low: int
    close: int
    volume: int  # base, steps of 0.00001
    quote_volume: int  # quote, units of 0.0000001
    trades: int
    taker_base: int
    taker_quote: int
    first_trade_id: int
    last_trade_id: int
    closed: bool
    interval_ms: int = HOUR_MS

    @property
    def close_ms(self) -> int:
        return self.open_ms + self.interval_ms - 1


class CandleSeries:
    """Closed history (``history_hours`` candles ending at ``start_price``) and the live candle."""

    def __init__(
        self, *, seed: int, start_price_ticks: int, start_ms: int, history_hours: int = 2000
    ) -> None:
        rng = random.Random(seed * 7919 + 17)
        live_open = start_ms - start_ms % HOUR_MS
        self._history: list[Candle] = []
        close = start_price_ticks
        trade_id = 3_000_000
        drift = 0.0
        backwards: list[tuple[int, int, int, int, int, int, int]] = []
        for _ in range(history_hours):
            if rng.random() < 0.04:
                drift = rng.gauss(0.0, 0.003)  # regime change: trending stretches form impulses
            move = rng.gauss(drift, 0.005)
            if rng.random() < 0.03:
                move += rng.choice((-1, 1)) * rng.uniform(0.01, 0.025)  # impulsive candle
            open_ = max(100, int(close / (1.0 + move)))
            body_high, body_low = max(open_, close), min(open_, close)
            high = body_high + int(abs(rng.gauss(0.0, 0.0025)) * body_high)
            low = max(1, body_low - int(abs(rng.gauss(0.0, 0.0025)) * body_low))
            volume = int(math.exp(rng.uniform(math.log(5), math.log(120))) * 100_000)
            trades = max(1, volume // 2_000 + rng.randint(0, 500))
            taker = int(volume * rng.uniform(0.3, 0.7))
            backwards.append((open_, high, low, close, volume, trades, taker))
            close = open_
        count = len(backwards)
        for index, (open_, high, low, close_, volume, trades, taker) in enumerate(reversed(backwards)):
            open_ms = live_open - (count - index) * HOUR_MS
            avg = (open_ + close_ + high + low) // 4
            self._history.append(
                Candle(
                    open_ms,
                    open_,
                    high,
                    low,
                    close_,
                    volume,
                    volume * avg,
                    trades,
                    taker,
                    taker * avg,
                    trade_id + 1,
                    trade_id + trades,
                    True,
                )
            )
            trade_id += trades
        self._live = _empty_candle(live_open, start_price_ticks)

    @property
    def live(self) -> Candle:
        return self._live

    @property
    def closed(self) -> list[Candle]:
        return self._history

    def on_trade(
        self, price: int, qty: int, taker_buy: bool, first_trade_id: int, last_trade_id: int
    ) -> None:
        """Fold one aggTrade into the live candle (its open stays the previous close, so candles chain)."""
        self._live = fold_trade(self._live, price, qty, taker_buy, first_trade_id, last_trade_id)

    def roll(self, now_ms: int) -> list[Candle]:
        """Close the live candle(s) whose hour has ended by ``now_ms``; returns the closed candles."""
        closed = []
        while now_ms >= self._live.open_ms + HOUR_MS:
            closed.append(self.force_close())
        return closed

    def force_close(self) -> Candle:
        """Close the live candle now; the next one opens at its open time + 1 h."""
        done = replace(self._live, closed=True)
        self._history.append(done)
        self._live = _empty_candle(done.open_ms + HOUR_MS, done.close)
        return done

    def query(self, start_ms: int | None, end_ms: int | None, limit: int) -> list[Candle]:
        """Binance /klines selection: by open time, ascending, at most ``limit`` (live candle included)."""
        candles = [*self._history, self._live]
        if start_ms is not None:
            candles = [c for c in candles if c.open_ms >= start_ms]
        if end_ms is not None:
            candles = [c for c in candles if c.open_ms <= end_ms]
        if start_ms is not None:
            return candles[:limit]
        return candles[-limit:]


def fold_trade(
    live: Candle, price: int, qty: int, taker_buy: bool, first_trade_id: int, last_trade_id: int
) -> Candle:
    """The live candle with one more aggTrade in it."""
    count = last_trade_id - first_trade_id + 1
    return replace(
        live,
        high=max(live.high, price),
        low=min(live.low, price),
        close=price,
        volume=live.volume + qty,
        quote_volume=live.quote_volume + qty * price,
        trades=live.trades + count,
        taker_base=live.taker_base + (qty if taker_buy else 0),
        taker_quote=live.taker_quote + (qty * price if taker_buy else 0),
        first_trade_id=live.first_trade_id if live.trades else first_trade_id,
        last_trade_id=last_trade_id,
    )


def _empty_candle(open_ms: int, price: int, interval_ms: int = HOUR_MS) -> Candle:
    return Candle(open_ms, price, price, price, price, 0, 0, 0, 0, 0, -1, -1, False, interval_ms)


def empty_candle(open_ms: int, price: int, interval_ms: int) -> Candle:
    """A candle without trades: open = high = low = close = `price` (what Binance sends for a quiet
    interval)."""
    return _empty_candle(open_ms, price, interval_ms)
