"""Parse a Binance depth snapshot (``{"lastUpdateId", "bids", "asks"}``) from a file's bytes or text.

Every problem raises ``SnapshotFormatError`` (one line) with the line and column of the offending
value where there is one, whatever the input: a command prints it instead of a traceback. Pure: takes
bytes or text, returns plain data.

Limits, each checked before the work it bounds:
- at most MAX_SNAPSHOT_BYTES (16 MiB; Binance's largest snapshot, 5000 levels a side, is ~0.4 MB);
- UTF-8 text; JSON nested at most MAX_NESTING deep (the document needs 3; ``json`` itself would
  recurse until RecursionError);
- numbers (JSON numbers or strings) at most MAX_NUMBER_CHARS characters with an exponent within
  +-MAX_EXPONENT (no ``1e999999999``: Decimal takes it, the arithmetic after it would not), finite,
  prices and quantities within apps.book.domain.wire's static bounds (``level_in_bounds``);
- at most MAX_LEVELS_PER_SIDE levels a side, lastUpdateId an integer in [0, 2**63).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from apps.book.domain.events import DepthSnapshot, Level
from apps.book.domain.wire import MAX_ID, STATIC_BOUNDS, level_in_bounds

MAX_SNAPSHOT_BYTES = 16 * 1024 * 1024
MAX_NESTING = 32
MAX_NUMBER_CHARS = 32
MAX_EXPONENT = 40
MAX_LEVELS_PER_SIDE = 100_000

_DECODER = json.JSONDecoder()
_WHITESPACE = re.compile(r"[ \t\n\r]*")
# a JSON string (escapes included) or one bracket: what nesting is counted from
_STRUCTURE = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')


class SnapshotFormatError(ValueError):
    """The input is not a usable depth snapshot; ``line``/``column`` point at the problem (1-based)."""

    def __init__(self, problem: str, line: int | None = None, column: int | None = None) -> None:
        where = f"line {line}, column {column}: " if line is not None else ""
        super().__init__(f"{where}{problem}")
        self.problem = problem
        self.line = line
        self.column = column


@dataclass(frozen=True, slots=True)
class _Refused:
    """A JSON number or constant the decoder was not allowed to convert (reported where it is used)."""

    text: str
    why: str

    def __repr__(self) -> str:
        return self.text


def parse_depth_snapshot_bytes(data: bytes) -> DepthSnapshot:
    """A file's bytes: size checked, decoded as UTF-8 (a bad byte is named with its position)."""
    if len(data) > MAX_SNAPSHOT_BYTES:
        raise SnapshotFormatError(f"more than {MAX_SNAPSHOT_BYTES} bytes: not a depth snapshot file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise SnapshotFormatError(
            f"not UTF-8 text: byte 0x{data[exc.start]:02x} at offset {exc.start}", line, column
        ) from None
    return parse_depth_snapshot(text)


def parse_depth_snapshot(text: str) -> DepthSnapshot:
    if len(text) > MAX_SNAPSHOT_BYTES:
        raise SnapshotFormatError(f"more than {MAX_SNAPSHOT_BYTES} characters: not a depth snapshot file")
    too_deep = nesting_overflow(text)
    if too_deep is not None:
        raise _at(text, too_deep, f"JSON nested more than {MAX_NESTING} deep")
    try:
        document = json.loads(
            text, parse_float=_json_number, parse_int=_json_int, parse_constant=_json_constant
        )
    except json.JSONDecodeError as exc:
        raise SnapshotFormatError(f"not valid JSON: {exc.msg}", exc.lineno, exc.colno) from None
    except (ValueError, RecursionError) as exc:  # not expected after the checks above; still one line
        raise SnapshotFormatError(f"not valid JSON: {type(exc).__name__}") from None
    if not isinstance(document, dict):
        raise _error(text, [], 'expected a JSON object {"lastUpdateId", "bids", "asks"}')
    for key in ("lastUpdateId", "bids", "asks"):
        if key not in document:
            raise _error(text, [], f'missing key "{key}"')
    update_id = document["lastUpdateId"]
    if type(update_id) is not int or not 0 <= update_id <= MAX_ID:
        raise _error(
            text,
            ["lastUpdateId"],
            f"lastUpdateId must be an integer in [0, 2**63), got {_shown(update_id)}",
        )
    return DepthSnapshot(
        last_update_id=update_id,
        bids=_levels(text, document["bids"], "bids"),
        asks=_levels(text, document["asks"], "asks"),
    )


def nesting_overflow(text: str) -> int | None:
    """Offset of the first bracket nested deeper than MAX_NESTING (strings skipped), or None."""
    depth = 0
    for match in _STRUCTURE.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > MAX_NESTING:
                return match.start()
        elif token in "]}":
            depth -= 1
    return None


def bounded_decimal(text: str) -> Decimal | str:
    """``text`` as a finite Decimal of at most MAX_NUMBER_CHARS characters and an exponent within
    +-MAX_EXPONENT; else why not (the caller names the value)."""
    if len(text) > MAX_NUMBER_CHARS:
        return f"is longer than {MAX_NUMBER_CHARS} characters"
    try:
        value = Decimal(text)
    except InvalidOperation:
        return "is not a decimal number"
    exponent = value.as_tuple().exponent
    if not value.is_finite() or not isinstance(exponent, int):
        return "must be finite"
    if not -MAX_EXPONENT <= exponent <= MAX_EXPONENT:
        return f"has an exponent beyond +-{MAX_EXPONENT}"
    return value


