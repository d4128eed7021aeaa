"""One line of a recording, read or written. Pure: text in, `Record` out (and back).

Our format (what `record` and RECORD_DIR write; the same as hftbacktest's collector):
``<receive time, integer ns> <raw JSON>`` per line, where the JSON is

- a WebSocket frame exactly as received: a combined-stream frame ``{"stream": ..., "data": ...}``
  (or anything else the socket carried: a ``serverShutdown``, an error payload, a malformed frame);
- a depth snapshot: the raw ``GET /api/v3/depth`` body (``lastUpdateId``, ``bids``, ``asks``), no
  envelope; its symbol is the file's (the ``recording`` marker at the top of each of our files, or
  the symbol of the depth stream before it in a one-symbol file);
- another REST answer wrapped with the request that fetched it:
  ``{"rest": "/api/v3/klines?symbol=BTCEUR&interval=1h&limit=1000", "body": <raw body>}``;
- a marker: ``{"marker": "recording"|"connected"|"disconnected"|"rest_error"|"frame", ...}``
  (a ``frame`` marker carries a frame that cannot stand on a line of its own: one holding a line
  break, one that would read as a snapshot, a wrapper or a marker, or a binary frame).

Timestamps in other units are read too (a 16-digit integer is microseconds, as the collect-binance
scripts write; 13 digits milliseconds; a number with a fraction seconds).

cryptofeed's raw-data format (its ``raw_data_collection``) is read as well:
``<wss url> <-> <unix s>`` (a connection opened), ``<unix s>: <raw frame>``,
``<https url> -> <unix s>: <body>`` (a REST answer) and ``configuration: {...}`` (ignored).
"""

from __future__ import annotations

import base64
import json
import re
import sys
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import parse_qs, urlsplit


class RecordKind(StrEnum):
    FRAME = "frame"  # a WebSocket frame, to be sent as it was received
    SNAPSHOT = "snapshot"  # a GET /api/v3/depth body
    REST = "rest"  # another REST answer (klines, exchangeInfo, ...)
    MARKER = "marker"  # a connection opened or lost, an error, the recording's own header


@dataclass(frozen=True, slots=True)
class Record:
    """One recorded item. ``text`` is what was received, unchanged (a marker's own JSON for markers)."""

    receive_ns: int
    kind: RecordKind
    text: str
    stream: str | None = None  # frames of a combined stream: its name, e.g. "btceur@depth@100ms"
    symbol: str | None = None  # upper case; frames: from the stream name; REST: from the request
    first_id: int | None = None  # depth frames: U; snapshots: lastUpdateId
    final_id: int | None = None  # depth frames: u
    request: str | None = None  # REST answers: path?query (as recorded)
    limit: int | None = None  # snapshots: the limit the request asked for, when the recording says


class BadLine(ValueError):
    """A line in none of the formats read here."""


FORMAT_VERSION = 1
SNAPSHOT_PATHS = ("/api/v3/depth", "/api/v1/depth")
_STREAM = re.compile(r'\{\s*"stream"\s*:\s*"([^"\\]{1,100})"')
_SNAPSHOT_ID = re.compile(r'\{\s*"lastUpdateId"\s*:\s*(\d{1,19})')
_OURS = re.compile(r"(\d{9,20}) (.*)", re.DOTALL)
_CF_FRAME = re.compile(r"(\d{9,11}(?:\.\d*)?): (.*)", re.DOTALL)
_CF_REST = re.compile(r"(https?://\S+) -> (\d{9,11}(?:\.\d*)?): (.*)", re.DOTALL)
_CF_CONNECT = re.compile(r"(wss?://\S+) <-> (\d{9,11}(?:\.\d*)?)")
_BODY = ',"body":'
_ENVELOPES = ('{"stream"', '{"lastUpdateId"', '{"rest"', '{"marker"')


# ------------------------------------------------------------------------------------------ writing


def frame_line(receive_ns: int, frame: str | bytes) -> str:
    """The line of one received frame: the frame as is, or inside a ``frame`` marker when it cannot
    stand alone (a line break, a binary frame, or a text that would read as another kind of line)."""
    if isinstance(frame, bytes):
        payload = {"marker": "frame", "binary": base64.b64encode(frame).decode("ascii")}
        return f"{receive_ns} {_dumps(payload)}\n"
    stands_alone = "\n" not in frame and "\r" not in frame and frame.strip() == frame
    if stands_alone and (frame.startswith('{"stream"') or not frame.startswith(_ENVELOPES)):
        return f"{receive_ns} {frame}\n"
    return f"{receive_ns} {_dumps({'marker': 'frame', 'text': frame})}\n"


