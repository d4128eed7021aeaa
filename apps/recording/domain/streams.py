"""Stream names and frames of a recording, as a replay serves them. Pure."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection

_KIND = re.compile(r"[A-Za-z0-9_@]{1,40}")
_DATA = ',"data":'


def stream_key(stream: str) -> str | None:
    """The key of a stream name, ``<symbol lower case>@<kind>`` (``BTCEUR@aggTrade`` and
    ``btceur@aggTrade`` are one stream); None when it is no stream name."""
    symbol, at, kind = stream.partition("@")
    if not at or not symbol.isalnum() or not _KIND.fullmatch(kind):
        return None
    return f"{symbol.lower()}@{kind}"


def recorded_stream_keys(symbols: Collection[str]) -> Callable[[str], str | None]:
    """The replay's stream names: any stream of a recorded symbol (one the recording lacks is served
    silent, as a quiet market would be), nothing of another symbol."""
    known = {s.lower() for s in symbols}
    keys: dict[str, str | None] = {}  # a client's few stream names, looked up for every frame

    def key_of(stream: str) -> str | None:
        if stream not in keys:
            if len(keys) >= 10_000:  # names a client made up: keep the memo bounded
                keys.clear()
            key = stream_key(stream)
            keys[stream] = key if key is not None and key.partition("@")[0] in known else None
        return keys[stream]

    return key_of


def payload_text(frame: str) -> str:
    """The payload of a combined-stream frame ``{"stream":"...","data":<payload>}`` as its text, byte
    for byte (what a raw /ws/ client gets); any other frame as it is."""
    at = frame.find(_DATA)
    if frame.startswith('{"stream":') and at > 0 and frame.endswith("}"):
        return frame[at + len(_DATA) : -1]
    return frame
