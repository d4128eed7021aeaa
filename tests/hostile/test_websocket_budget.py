"""A client that never reads and floods `resync` requests costs the server a bounded amount.

Before the per-client budget, 3,000 resync frames made `serve` queue a ~25 KB snapshot each: +92 MB
per flood, never given back. Now requested snapshots are rate-limited (one per 5 s, extra requests
coalesce) and count against the 256-message / 2 MB budget of unacknowledged data."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import websockets

from bench.processes import proc_status_kb, wait_until
from tests.hostile.conftest import ServedService

FLOODS = 3
FRAMES_PER_FLOOD = 3000


def reset_peak_rss(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # VmHWM starts afresh from the current RSS


def closes_for_size(service: ServedService) -> int:
    return service.log_text().count("reason=message over")


async def flood_without_reading(service: ServedService) -> int:
    """3,000 resync frames, then one frame over the 4 KB client limit: the server handles a
    client's frames in order, so its log line closing us for size says it has handled the flood.
    The peak RSS is read then, while we still have not read a byte."""
    closed_before = closes_for_size(service)
    async with websockets.connect(service.ws_url, origin=service.base_url, max_size=2**24) as ws:
        ws.transport.pause_reading()  # the server's snapshots pile up on its side, or not at all
        for _ in range(FRAMES_PER_FLOOD):
            await ws.send(json.dumps({"action": "resync"}))
        await ws.send("x" * 5000)
        wait_until(
            lambda: closes_for_size(service) > closed_before,
            30,
            "the server to handle the flood",
            processes=[service.process],
        )
        peak_kb = proc_status_kb(service.process.pid, "VmHWM")
        assert peak_kb is not None
        ws.transport.resume_reading()
    return peak_kb


async def test_resync_floods_from_a_client_that_never_reads_cost_a_bounded_amount(served: ServedService):
    pid = served.process.pid
    before_kb = served.rss_kb()
    reset_peak_rss(pid)
    peak_kb = max([await flood_without_reading(served) for _ in range(FLOODS)])
    after_kb = served.rss_kb()
    print(f"resync floods: RSS {before_kb} -> {after_kb} kB, peak {peak_kb} kB")
    assert peak_kb - before_kb < 20_000  # one flood used to add ~92 MB
    assert after_kb - before_kb < 10_000
    # and the server still answers everyone else
    async with httpx.AsyncClient() as client:
        assert (await client.get(f"{served.base_url}/api/health", timeout=5)).status_code == 200
    assert "Traceback" not in served.log_text()