def rest_line(receive_ns: int, request: str, body: str) -> str:
    """The line of one REST answer: a depth snapshot's body as is; any other wrapped with its request.
    Line breaks in a body (only ever whitespace between JSON tokens) are dropped."""
    body = body.replace("\r", "").replace("\n", "").strip()
    if urlsplit(request).path in SNAPSHOT_PATHS:
        return f"{receive_ns} {body}\n"
    return f'{receive_ns} {{"rest":{_dumps(request)},"body":{body}}}\n'


def marker_line(receive_ns: int, kind: str, **fields: Any) -> str:
    """A marker line: ``{"marker": kind, ...fields}``."""
    return f"{receive_ns} {_dumps({'marker': kind, **fields})}\n"


def header_line(receive_ns: int, symbol: str, snapshot_limit: int, **fields: Any) -> str:
    """The ``recording`` marker each of our files starts with: whose bare snapshots these are."""
    return marker_line(
        receive_ns,
        "recording",
        version=FORMAT_VERSION,
        symbol=symbol,
        snapshot_limit=snapshot_limit,
        **fields,
    )


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


# ------------------------------------------------------------------------------------------ reading


def timestamp_ns(text: str) -> int:
    """A receive time in any unit collectors write, as integer nanoseconds: seconds with a fraction,
    or an integer of seconds (10 digits), milliseconds (13), microseconds (16) or nanoseconds (19)."""
    if "." in text:
        whole, _, fraction = text.partition(".")
        return int(whole) * 1_000_000_000 + int((fraction + "000000000")[:9])
    value = int(text)
    digits = len(text)
    if digits <= 11:
        return value * 1_000_000_000
    if digits <= 14:
        return value * 1_000_000
    if digits <= 17:
        return value * 1_000
    return value


def parse_line(line: str) -> Record | None:
    """The record of one line, None for a line that carries nothing (empty, cryptofeed's settings).
    Raises BadLine for a line in none of the formats. Bare snapshots come back without a symbol
    (`LineReader` gives them the file's)."""
    line = line.rstrip("\r\n")
    if not line.strip() or line.startswith("configuration: "):
        return None
    if (match := _OURS.fullmatch(line)) is not None:
        return classify_text(timestamp_ns(match.group(1)), match.group(2))
    if (match := _CF_FRAME.fullmatch(line)) is not None:
        return frame_record(timestamp_ns(match.group(1)), match.group(2))
    if (match := _CF_REST.fullmatch(line)) is not None:
        return rest_record(timestamp_ns(match.group(2)), match.group(1), match.group(3))
    if (match := _CF_CONNECT.fullmatch(line)) is not None:
        url = match.group(1)
        return Record(
            timestamp_ns(match.group(2)), RecordKind.MARKER, _dumps({"marker": "connected", "url": url})
        )
    raise BadLine(f"not a recording line: {line[:80]!r}")


def classify_text(receive_ns: int, text: str) -> Record:
    """What the JSON of one of our lines is: a snapshot, a wrapped REST answer, a marker or a frame."""
    if text.startswith('{"marker"'):
        payload = _object(text)
        if payload.get("marker") == "frame":
            return _unwrapped_frame(receive_ns, payload)
        return Record(receive_ns, RecordKind.MARKER, text)
    if text.startswith('{"rest"'):
        request = _object(text).get("rest")
        at = text.find(_BODY)  # the request is a JSON string: its quotes are escaped, so this is the body
        if not isinstance(request, str) or at < 0:
            raise BadLine('a "rest" line without its request or body')
        return rest_record(receive_ns, request, text[at + len(_BODY) : -1])
    if _SNAPSHOT_ID.match(text):
        return snapshot_record(receive_ns, text, symbol=None, limit=None)
    return frame_record(receive_ns, text)


def frame_record(receive_ns: int, text: str) -> Record:
    """A received frame: its stream (and symbol) when it is a combined-stream frame, and U/u when it
    is a depth update. Anything else (malformed, an error payload) is still a frame, sent to all."""
    match = _STREAM.match(text)
    if match is None:
        return Record(receive_ns, RecordKind.FRAME, text)
    # one string per stream and per symbol, not one per frame: a day's recording holds millions
    stream = sys.intern(match.group(1))
    symbol = sys.intern(stream.partition("@")[0].upper())
    first_id = final_id = None
    if "@depth" in stream:
        ids = depth_ids(text, symbol)
        if ids is not None:
            first_id, final_id = ids
    return Record(receive_ns, RecordKind.FRAME, text, stream, symbol, first_id, final_id)


