"""When each recorded frame is due on replay, and the time shift of its timestamps. Pure: times in.

`PacingSchedule`: a frame received at ``t`` is due ``(t - origin) / speed`` after the replay's origin
(real seconds on the caller's monotonic clock); without a speed (``max``) every frame is due at once.
`rebase` moves the origin (the replay jumped to another place in the recording).

Time shift (`--times now`): every event time in the frames (``E``, ``T``, a kline's ``t``) and the
klines rows' open and close times move by a whole number of hours (`hour_aligned_offset_ms`): the
recording's first frame lands in the hour before now and candles keep their hour boundaries.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

HOUR_MS = 3_600_000
_EVENT_TIME = re.compile(r'"([ET])":(\d{1,19})')
_KLINE_OPEN = re.compile(r'"t":(\d{1,19})')
_EVENT_TYPE = re.compile(r'"e":"(\w+)"')


@dataclass(slots=True)
class PacingSchedule:
    speed: float | None  # None: as fast as the clients take the frames
    origin_ns: int = 0  # this recorded receive time ...
    origin_real: float = 0.0  # ... is due at this real time (seconds, monotonic)

    def rebase(self, receive_ns: int, real_now: float) -> None:
        """From now on, the frame received at ``receive_ns`` is due at ``real_now``."""
        self.origin_ns, self.origin_real = receive_ns, real_now

    def due(self, receive_ns: int) -> float:
        """The real time a frame received at ``receive_ns`` goes out."""
        if self.speed is None:
            return self.origin_real
        return self.origin_real + (receive_ns - self.origin_ns) / 1e9 / self.speed

    def recorded_ns_at(self, real_now: float) -> int:
        """The recorded time the replay has reached at ``real_now`` (at max speed: the origin's)."""
        if self.speed is None:
            return self.origin_ns
        return self.origin_ns + int((real_now - self.origin_real) * self.speed * 1e9)


def hour_aligned_offset_ms(first_receive_ns: int, now_ms: int) -> int:
    """Whole hours that bring the recording's first frame into the hour before ``now_ms`` (0 if it is
    already there or in the future)."""
    behind_ms = now_ms - first_receive_ns // 1_000_000
    return max(0, behind_ms // HOUR_MS) * HOUR_MS


def shift_frame_times(text: str, offset_ms: int) -> str:
    """The frame with its event times moved by ``offset_ms`` (``E`` and ``T`` of any event, and ``t``
    of a kline); the rest of the text byte for byte."""
    if offset_ms == 0:
        return text

    def moved(match: re.Match[str]) -> str:
        return f'"{match.group(1)}":{int(match.group(2)) + offset_ms}'

    shifted = _EVENT_TIME.sub(moved, text)
    kind = _EVENT_TYPE.search(text)
    if kind is not None and kind.group(1) == "kline":
        shifted = _KLINE_OPEN.sub(lambda m: f'"t":{int(m.group(1)) + offset_ms}', shifted)
    return shifted


def shift_kline_row(row: list[object], offset_ms: int) -> list[object]:
    """A klines row with its open and close times moved by ``offset_ms``."""
    if offset_ms == 0:
        return row
    shifted = list(row)
    for i in (0, 6):
        value = shifted[i]
        if type(value) is int:
            shifted[i] = value + offset_ms
    return shifted