def _json_number(text: str) -> Decimal | _Refused:
    value = bounded_decimal(text)
    return value if isinstance(value, Decimal) else _Refused(_clipped(text), value)


def _json_int(text: str) -> int | _Refused:
    if len(text) > MAX_NUMBER_CHARS:
        return _Refused(_clipped(text), f"is longer than {MAX_NUMBER_CHARS} characters")
    return int(text)


def _clipped(text: str) -> str:
    return text if len(text) <= MAX_NUMBER_CHARS else f"{text[:20]}... ({len(text)} characters)"


def _json_constant(text: str) -> _Refused:
    return _Refused(text, "must be finite")


def _levels(text: str, raw: Any, key: str) -> tuple[Level, ...]:
    if not isinstance(raw, list):
        raise _error(text, [key], f"{key} must be a list of [price, quantity] pairs")
    if len(raw) > MAX_LEVELS_PER_SIDE:
        raise _error(text, [key], f"{key} has {len(raw)} levels; at most {MAX_LEVELS_PER_SIDE}")
    levels: list[Level] = []
    first_index: dict[Decimal, int] = {}
    for index, entry in enumerate(raw):
        if not isinstance(entry, list) or len(entry) < 2:
            raise _error(
                text, [key, index], f"{key}[{index}] must be a [price, quantity] pair, got {_shown(entry)}"
            )
        price = _number(text, entry[0], [key, index, 0], f"{key}[{index}] price")
        qty = _number(text, entry[1], [key, index, 1], f"{key}[{index}] quantity")
        _check_level(text, price, qty, [key, index], entry)
        if price in first_index:
            raise _error(
                text,
                [key, index, 0],
                f"{key}[{index}] repeats price {_shown(entry[0])} of {key}[{first_index[price]}]",
            )
        first_index[price] = index
        levels.append((price, qty))
    return tuple(levels)


def _check_level(text: str, price: Decimal, qty: Decimal, path: list[str | int], entry: list[Any]) -> None:
    """The level rule (positive price, quantity >= 0, both within the static bounds), named."""
    key, index = path
    if level_in_bounds(price, qty, STATIC_BOUNDS):
        return
    bounds = STATIC_BOUNDS
    if price <= 0:
        raise _error(text, [*path, 0], f"{key}[{index}] price must be positive, got {_shown(entry[0])}")
    if qty < 0:
        raise _error(text, [*path, 1], f"{key}[{index}] quantity must be >= 0, got {_shown(entry[1])}")
    if not bounds.min_price <= price <= bounds.max_price:
        raise _error(
            text,
            [*path, 0],
            f"{key}[{index}] price must be within [{bounds.min_price}, {bounds.max_price}], "
            f"got {_shown(entry[0])}",
        )
    raise _error(
        text, [*path, 1], f"{key}[{index}] quantity must be at most {bounds.max_qty}, got {_shown(entry[1])}"
    )


def _number(text: str, raw: Any, path: list[str | int], what: str) -> Decimal:
    if isinstance(raw, _Refused):
        raise _error(text, path, f"{what} {raw.why}, got {raw.text}")
    if isinstance(raw, Decimal):
        return raw  # a JSON number, already bounded
    if type(raw) is int:
        raw = str(raw)
    if not isinstance(raw, str):
        raise _error(text, path, f'{what} must be a decimal string such as "87000.01", got {_shown(raw)}')
    value = bounded_decimal(raw)
    if isinstance(value, str):
        raise _error(text, path, f"{what} {value}: {_shown(raw)}")
    return value


def _shown(value: Any) -> str:
    """A short one-line repr of a decoded value, however big."""
    if isinstance(value, _Refused):
        return value.text  # already clipped
    if isinstance(value, Decimal):
        return str(value)  # a JSON number
    text = repr(value) if not isinstance(value, list | dict) else json.dumps(value, default=repr)
    return text if len(text) <= 40 else text[:37] + "..."


def _error(text: str, path: list[str | int], problem: str) -> SnapshotFormatError:
    return _at(text, _locate(text, path), problem)


def _at(text: str, offset: int | None, problem: str) -> SnapshotFormatError:
    if offset is None:
        return SnapshotFormatError(problem)
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return SnapshotFormatError(problem, line, column)


def _skip(text: str, pos: int) -> int:
    match = _WHITESPACE.match(text, pos)
    return match.end() if match else pos


def _locate(text: str, path: list[str | int]) -> int | None:
    """Character offset of the value at ``path`` in already-valid JSON text (None if not found)."""
    try:
        pos = _skip(text, 0)
        for step in path:
            if isinstance(step, str):
                if text[pos] != "{":
                    return None
                pos = _skip(text, pos + 1)
                while True:
                    if text[pos] == "}":
                        return None
                    name, pos = _DECODER.raw_decode(text, pos)
                    pos = _skip(text, _skip(text, pos) + 1)  # past ':'
                    if name == step:
                        break
                    _, pos = _DECODER.raw_decode(text, pos)
                    pos = _skip(text, pos)
                    if text[pos] == ",":
                        pos = _skip(text, pos + 1)
            else:
                if text[pos] != "[":
                    return None
                pos = _skip(text, pos + 1)
                for _ in range(step):
                    _, pos = _DECODER.raw_decode(text, pos)
                    pos = _skip(text, pos)
                    if text[pos] != ",":
                        return None
                    pos = _skip(text, pos + 1)
        return pos
    except (IndexError, ValueError):
        return None