def depth_ids(text: str, symbol: str) -> tuple[int, int] | None:
    """(U, u) of a combined depthUpdate frame of `symbol`; None when it has none, is another
    symbol's or is not valid JSON."""
    try:
        data = json.loads(text).get("data")
        first, final, of = data["U"], data["u"], data.get("s")
    except (ValueError, AttributeError, KeyError, TypeError, RecursionError):
        return None
    if type(first) is int and type(final) is int and of == symbol:
        return first, final
    return None


def rest_record(receive_ns: int, url_or_request: str, body: str) -> Record:
    """A REST answer: a snapshot when the request was /depth, else a REST record with its request."""
    parts = urlsplit(url_or_request)
    request = parts.path + (f"?{parts.query}" if parts.query else "")
    query = parse_qs(parts.query)
    symbol = query.get("symbol", [None])[0]
    symbol = symbol.upper() if symbol else None
    if parts.path in SNAPSHOT_PATHS:
        limit = query.get("limit", [""])[0]
        return snapshot_record(receive_ns, body, symbol, int(limit) if limit.isdigit() else None)
    return Record(receive_ns, RecordKind.REST, body, symbol=symbol, request=request)


def snapshot_record(receive_ns: int, body: str, symbol: str | None, limit: int | None) -> Record:
    match = _SNAPSHOT_ID.match(body)
    if match is None:
        raise BadLine("a depth answer without lastUpdateId")
    return Record(
        receive_ns, RecordKind.SNAPSHOT, body, symbol=symbol, first_id=int(match.group(1)), limit=limit
    )


def _unwrapped_frame(receive_ns: int, payload: dict[str, Any]) -> Record:
    if isinstance(payload.get("binary"), str):
        # replayed as text: the streamer reads a binary frame as text anyway (websockets decodes none)
        raw = base64.b64decode(payload["binary"]).decode("utf-8", "replace")
        return Record(receive_ns, RecordKind.FRAME, raw)
    text = payload.get("text")
    if not isinstance(text, str):
        raise BadLine('a "frame" marker without its text')
    return frame_record(receive_ns, text)


def _object(text: str) -> dict[str, Any]:
    try:
        payload = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise BadLine(f"not JSON: {text[:60]!r}") from exc
    if not isinstance(payload, dict):
        raise BadLine(f"not a JSON object: {text[:60]!r}")
    return payload


def marker_fields(record: Record) -> dict[str, Any]:
    """A marker record's fields (its JSON)."""
    return _object(record.text)


class LineReader:
    """Reads the lines of one file in order, giving bare snapshots the file's symbol and limit: those
    of its last ``recording`` marker, else the symbol of the last depth frame (one-symbol files)."""

    def __init__(self) -> None:
        self.symbol: str | None = None
        self.limit: int | None = None
        self.has_header = False
        self.bad_lines = 0
        self.first_bad: str | None = None  # "line N: why"
        self.line_number = 0

    def read(self, line: str) -> Record | None:
        self.line_number += 1
        try:
            record = parse_line(line)
        except BadLine as exc:
            self.bad_lines += 1
            self.first_bad = self.first_bad or f"line {self.line_number}: {exc}"
            return None
        if record is None:
            return None
        if record.kind is RecordKind.MARKER:
            self._note_header(record)
        elif record.kind is RecordKind.FRAME and record.first_id is not None and not self.has_header:
            self.symbol = record.symbol
        elif record.kind is RecordKind.SNAPSHOT and record.symbol is None:
            return Record(
                record.receive_ns,
                record.kind,
                record.text,
                symbol=self.symbol,
                first_id=record.first_id,
                limit=self.limit,
            )
        return record

    def _note_header(self, record: Record) -> None:
        if not record.text.startswith('{"marker":"recording"'):
            return
        fields = marker_fields(record)
        self.has_header = True
        symbol, limit = fields.get("symbol"), fields.get("snapshot_limit")
        self.symbol = symbol.upper() if isinstance(symbol, str) else None
        self.limit = limit if type(limit) is int else None
