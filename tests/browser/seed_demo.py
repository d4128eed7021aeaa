"""Seed a database with a deterministic chart scene (run as a script against DATABASE_URL).

    DATABASE_URL=sqlite:////tmp/x.sqlite3 python -m tests.browser.seed_demo --now-ms 1764000000000

Candles: 300 closed 1h bars ending before the current hour, a random walk around 87,000; the last
120 of those hours also as 5m (1,440) and 15m (480) candles.
Order blocks: one fresh bullish, one touched bearish, one invalid bullish. Zones: a confirmed
bid band and a candidate ask band around the last close, and a pulled ask band.
Prints the scene as JSON on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
from decimal import Decimal

HOUR_MS = 3_600_000
FIVE_MS = 300_000
INTRADAY_HOURS = 120  # five days of 5m (1,440 bars: more than the page's first 1,000) and 15m


def seed(now_ms: int) -> dict:
    from apps.book.models import OrderbookMetric, PublishedBook
    from apps.orderblocks.models import Candle, OrderBlock
    from apps.zones.models import ZoneCurrent

    symbol = "BTCEUR"
    rng = random.Random(7)
    current_hour = now_ms - now_ms % HOUR_MS
    first = current_hour - 300 * HOUR_MS
    price = Decimal("86500")
    candles = []
    for i in range(300):
        o = price
        c = (o + Decimal(rng.randint(-180, 190))).quantize(Decimal("0.01"))
        h = max(o, c) + Decimal(rng.randint(5, 90))
        low = min(o, c) - Decimal(rng.randint(5, 90))
        candles.append(
            Candle(open_time_ms=first + i * HOUR_MS, open=o, high=h, low=low, close=c, volume=Decimal("3.5"))
        )
        price = c
    Candle.objects.bulk_create(candles)
    last = candles[-1].close
    intraday = seed_intraday(candles[-INTRADAY_HOURS:])

    def block(
        direction: str, bar: int, status: str, low: Decimal, high: Decimal, valid_to_bar: int | None = None
    ):
        return OrderBlock(
            symbol=symbol,
            direction=direction,
            created_ts_ms=first + bar * HOUR_MS,
            valid_from_ts_ms=first + (bar + 3) * HOUR_MS,
            valid_to_ts_ms=None if valid_to_bar is None else first + valid_to_bar * HOUR_MS,
            price_low=low,
            price_high=high,
            atr14=Decimal("142.5"),
            bos_level=high + 150,
            bos_ts_ms=first + (bar + 2) * HOUR_MS,
            touched_ts_ms=None if status == "fresh" else first + (bar + 8) * HOUR_MS,
            status=status,
        )

    OrderBlock.objects.bulk_create(
        [
            block("bullish", 230, "fresh", last - 420, last - 330),
            block("bearish", 250, "touched", last + 260, last + 340),
            block("bullish", 200, "invalid", last - 700, last - 640, valid_to_bar=240),
        ]
    )

    def zone(
        side: str, low: Decimal, high: Decimal, status: str, age_s: int, strength: float, ended_s: int = 0
    ):
        first_seen = now_ms - age_s * 1000
        last_seen = now_ms - ended_s * 1000
        return ZoneCurrent(
            id=f"{symbol}:{side}:{low}:{high}",
            ts_ms=now_ms,
            symbol=symbol,
            side=side,
            price_low=low,
            price_high=high,
            notional=(high - low) * 40 * low / 50,
            strength=strength,
            persistence_s=(last_seen - first_seen) / 1000,
            status=status,
            first_seen_ts_ms=first_seen,
            last_seen_ts_ms=last_seen,
            book_update_id=1000,
        )

    base = (last / 50).to_integral_value() * 50
    ZoneCurrent.objects.bulk_create(
        [
            zone("bid", base - 200, base - 100, "confirmed", 5 * 3600, 9.0),
            zone("ask", base + 150, base + 200, "candidate", 40 * 60, 5.0),
            zone("ask", base + 400, base + 450, "pulled", 3 * 3600, 6.0, ended_s=30),
        ]
    )
    bid, ask = last - Decimal("0.5"), last + Decimal("0.5")
    OrderbookMetric.objects.create(
        ts_ms=now_ms,
        symbol=symbol,
        best_bid=bid,
        best_ask=ask,
        spread=ask - bid,
        mid=(bid + ask) / 2,
        imbalance_topn=0.12,
        update_id=1000,
    )
    PublishedBook.objects.update_or_create(
        symbol=symbol,
        defaults={
            "update_id": 1000,
            "ts_ms": now_ms,
            "status": "live",
            "bids": [[str(bid), "1"]],
            "asks": [[str(ask), "1"]],
            "health": {},
        },
    )
    return {
        "last_close": str(last),
        "first_ms": first,
        "current_hour_ms": current_hour,
        "first_5m_ms": intraday["5m"],
        "first_15m_ms": intraday["15m"],
    }


def seed_intraday(hours: list) -> dict[str, int]:
    """5m candles for `hours` (twelve per hour, a path from each hour's open to its close inside its
    range, so the 5m chart tells the same story as the 1h one) and 15m candles of three 5m each."""
    from apps.orderblocks.models import Candle5m, Candle15m

    rng = random.Random(11)
    fives = []
    for hour in hours:
        points = [hour.open + (hour.close - hour.open) * i / 12 for i in range(13)]
        points[1:12] = [
            min(hour.high, max(hour.low, p + Decimal(rng.randint(-40, 40)))) for p in points[1:12]
        ]
        for i in range(12):
            o, c = points[i].quantize(Decimal("0.01")), points[i + 1].quantize(Decimal("0.01"))
            fives.append(
                Candle5m(
                    open_time_ms=hour.open_time_ms + i * FIVE_MS,
                    open=o,
                    high=min(hour.high, max(o, c) + Decimal(rng.randint(0, 15))),
                    low=max(hour.low, min(o, c) - Decimal(rng.randint(0, 15))),
                    close=c,
                    volume=Decimal("0.3"),
                )
            )
    Candle5m.objects.bulk_create(fives)
    fifteens = [
        Candle15m(
            open_time_ms=group[0].open_time_ms,
            open=group[0].open,
            high=max(f.high for f in group),
            low=min(f.low for f in group),
            close=group[-1].close,
            volume=sum((f.volume for f in group), Decimal(0)),
        )
        for group in (fives[i : i + 3] for i in range(0, len(fives), 3))
    ]
    Candle15m.objects.bulk_create(fifteens)
    return {"5m": fives[0].open_time_ms, "15m": fifteens[0].open_time_ms}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--now-ms", type=int, required=True)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    import django

    django.setup()
    json.dump(seed(args.now_ms), sys.stdout)


if __name__ == "__main__":
    main()
