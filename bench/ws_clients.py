"""A process holding many /ws/overlays clients for the fan-out benchmark (driven by bench.fanout).

    python -m bench.ws_clients --url ws://127.0.0.1:P/ws/overlays --origin http://127.0.0.1:P --count 500

Protocol on stdio (one JSON object per stdout line):
1. connects --count sockets (at most --connect-concurrency handshakes at a time), acknowledging
   like the chart page does, then prints {"ready": connected, "failed": n, "connect_s": s};
2. on the line "start" on stdin, starts recording; on "stop", prints {"samples": [[ts_ms,
   latency_ms, update_id], ...], "messages": n, "resnapshots": n, "closed": n}, closes and exits.
Latency of a "metrics" delta = this process's receive time - the message's ts_ms (stamped at
publish by the serve process on the same machine). No Django here: the process stays light.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from bench.processes import raise_fd_limit

ACK_EVERY = 16


@dataclass
class Tally:
    recording: bool = False
    samples: list[tuple[int, float, int]] = field(default_factory=list)
    messages: int = 0
    resnapshots: int = 0
    closed: int = 0


async def hold(ws: ClientConnection, tally: Tally) -> None:
    received = 0
    try:
        async for frame in ws:
            now_ms = time.time() * 1000
            received += 1
            if received % ACK_EVERY == 0:
                await ws.send(json.dumps({"action": "ack", "received": received}))
            if not tally.recording:
                continue
            tally.messages += 1
            message: dict[str, Any] = json.loads(frame)
            if message.get("type") == "delta" and message.get("kind") == "metrics":
                data = message["data"]
                tally.samples.append(
                    (int(data["ts_ms"]), round(now_ms - data["ts_ms"], 2), int(data["update_id"]))
                )
            elif message.get("type") == "snapshot":
                tally.resnapshots += 1
    except ConnectionClosed:
        pass
    if tally.recording:
        tally.closed += 1


async def run(url: str, origin: str, count: int, concurrency: int) -> None:
    tally = Tally()
    gate = asyncio.Semaphore(concurrency)
    sockets: list[ClientConnection] = []
    failures: list[str] = []

    async def open_one() -> None:
        async with gate:
            try:
                ws = await connect(url, origin=origin, max_size=None, open_timeout=60, ping_interval=None)  # type: ignore[arg-type]
            except Exception as exc:
                failures.append(f"{type(exc).__name__}: {exc}")
                return
        sockets.append(ws)

    started = time.monotonic()
    await asyncio.gather(*(open_one() for _ in range(count)))
    connect_s = time.monotonic() - started
    readers = [asyncio.create_task(hold(ws, tally)) for ws in sockets]
    print(
        json.dumps(
            {
                "ready": len(sockets),
                "failed": len(failures),
                "connect_s": round(connect_s, 3),
                "first_failure": failures[0] if failures else None,
            }
        ),
        flush=True,
    )

    loop = asyncio.get_running_loop()
    while True:
        line = (await loop.run_in_executor(None, sys.stdin.readline)).strip()
        if line == "start":
            tally.recording = True
        elif line in ("stop", ""):
            break
    tally.recording = False
    print(
        json.dumps(
            {
                "samples": tally.samples,
                "messages": tally.messages,
                "resnapshots": tally.resnapshots,
                "closed": tally.closed,
            }
        ),
        flush=True,
    )
    await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    for task in readers:
        task.cancel()
    await asyncio.gather(*readers, return_exceptions=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--origin", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--connect-concurrency", type=int, default=50)
    args = parser.parse_args(argv)
    if args.count <= 0 or args.connect_concurrency <= 0:
        parser.error("--count and --connect-concurrency must be positive")
    limit = raise_fd_limit()
    if limit < args.count + 64:
        parser.error(f"open-file limit {limit} is too low for {args.count} sockets")
    asyncio.run(run(args.url, args.origin, args.count, args.connect_concurrency))
    return 0


if __name__ == "__main__":
    sys.exit(main())
