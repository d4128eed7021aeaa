"""Validation of the query strings of every overlay/candle/zone endpoint.

Pure: fed a plain ``{name: [values...]}`` mapping, returns plain values or raises
``QueryParamError`` naming the parameter. The views turn that error into HTTP 400 JSON.

Conventions shared by all endpoints:
- times (``from``/``to``) are UTC seconds since the epoch, integers, inclusive bounds;
- ``from`` greater than ``to`` is an error (reversed range);
- ``limit`` is 1..cap (the API_MAX_LIMIT setting); above the cap is an error, not silently clipped;
- ``status`` is one status or a comma-separated list of known statuses;
- a choice (such as ``tf``) is one of its options, spelled exactly;
- unknown or repeated parameters are errors, so a typo such as ``?form=`` never goes unnoticed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

# 9999-12-31T23:59:59Z: keeps every millisecond value inside a signed 64-bit column.
MAX_TIME_S = 253_402_300_799
_INTEGER = re.compile(r"[+-]?[0-9]{1,18}")


class QueryParamError(ValueError):
    """One query parameter has a value the endpoint cannot use."""

    def __init__(self, parameter: str, problem: str) -> None:
        super().__init__(f"{parameter}: {problem}")
        self.parameter = parameter
        self.problem = problem

    def as_json(self) -> dict[str, str]:
        return {"error": "bad_parameter", "parameter": self.parameter, "detail": self.problem}


@dataclass(frozen=True)
class TimeRange:
    """Inclusive [from_s, to_s] in UTC seconds; None means open on that side."""

    from_s: int | None
    to_s: int | None

    @property
    def from_ms(self) -> int | None:
        return None if self.from_s is None else self.from_s * 1000

    @property
    def to_ms(self) -> int | None:
        """The last millisecond of the ``to`` second (bounds are inclusive)."""
        return None if self.to_s is None else self.to_s * 1000 + 999


class QueryParams:
    """One request's query parameters, checked against the names the endpoint accepts."""

    def __init__(self, query: Mapping[str, Sequence[str]], allowed: Iterable[str]) -> None:
        allowed_set = set(allowed)
        self._values: dict[str, str] = {}
        for name in sorted(query):
            values = list(query[name])
            if name not in allowed_set:
                known = ", ".join(sorted(allowed_set)) or "none"
                raise QueryParamError(name, f"unknown parameter (accepted: {known})")
            if len(values) != 1:
                raise QueryParamError(name, "given more than once")
            self._values[name] = values[0]

    def raw(self, name: str) -> str | None:
        return self._values.get(name)

    def integer(self, name: str, *, minimum: int, maximum: int, default: int | None = None) -> int | None:
        text = self._values.get(name)
        if text is None:
            return default
        if text == "":
            raise QueryParamError(name, "is empty; give an integer or leave it out")
        if not _INTEGER.fullmatch(text):
            raise QueryParamError(name, f"must be an integer, got {text[:40]!r}")
        value = int(text)
        if value < minimum:
            raise QueryParamError(name, f"must be >= {minimum}, got {value}")
        if value > maximum:
            raise QueryParamError(name, f"must be <= {maximum}, got {value}")
        return value

    def time_range(self, from_name: str = "from", to_name: str = "to") -> TimeRange:
        from_s = self.integer(from_name, minimum=0, maximum=MAX_TIME_S)
        to_s = self.integer(to_name, minimum=0, maximum=MAX_TIME_S)
        if from_s is not None and to_s is not None and from_s > to_s:
            raise QueryParamError(
                from_name, f"reversed range: {from_name}={from_s} is after {to_name}={to_s}"
            )
        return TimeRange(from_s, to_s)

    def limit(self, *, default: int, cap: int, name: str = "limit") -> int:
        value = self.integer(name, minimum=1, maximum=cap, default=min(default, cap))
        assert value is not None
        return value

    def choice(self, name: str, options: Sequence[str], *, default: str) -> str:
        """One of `options` (exactly as written), or `default` when the parameter is absent."""
        text = self._values.get(name)
        if text is None:
            return default
        if text not in options:
            raise QueryParamError(name, f"must be one of {', '.join(options)}, got {text[:40]!r}")
        return text

    def statuses(self, allowed: Sequence[str], name: str = "status") -> tuple[str, ...] | None:
        """None when absent (no filter); else the distinct requested statuses in the given order."""
        text = self._values.get(name)
        if text is None:
            return None
        parts = [part.strip() for part in text.split(",")]
        if not text.strip() or any(not part for part in parts):
            raise QueryParamError(name, f"must be one or more of {', '.join(allowed)} separated by commas")
        unknown = [part for part in parts if part not in allowed]
        if unknown:
            raise QueryParamError(name, f"unknown status {unknown[0][:40]!r}; known: {', '.join(allowed)}")
        return tuple(dict.fromkeys(parts))
