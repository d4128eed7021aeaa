"""What the streamer hands a recorder, if it was given one: the wire as received.

The streamer calls a tap from the event loop with what it already holds, and nothing else: the raw
frame of the active connection as it takes it from the socket queue, the raw body of every REST
answer it used, and a marker for each connection opened or lost and each REST error. A tap must
return at once (queue the item; write it elsewhere) and never raise: the book never waits for it.
The recorder (apps/recording/services/recorder.py) is plugged in by the composition root
(apps/live/runtime.py) when RECORD_DIR is set, and by `manage.py record`.
"""

from __future__ import annotations

from typing import Protocol


class WireTap(Protocol):
    def frame(self, receive_ns: int, frame: str | bytes) -> None:
        """A frame of the active connection, as received."""

    def rest_answer(self, receive_ns: int, request: str, body: str) -> None:
        """A REST answer the streamer used: ``request`` is path?query, ``body`` the raw text."""

    def marker(self, receive_ns: int, kind: str, detail: str) -> None:
        """A connection opened ("connected") or lost ("disconnected"), or a REST error ("rest_error")."""

    def close(self) -> None:
        """The streamer stopped: write what is queued and close (called on a worker thread)."""
