"""Parse a Binance depth snapshot (``{"lastUpdateId", "bids", "asks"}``) from JSON text.

Every problem raises ``SnapshotFormatError`` with the line and column of the offending value, so a
command can print one clear line instead of a traceback. Pure: takes text, returns plain data.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from apps.book.domain.events import DepthSnapshot, Level

_DECODER = json.JSONDecoder()
_WHITESPACE = re.compile(r"[ \t\n\r]*")


class SnapshotFormatError(ValueError):
    """The text is not a usable depth snapshot; ``line``/``column`` point at the problem (1-based)."""

    def __init__(self, problem: str, line: int | None = None, column: int | None = None) -> None:
        where = f"line {line}, column {column}: " if line is not None else ""
        super().__init__(f"{where}{problem}")
        self.problem = problem
        self.line = line
        self.column = column


def parse_depth_snapshot(text: str) -> DepthSnapshot:
    try:
        document = json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise SnapshotFormatError(f"not valid JSON: {exc.msg}", exc.lineno, exc.colno) from None
    if not isinstance(document, dict):
        raise _error(text, [], 'expected a JSON object {"lastUpdateId", "bids", "asks"}')
    for key in ("lastUpdateId", "bids", "asks"):
        if key not in document:
            raise _error(text, [], f'missing key "{key}"')
    update_id = document["lastUpdateId"]
    if isinstance(update_id, bool) or not isinstance(update_id, int) or update_id < 0:
        raise _error(
            text, ["lastUpdateId"], f"lastUpdateId must be a non-negative integer, got {update_id!r}"
        )
    return DepthSnapshot(
        last_update_id=update_id,
        bids=_levels(text, document["bids"], "bids"),
        asks=_levels(text, document["asks"], "asks"),
    )


def _levels(text: str, raw: Any, key: str) -> tuple[Level, ...]:
    if not isinstance(raw, list):
        raise _error(text, [key], f"{key} must be a list of [price, quantity] pairs")
    levels: list[Level] = []
    first_index: dict[Decimal, int] = {}
    for index, entry in enumerate(raw):
        if not isinstance(entry, list) or len(entry) < 2:
            raise _error(
                text, [key, index], f"{key}[{index}] must be a [price, quantity] pair, got {entry!r}"
            )
        price = _number(text, entry[0], [key, index, 0], f"{key}[{index}] price")
        qty = _number(text, entry[1], [key, index, 1], f"{key}[{index}] quantity")
        if price <= 0:
            raise _error(text, [key, index, 0], f"{key}[{index}] price must be positive, got {entry[0]!r}")
        if qty < 0:
            raise _error(text, [key, index, 1], f"{key}[{index}] quantity must be >= 0, got {entry[1]!r}")
        if price in first_index:
            raise _error(
                text,
                [key, index, 0],
                f"{key}[{index}] repeats price {entry[0]} of {key}[{first_index[price]}]",
            )
        first_index[price] = index
        levels.append((price, qty))
    return tuple(levels)


def _number(text: str, raw: Any, path: list[str | int], what: str) -> Decimal:
    if isinstance(raw, bool) or not isinstance(raw, str | int | Decimal):
        raise _error(text, path, f'{what} must be a decimal string such as "87000.01", got {raw!r}')
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise _error(text, path, f"{what} is not a decimal number: {raw!r}") from None
    if not value.is_finite():
        raise _error(text, path, f"{what} must be finite, got {raw!r}")
    return value


def _error(text: str, path: list[str | int], problem: str) -> SnapshotFormatError:
    offset = _locate(text, path)
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
