"""The one streaming task: owns the Binance socket and the book, publishes every cycle.

Thin asyncio driver around the pure `DepthSynchronizer`:
- one combined-stream connection (`<sym>@depth@100ms`, `<sym>@aggTrade`, `<sym>@kline_1h`);
  frames from every connection go through one queue and are handled synchronously, so an event
  is applied atomically (no await inside apply);
- snapshots through the shared-budget REST client whenever the synchronizer asks;
- reconnect with full-jitter exponential backoff; splice onto the retained book when possible;
- a data watchdog (no depth event for WATCHDOG_S) forces a reconnect; websockets keepalive
  pings cover dead TCP;
- make-before-break handover before Binance's 24 h limit and on `serverShutdown`;
- a publication loop: metrics + published book + health to the DB, listeners (zones, order
  blocks), and metrics/status pushes.
Bad frames are logged, counted and survived; the task only ends on `stop()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from apps.book.domain.backoff import Backoff
from apps.book.domain.events import DepthEvent, Kline, Side, Trade
from apps.book.domain.metrics import BookView, capture_view
from apps.book.domain.snapshot_view import BookSnapshotView
from apps.book.domain.sync import PUBLIC_STATUS, DepthSynchronizer, Handover, Outcome, SyncResult
from apps.book.domain.wire import BadFrame, ServerShutdown, classify_frame
from apps.book.presentation import metrics_dict
from apps.book.services.cycle import DeltaSink, PublishCycle, StreamListener
from apps.book.services.rest_client import BinanceRestClient, RestError
from apps.json_http.decimal_text import decimal_text

log = logging.getLogger("apps.book.streamer")

MAX_TRADES_PER_CYCLE = 50_000
QUEUE_MAX = 20_000


@dataclass(frozen=True)
class StreamerSettings:
    ws_url: str
    rest_url: str
    symbol: str
    depth_speed: str = "100ms"
    snapshot_limit: int = 5000
    watchdog_s: float = 10.0
    reconnect_after_s: float = 84600.0
    backoff_base_s: float = 0.5
    backoff_cap_s: float = 30.0
    buffer_max_events: int = 10_000
    rest_timeout_s: float = 10.0
    rest_weight_limit_1m: int = 6000
    rest_weight_reserve: int = 1000
    snapshots_per_10min: int = 12
    publish_interval_ms: int = 1000
    publish_top_n: int = 100
    imbalance_top_n: int = 20
    metrics_retention_h: float = 24.0
    stale_after_s: float = 5.0
    handover_timeout_s: float = 15.0

    @classmethod
    def from_config(cls, config: Any, **overrides: Any) -> StreamerSettings:
        names = cls.__dataclass_fields__.keys()
        values = {name: getattr(config, name) for name in names if hasattr(config, name)}
        values["ws_url"] = config.binance_ws_url
        values["rest_url"] = config.binance_rest_url
        values.update(overrides)
        return cls(**values)

    @property
    def stream_url(self) -> str:
        sym = self.symbol.lower()
        depth = f"{sym}@depth@100ms" if self.depth_speed == "100ms" else f"{sym}@depth"
        return f"{self.ws_url}/stream?streams={depth}/{sym}@aggTrade/{sym}@kline_1h"


@dataclass(frozen=True)
class Published:
    """One publication as seen by in-process observers (tests, benchmarks)."""

    ts_ms: int
    status: str
    view: BookView | None


class _Conn:
    """One WebSocket connection and its reader task."""

    _ids = 0

    def __init__(self, ws: ClientConnection) -> None:
        _Conn._ids += 1
        self.id = _Conn._ids
        self.ws = ws
        self.opened = time.monotonic()
        self.reader: asyncio.Task[None] | None = None
        self.close_reason = ""


Publisher = Callable[[str, int, str, BookView | None, dict[str, Any]], Awaitable[None]]


class OrderBookStreamer:
    def __init__(
        self,
        settings: StreamerSettings,
        *,
        listeners: Sequence[StreamListener] = (),
        publisher: Publisher | None = None,
        pruner: Callable[[str, int], Awaitable[Any]] | None = None,
        broadcaster: DeltaSink | None = None,
        rest: BinanceRestClient | None = None,
        on_recovered: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        # called each time the book is live again after an interruption (snapshot or splice), once
        # what the interruption left behind (dead sockets, HTTP connections, tracebacks) is garbage
        self.on_recovered = on_recovered
        self.symbol = settings.symbol.upper()
        self.listeners = list(listeners)
        self.publisher = publisher
        self.pruner = pruner
        self.broadcaster = broadcaster
        self.clock = clock
        self.sync = DepthSynchronizer(max_buffer=settings.buffer_max_events, snapshot_limit=settings.snapshot_limit)
        # the one REST client: snapshots here and, through the composition, the order blocks' candle
        # backfill share its weight budget
        self.rest = rest or BinanceRestClient.with_budget_from(settings.rest_url, settings)
        self.budget = self.rest.budget
        self.backoff = Backoff(settings.backoff_base_s, settings.backoff_cap_s, rng)
        self.snapshot_backoff = Backoff(settings.backoff_base_s, settings.backoff_cap_s, rng)
        self.observers: list[Callable[[Published], None]] = []
        # named entries other components add to /api/health, read at each publication
        # (e.g. "zones": why zones are paused; "simulator_url" under `serve --simulator`)
        self.health_sections: dict[str, Callable[[], Any]] = {}
        # runtime
        self._queue: asyncio.Queue[tuple[_Conn | None, str | bytes | None]] = asyncio.Queue(QUEUE_MAX)
        self._active: _Conn | None = None
        self._candidate: _Conn | None = None
        self._handover: Handover | None = None
        self._handover_started = 0.0
        self._handover_reason = ""
        self._stop = asyncio.Event()
        self._snapshot_task: asyncio.Task[None] | None = None
        self._snapshot_wanted = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._trades: list[Trade] = []
        self._last_depth_at = time.monotonic()
        self._last_event_ms: int | None = None
        self._last_status = ""
        self._published_status = ""
        self._resync_requested: str | None = None
        # one handler per message type `classify_frame` returns; each gets (message, live)
        self._handlers: dict[type, Callable[[Any, bool], None]] = {
            DepthEvent: self._on_depth_message,
            Trade: self._on_trade_message,
            Kline: self._on_kline_message,
            ServerShutdown: self._on_server_shutdown,
            BadFrame: self._on_bad_frame,
        }
        # counters
        self.frames: Counter[str] = Counter()
        self.bad_frames: Counter[str] = Counter()
        self.reconnects: Counter[str] = Counter()
        self.listener_errors: Counter[str] = Counter()
        self.snapshots_fetched = 0
        self.snapshots_too_old = 0
        self.handovers = 0
        self.published = 0
        self.last_backoff_s = 0.0
        self.connected_since_ms: int | None = None

    # -- public ---------------------------------------------------------------------------
    @property
    def status(self) -> str:
        """Public status; "stale" while in sync but no depth event arrived for STALE_AFTER_S."""
        status = PUBLIC_STATUS[self.sync.state]
        if status == "live" and time.monotonic() - self._last_depth_at > self.settings.stale_after_s:
            return "stale"
        return status

    def stop(self) -> None:
        self._stop.set()
        with contextlib.suppress(asyncio.QueueFull):
            self._queue.put_nowait((None, None))

    def request_resync(self, reason: str = "requested") -> None:
        """Control message: discard the book and rebuild it from a fresh snapshot."""
        self._resync_requested = reason
        with contextlib.suppress(asyncio.QueueFull):
            self._queue.put_nowait((None, None))

    async def run(self) -> None:
        """Run until `stop()`. Never raises on bad data or network faults."""
        log.info("streamer starting symbol=%s url=%s", self.symbol, self.settings.stream_url)
        publisher = asyncio.create_task(self._publish_loop(), name="orderbook-publish")
        try:
            await self._connection_loop()
        finally:
            self._stop.set()
            # Let a publication in progress finish (it never starts another once stopped).
            with contextlib.suppress(TimeoutError, asyncio.CancelledError, Exception):
                await asyncio.wait_for(asyncio.shield(publisher), 5)
            publisher.cancel()
            for task in [*self._tasks, self._snapshot_task]:
                if task is not None:
                    task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await publisher
            for conn in (self._active, self._candidate):
                if conn is not None:
                    await self._close(conn, "shutdown")
            await self.rest.aclose()
            log.info("streamer stopped")

    def health(self) -> dict[str, Any]:
        now = time.monotonic()
        window = self.sync.book.trusted_window if self.sync.ready else None
        return {
            "symbol": self.symbol,
            "state": self.sync.state.value,
            "status": self.status,
            "update_id": self.sync.book.update_id if self.sync.ready else None,
            "levels": {"bids": self.sync.book.depth(Side.BID), "asks": self.sync.book.depth(Side.ASK)},
            "last_event_age_s": round(now - self._last_depth_at, 3),
            "last_event_ms": self._last_event_ms,
            "connected_since_ms": self.connected_since_ms,
            "connection_age_s": round(now - self._active.opened, 1) if self._active else None,
            "reconnects": dict(self.reconnects),
            "resyncs": dict(self.sync.resyncs),
            "splices": self.sync.splices,
            "handovers": self.handovers,
            "snapshots": self.snapshots_fetched,
            "snapshots_too_old": self.snapshots_too_old,
            "events_applied": self.sync.events_applied,
            "events_ignored": dict(self.sync.ignored),
            "buffered": self.sync.buffered,
            "frames": dict(self.frames),
            "bad_frames": dict(self.bad_frames),
            "listener_errors": dict(self.listener_errors),
            "last_backoff_s": round(self.last_backoff_s, 3),
            "published": self.published,
            "rest": {
                "weight_used_1m": self.budget.used,
                "weight_limit_1m": self.budget.limit_per_minute,
                "requests": self.rest.counters.get("requests", 0),
                "retries": self.rest.counters.get("retries", 0),
                "count_429": self.budget.bans_429,
                "count_418": self.budget.bans_418,
                "blocked_for_s": round(max(0.0, self.budget.blocked_until - now), 3),
                "snapshots_last_10min": self.budget.snapshots_in_window(now),
            },
            "trusted_window": [decimal_text(window[0]), decimal_text(window[1])] if window else None,
            **{name: section() for name, section in self.health_sections.items()},
        }

    # -- connections ----------------------------------------------------------------------
    async def _open(self) -> _Conn:
        ws = await connect(
            self.settings.stream_url,
            ping_interval=20,
            ping_timeout=20,
            max_size=2**22,
            max_queue=256,
            # no permessage-deflate: inflating every 100 ms frame was a fifth of the streamer's CPU;
            # one symbol's depth stream is a few KB/s uncompressed
            compression=None,
            open_timeout=10,
            close_timeout=2,
        )
        conn = _Conn(ws)
        conn.reader = asyncio.create_task(self._read(conn), name=f"orderbook-reader-{conn.id}")
        return conn

    async def _read(self, conn: _Conn) -> None:
        try:
            async for frame in conn.ws:
                try:
                    self._queue.put_nowait((conn, frame))
                except asyncio.QueueFull:
                    conn.close_reason = "frame queue overflow"
                    break
        except ConnectionClosed as exc:
            code = exc.rcvd.code if exc.rcvd else "none (abrupt)"
            conn.close_reason = conn.close_reason or f"closed code={code}"
        except Exception as exc:  # any transport problem ends this connection only
            conn.close_reason = conn.close_reason or f"{type(exc).__name__}: {exc}"
        else:
            code = conn.ws.close_code
            conn.close_reason = conn.close_reason or f"closed code={code}"
        with contextlib.suppress(asyncio.QueueFull):
            self._queue.put_nowait((conn, None))

    async def _close(self, conn: _Conn, reason: str) -> None:
        conn.close_reason = conn.close_reason or reason
        with contextlib.suppress(Exception):
            await asyncio.wait_for(conn.ws.close(), 2)
        if conn.reader is not None:
            conn.reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await conn.reader

    async def _sleep_or_stop(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)

    async def _connection_loop(self) -> None:
        while not self._stop.is_set():
            self.sync.connecting()
            self._set_state_log(self.status)
            try:
                conn = await self._open()
            except (OSError, InvalidHandshake, InvalidURI, TimeoutError) as exc:
                await self._backoff(f"connect failed: {type(exc).__name__}: {exc}")
                continue
            self._active = conn
            self.connected_since_ms = int(self.clock() * 1000)
            self.sync.connected()
            self._last_depth_at = time.monotonic()
            log.info("connected conn=%d state=%s", conn.id, self.sync.state.value)
            self._set_state_log(self.status)
            reason = await self._process()
            self._active = None
            await self._close(conn, reason)
            if self._candidate is not None:
                await self._close(self._candidate, "active connection ended during handover")
                self._candidate = None
                self._handover = None
            if self._stop.is_set():
                break
            self.sync.disconnected()
            self._drain_queue()
            await self._backoff(reason)

    async def _backoff(self, reason: str) -> None:
        key = reason.split(":")[0]
        self.reconnects[key] += 1
        delay = self.backoff.next_delay()
        self.last_backoff_s = delay
        log.warning("disconnected reason=%s; reconnect in %.2fs (attempt %d)", reason, delay, self.backoff.attempt)
        self._set_state_log(self.status)
        await self._sleep_or_stop(delay)

    def _drain_queue(self) -> None:
        while not self._queue.empty():
            self._queue.get_nowait()

    async def _process(self) -> str:
        """Handle frames until the active connection ends; returns the reason."""
        while True:
            if self._stop.is_set():
                return "shutdown"
            if self._resync_requested is not None:
                reason, self._resync_requested = self._resync_requested, None
                self._on_result(self.sync.force_resync(reason))
            timeout = self._last_depth_at + self.settings.watchdog_s - time.monotonic()
            if timeout <= 0:  # checked here too: other frames (trades) may keep the queue busy
                return f"watchdog: no depth event for {self.settings.watchdog_s:g}s"
            try:
                conn, frame = self._queue.get_nowait()  # frames often arrive in bursts: no timer needed
            except asyncio.QueueEmpty:
                try:
                    conn, frame = await asyncio.wait_for(self._queue.get(), timeout)
                except TimeoutError:
                    return f"watchdog: no depth event for {self.settings.watchdog_s:g}s"
            if conn is None:
                continue  # stop() or a control nudge: re-check the flags above
            if frame is None:
                if conn is self._active:
                    if self._candidate is not None:
                        self._switch_over("old connection closed")
                        continue
                    return conn.close_reason or "closed"
                if conn is self._candidate:
                    log.warning("handover connection lost: %s", conn.close_reason)
                    self._candidate = None
                    self._handover = None
                continue
            if conn is self._active:
                self._handle_frame(frame, live=True)
            elif conn is self._candidate:
                self._handle_frame(frame, live=False)
            else:
                continue  # a connection we already left
            if self._candidate is not None and self._handover is not None:
                self._maybe_switch()
            self._maybe_start_handover()

    # -- make-before-break ----------------------------------------------------------------
    def _maybe_start_handover(self) -> None:
        if self._active is None or self._candidate is not None:
            return
        if not self._handover_reason:
            age = time.monotonic() - self._active.opened
            if age < self.settings.reconnect_after_s:
                return
            self._handover_reason = f"connection age {age:.0f}s"
        if not self.sync.ready:
            # Nothing live to protect: a plain reconnect is as good as a handover.
            self._active.close_reason = f"reconnect: {self._handover_reason}"
            self._handover_reason = ""
            self._spawn(self._active.ws.close(1000))
            return
        if any(t.get_name() == "orderbook-handover" for t in self._tasks):
            return
        self._spawn(self._open_candidate(), name="orderbook-handover")

    async def _open_candidate(self) -> None:
        reason = self._handover_reason
        try:
            conn = await self._open()
        except (OSError, InvalidHandshake, InvalidURI, TimeoutError) as exc:
            log.warning("handover connect failed: %s", exc)
            await self._sleep_or_stop(self.backoff.next_delay())
            return
        self._candidate = conn
        self._handover = Handover()
        self._handover_started = time.monotonic()
        log.info("handover started conn=%d reason=%s", conn.id, reason)

    def _maybe_switch(self) -> None:
        assert self._handover is not None
        timed_out = time.monotonic() - self._handover_started > self.settings.handover_timeout_s
        if self._handover.can_switch(self.sync.book.update_id) or timed_out or not self.sync.ready:
            self._switch_over("timeout" if timed_out else "new stream continues the book")

    def _switch_over(self, why: str) -> None:
        old, new, handover = self._active, self._candidate, self._handover
        assert new is not None and handover is not None
        self._active, self._candidate, self._handover = new, None, None
        self._handover_reason = ""
        self.handovers += 1
        self.connected_since_ms = int(self.clock() * 1000)
        log.info("handover complete conn=%d -> conn=%d (%s)", old.id if old else 0, new.id, why)
        for event in handover.release():
            self._on_depth(event)
        if old is not None:
            self._spawn(self._close(old, "replaced by handover"))

    # -- frames ---------------------------------------------------------------------------
    def _handle_frame(self, frame: str | bytes, *, live: bool) -> None:
        message = classify_frame(frame, self.symbol)
        self._handlers[type(message)](message, live)

    def _on_depth_message(self, event: DepthEvent, live: bool) -> None:
        self.frames["depth"] += 1
        if live:
            self._last_depth_at = time.monotonic()
            self._last_event_ms = event.event_time_ms
            self._on_depth(event)
        elif self._handover is not None:
            self._handover.hold(event)

    def _on_trade_message(self, trade: Trade, live: bool) -> None:
        if not live:
            return
        self.frames["trade"] += 1
        if len(self._trades) < MAX_TRADES_PER_CYCLE:
            self._trades.append(trade)

    def _on_kline_message(self, kline: Kline, live: bool) -> None:
        if not live:
            return
        self.frames["kline"] += 1
        for listener in self.listeners:
            self._spawn(self._call_listener(listener.on_kline(kline), "on_kline"))

    def _on_server_shutdown(self, _message: ServerShutdown, live: bool) -> None:
        self.frames["serverShutdown"] += 1
        if live and self._candidate is None:
            log.warning("serverShutdown received: handing over to a new connection")
            self._handover_reason = "serverShutdown"

    def _on_bad_frame(self, bad: BadFrame, _live: bool) -> None:
        self._bad(bad.kind, bad.detail)

    def _bad(self, kind: str, detail: str) -> None:
        self.bad_frames[kind] += 1
        log.warning("bad frame kind=%s detail=%s (count=%d)", kind, detail, self.bad_frames[kind])

    def _on_depth(self, event: DepthEvent) -> None:
        self._on_result(self.sync.on_event(event))

    def _on_result(self, result: SyncResult) -> None:
        outcome = result.outcome
        if outcome is Outcome.RESYNC:
            log.warning("resync reason=%s", result.reason)
            self._want_snapshot()
        elif outcome is Outcome.NEED_SNAPSHOT:
            log.info("buffering from %s; fetching snapshot", result.reason)
            self._want_snapshot()
        elif outcome is Outcome.SPLICED:
            log.info("spliced onto retained book (%s), no snapshot needed", result.reason)
            self.backoff.reset()
        elif outcome is Outcome.LIVE:
            log.info("live: %s", result.reason)
            self.backoff.reset()
        self._set_state_log(self.status)
        if outcome in (Outcome.SPLICED, Outcome.LIVE) and self.on_recovered is not None:
            self.on_recovered()

    def _set_state_log(self, status: str) -> None:
        if status != self._last_status:
            log.info("status %s -> %s", self._last_status or "-", status)
            self._last_status = status
            if self.broadcaster is not None:
                self._spawn(self.broadcaster.send("status", {"symbol": self.symbol, "status": status}))

    # -- snapshots ------------------------------------------------------------------------
    def _want_snapshot(self) -> None:
        self._snapshot_wanted.set()
        if self._snapshot_task is None or self._snapshot_task.done():
            self._snapshot_task = asyncio.create_task(self._snapshot_loop(), name="orderbook-snapshot")

    async def _snapshot_loop(self) -> None:
        too_old_in_a_row = 0
        while not self._stop.is_set():
            if not self.sync.needs_snapshot:
                self._snapshot_wanted.clear()
                if self.sync.ready:
                    return
                await self._snapshot_wanted.wait()
                continue
            try:
                snapshot = await self.rest.get_depth(self.symbol, self.settings.snapshot_limit)
            except RestError as exc:
                delay = self.snapshot_backoff.next_delay()
                log.warning("snapshot failed: %s; retry in %.2fs", exc, delay)
                await self._sleep_or_stop(delay)
                continue
            self.snapshots_fetched += 1
            if not self.sync.needs_snapshot:
                continue  # the stream moved on while we fetched (disconnect/resync): re-evaluate
            result = self.sync.on_snapshot(snapshot)
            log.info("snapshot lastUpdateId=%d -> %s %s", snapshot.last_update_id, result.outcome, result.reason)
            if result.outcome is Outcome.SNAPSHOT_TOO_OLD:
                self.snapshots_too_old += 1
                too_old_in_a_row += 1
                await self._sleep_or_stop(min(0.25 * too_old_in_a_row, 5.0))
                continue
            too_old_in_a_row = 0
            self.snapshot_backoff.reset()
            self._on_result(result)

    # -- publication ----------------------------------------------------------------------
    async def _publish_loop(self) -> None:
        interval = self.settings.publish_interval_ms / 1000
        cycles = 0
        next_at = time.monotonic()
        while not self._stop.is_set():
            next_at += interval
            await self._sleep_or_stop(max(0.0, next_at - time.monotonic()))
            if self._stop.is_set():
                return
            if next_at < time.monotonic() - interval:  # we fell behind: do not burst
                next_at = time.monotonic()
            cycles += 1
            try:
                await self.publish_once()
                if self.pruner is not None and cycles % 60 == 1:
                    cutoff = int(self.clock() * 1000 - self.settings.metrics_retention_h * 3_600_000)
                    await self.pruner(self.symbol, cutoff)
            except asyncio.CancelledError:
                raise
            except Exception:
                self.listener_errors["publish"] += 1
                log.exception("publication failed; continuing")

    async def publish_once(self) -> None:
        """Capture the book (no await before the copy), notify, run listeners, then persist the
        publication with health taken after the listeners so it describes this same cycle."""
        now_ms = int(self.clock() * 1000)
        live = self.sync.ready
        view = capture_view(self.sync.book, self.settings.publish_top_n, self.settings.imbalance_top_n) if live else None
        status = self.status
        self._set_state_log(status)  # catches time-driven changes (live <-> stale)
        trades, self._trades = self._trades, []
        published = Published(now_ms, status, view)
        for observer in self.observers:
            observer(published)
        self.published += 1
        if self.broadcaster is not None and view is not None and view.metrics is not None:
            await self.broadcaster.send("metrics", metrics_dict(self.symbol, now_ms, view.metrics))
        cycle = PublishCycle(
            now_ms=now_ms, symbol=self.symbol, status=status, book=None, update_id=None, trades=tuple(trades)
        )
        for listener in self.listeners:
            ready = self.sync.ready  # re-checked per listener: the book may have changed while we awaited
            this = replace(
                cycle,
                status=self.status,
                book=BookSnapshotView.capture(self.sync.book) if ready else None,
                update_id=self.sync.book.update_id if ready else None,
            )
            await self._call_listener(listener.on_cycle(this), "on_cycle")
        if self.publisher is not None:
            await self.publisher(self.symbol, now_ms, status, view, self.health())
        if status != self._published_status:
            log.info("published status=%s update_id=%s", status, view.update_id if view else None)
            self._published_status = status

    async def _call_listener(self, call: Awaitable[None], what: str) -> None:
        try:
            await call
        except asyncio.CancelledError:
            raise
        except Exception:
            self.listener_errors[what] += 1
            log.exception("listener %s failed; continuing", what)

    def _spawn(self, coro: Awaitable[Any], name: str | None = None) -> None:
        task = asyncio.ensure_future(coro)
        if name:
            task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

