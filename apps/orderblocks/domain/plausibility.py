"""Whether an imported candle can be real BTC/EUR market data: one function per rule, each returning
the problem (naming the field) or None. Pure: the clock is passed in.

`check_bar` (domain.candles) already refuses what the table cannot hold: times off the interval grid,
non-finite or non-positive prices, negative volumes, a high below open/close/low, a low above
open/close. These rules add what a file can get wrong while still fitting the table: a candle from
the future (one such row would become the newest candle and move every order block), one from before
Bitcoin existed, and prices or volumes no market has seen.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

from apps.orderblocks.domain.candles import HOUR_MS, Bar

EARLIEST_OPEN_MS = 1_230_768_000_000  # 2009-01-01T00:00:00Z; the Bitcoin genesis block is 2009-01-03
MAX_PRICE = Decimal("1e9")  # EUR per BTC
MAX_VOLUME = Decimal("1e12")  # BTC per candle (21e6 will ever exist)
PRICE_FIELDS = ("open", "high", "low", "close")


def utc_text(ms: int) -> str:
    """`ms` as ISO 8601 UTC, e.g. 2017-07-01T11:00:00Z (for messages)."""
    try:
        return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, ValueError, OSError):
        return f"{ms} ms"


def current_open_time_ms(now_ms: int, interval_ms: int = HOUR_MS) -> int:
    """Open time of the candle that is open at `now_ms`."""
    return now_ms - now_ms % interval_ms


def open_time_not_in_the_future(bar: Bar, now_ms: int, interval_ms: int = HOUR_MS) -> str | None:
    """No candle opens after the one open now."""
    current = current_open_time_ms(now_ms, interval_ms)
    if bar.open_time_ms > current:
        return (
            f"time: {utc_text(bar.open_time_ms)} is in the future "
            f"(the current candle opened at {utc_text(current)})"
        )
    return None


def open_time_not_before_2009(bar: Bar) -> str | None:
    """No BTC candle before 2009-01-01T00:00:00Z."""
    if bar.open_time_ms < EARLIEST_OPEN_MS:
        return f"time: {utc_text(bar.open_time_ms)} is before 2009-01-01, when Bitcoin began"
    return None


def prices_at_most_max_price(bar: Bar) -> str | None:
    """Every price <= MAX_PRICE (finite and > 0 is check_bar's)."""
    for name in PRICE_FIELDS:
        if getattr(bar, name) > MAX_PRICE:
            return f"{name}: above {MAX_PRICE:f} EUR"
    return None


def volume_at_most_max_volume(bar: Bar) -> str | None:
    """Volume <= MAX_VOLUME (finite and >= 0 is check_bar's)."""
    if bar.volume > MAX_VOLUME:
        return f"volume: above {MAX_VOLUME:f}"
    return None


def implausibility(bar: Bar, now_ms: int, interval_ms: int = HOUR_MS) -> str | None:
    """The first plausibility rule `bar` breaks; None when it passes them all. Call it on a bar
    check_bar accepted (finite numbers)."""
    rules: tuple[Callable[[], str | None], ...] = (
        lambda: open_time_not_in_the_future(bar, now_ms, interval_ms),
        lambda: open_time_not_before_2009(bar),
        lambda: prices_at_most_max_price(bar),
        lambda: volume_at_most_max_volume(bar),
    )
    for rule in rules:
        problem = rule()
        if problem:
            return problem
    return None
