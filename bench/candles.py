"""Chart timeframes benchmark: GET /api/candles on a full 1h history (4h and 1d aggregated at query time).

    python -m bench.candles [--hours 157061] [--repeat 7]

Builds a throw-away SQLite database (a seeded random walk of `--hours` closed 1h candles: the default
is every hour from 2009-01-12 to the end of 2026, what tests/hostile imports), then times the whole
Django view through the test client (query validation, the read, the aggregation, the JSON) for:

- 1h / 4h / 1d, limit 1000 (what the page asks for when it opens or switches);
- 4h, limit 1000, `to` in the middle of the history (a page loaded by scrolling left);
- 1d, limit 5000 (API_MAX_LIMIT: 13.7 years) and 1d over the whole history (the selector with a
  limit above it).

Medians and maxima of `--repeat` runs, with the answer's size. Progress on stderr.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

HOUR_MS = 3_600_000
START_MS = 1_231_718_400_000  # 2009-01-12T00:00Z


def progress(message: str) -> None:
    sys.stderr.write(f"bench.candles: {message}\n")
    sys.stderr.flush()


def walk(count: int, seed: int = 7) -> Iterator[Any]:
    from apps.orderblocks.domain.candles import Bar

    rng = random.Random(seed)
    price = 1000.0
    for i in range(count):
        close = max(1.0, price * (1 + rng.gauss(0, 0.006)))
        high, low = (
            max(price, close) * (1 + abs(rng.gauss(0, 0.002))),
            min(price, close) * (1 - abs(rng.gauss(0, 0.002))),
        )
        cents = [Decimal(f"{x:.2f}") for x in (price, high, low, close)]
        yield Bar(START_MS + i * HOUR_MS, *cents, Decimal(f"{rng.uniform(1, 90):.5f}"))
        price = float(cents[3])


def timed(label: str, call: Callable[[], int], repeat: int) -> dict[str, Any]:
    times: list[float] = []
    size = 0
    for _ in range(repeat):
        started = time.perf_counter()
        size = call()
        times.append((time.perf_counter() - started) * 1000)
    row = {"what": label, "median_ms": statistics.median(times), "max_ms": max(times), "bytes": size}
    progress(f"{label}: median {row['median_ms']:.1f} ms, max {row['max_ms']:.1f} ms, {size:,} bytes")
    return row


def run(hours: int, repeat: int) -> list[dict[str, Any]]:
    import django

    django.setup()
    from django.conf import settings

    from apps.core.garbage_collection import settle_after_startup

    settle_after_startup(settings.CONFIG.gc_gen0_threshold)  # as in every server process (project/asgi.py)
    from django.core.management import call_command
    from django.test import Client

    from apps.orderblocks import selectors
    from apps.orderblocks.services.candles import store_in_batches

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    store_in_batches(walk(hours), batch_size=5000)
    progress(f"{hours:,} hourly candles stored in {time.perf_counter() - started:.1f} s")
    client = Client(SERVER_NAME="localhost")
    middle_s = (START_MS + hours // 2 * HOUR_MS) // 1000

    def api(**params: Any) -> int:
        response = client.get("/api/candles", params)
        assert response.status_code == 200, response.content[:200]
        return len(response.content)

    rows = [
        timed("1h, limit 1000", lambda: api(tf="1h", limit=1000), repeat),
        timed("4h, limit 1000", lambda: api(tf="4h", limit=1000), repeat),
        timed("1d, limit 1000", lambda: api(tf="1d", limit=1000), repeat),
        timed(
            "4h, limit 1000, to = mid-history (scroll left)",
            lambda: api(tf="4h", limit=1000, to=middle_s),
            repeat,
        ),
        timed("1d, limit 5000 (API_MAX_LIMIT)", lambda: api(tf="1d", limit=5000), repeat),
        timed(
            "1d, whole history (selector)", lambda: len(selectors.candles("1d", None, None, 10**6)), repeat
        ),
    ]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--hours", type=int, default=157_061)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["DATABASE_URL"] = f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
        rows = run(args.hours, args.repeat)
    print(f"{'what':<50} {'median ms':>10} {'max ms':>8} {'bytes / candles':>16}")
    for row in rows:
        print(f"{row['what']:<50} {row['median_ms']:>10.1f} {row['max_ms']:>8.1f} {row['bytes']:>16,}")


if __name__ == "__main__":
    main()
