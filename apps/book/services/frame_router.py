"""Frames in, typed messages out, each to its handler.

`classify_frame` (apps.book.domain.wire) turns a raw frame into one typed message; the router looks
its type up in a handler table and calls the handler with the message and whether the frame came
from the active connection (`live`) or from a handover candidate. Bad frames are logged, counted
under their kind and survived; a bad depth event on the active connection also resyncs the book (its
updates are lost, as in a gap), before the next frame is handled. Prices and quantities are held to
the REST client's `level_bounds` (exchangeInfo's filters once it answered).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from apps.book.domain.events import DepthEvent, Kline, Trade
from apps.book.domain.wire import BAD_DEPTH_EVENT, BadFrame, ServerShutdown, classify_frame
from apps.book.services.book_session import BookSession
from apps.book.services.handover import MakeBeforeBreak
from apps.book.services.publish_loop import PublicationLoop
from apps.book.services.watchdog import Watchdog
from apps.core.repeated_errors import LinesPerInterval

log = logging.getLogger("apps.book.streamer")


class FrameRouter:
    def __init__(
        self,
        symbol: str,
        *,
        watchdog: Watchdog,
        session: BookSession,
        handover: MakeBeforeBreak,
        publication: PublicationLoop,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.symbol = symbol
        self.log_lines = LinesPerInterval(60.0, monotonic)  # a broken feed: a line a minute per kind
        self.watchdog = watchdog
        self.session = session
        self.handover = handover
        self.publication = publication
        self.frames: Counter[str] = Counter()
        self.bad_frames: Counter[str] = Counter()
        self.handlers: dict[type, Callable[[Any, bool], None]] = {
            DepthEvent: self.on_depth,
            Trade: self.on_trade,
            Kline: self.on_kline,
            ServerShutdown: self.on_server_shutdown,
            BadFrame: self.on_bad_frame,
        }

    def route(self, frame: str | bytes, live: bool) -> None:
        message = classify_frame(frame, self.symbol, self.session.rest.level_bounds)
        self.handlers[type(message)](message, live)

    def on_depth(self, event: DepthEvent, live: bool) -> None:
        self.frames["depth"] += 1
        if live:
            self.watchdog.feed(event.event_time_ms)
            self.session.on_depth(event)
        else:
            self.handover.hold(event)

    def on_trade(self, trade: Trade, live: bool) -> None:
        if live:
            self.frames["trade"] += 1
            self.publication.add_trade(trade)

    def on_kline(self, kline: Kline, live: bool) -> None:
        if live:
            self.frames["kline"] += 1
            self.publication.on_kline(kline)

    def on_server_shutdown(self, _message: ServerShutdown, live: bool) -> None:
        self.frames["serverShutdown"] += 1
        if live:
            self.handover.request("serverShutdown")

    def on_bad_frame(self, bad: BadFrame, live: bool) -> None:
        self.bad_frames[bad.kind] += 1
        skipped = self.log_lines.allow(bad.kind)
        if skipped is not None:
            log.warning(
                "bad frame kind=%s detail=%s (count=%d; %d more not logged since the last line)",
                bad.kind,
                bad.detail,
                self.bad_frames[bad.kind],
                skipped,
            )
        if bad.kind == BAD_DEPTH_EVENT and live:
            # a depth event for this symbol we cannot apply: the book misses its updates. (On a
            # handover candidate the synchronizer's gap rule judges the held events instead.)
            self.session.request_resync(BAD_DEPTH_EVENT)
