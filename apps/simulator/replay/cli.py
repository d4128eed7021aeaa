"""The replay's command-line options, shared by `serve --replay` and `binance_sim --replay`:
``--replay FILE... [--speed X|max] [--from T] [--loop] [--times recorded|now]``."""

from __future__ import annotations

import argparse
import re
from datetime import UTC, datetime
from typing import Any

from django.core.management.base import CommandError, CommandParser

from apps.recording.domain.recording import Recording
from apps.recording.services.files import RecordingNotFound, load_recording
from apps.simulator.replay.server import ReplayServer

MAX_SPEED = 10_000.0


def speed_option(text: str) -> float | None:
    """``max`` (None: as fast as the clients take it) or a factor above 0 up to 10000."""
    if text == "max":
        return None
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is neither a number nor max") from None
    if not 0 < value <= MAX_SPEED:
        raise argparse.ArgumentTypeError(f"{text!r}: must be above 0 and at most {MAX_SPEED:g}, or max")
    return value


def add_replay_arguments(parser: CommandParser, *, help_replay: str) -> None:
    parser.add_argument("--replay", nargs="+", metavar="FILE", help=help_replay)
    parser.add_argument(
        "--speed", type=speed_option, default=1.0, help="replay speed: a factor (10 = ten times) or max"
    )
    parser.add_argument(
        "--from",
        dest="replay_from",
        metavar="T",
        help="start at this recorded time: ISO 8601 UTC (2021-04-04T20:03:30Z), unix seconds, or +SECONDS "
        "after the recording's start",
    )
    parser.add_argument("--loop", action="store_true", help="start the recording again when it ends")
    parser.add_argument(
        "--times",
        choices=("recorded", "now"),
        default="recorded",
        help="event times as recorded, or moved by whole hours to now",
    )


def from_ns(text: str | None, recording_start_ns: int) -> int | None:
    """--from as a receive time in ns: ISO 8601 (UTC unless it names a zone), unix seconds, or
    +SECONDS after the recording's first frame."""
    if text is None:
        return None
    text = text.strip()
    if re.fullmatch(r"\+\d+(\.\d+)?", text):
        return recording_start_ns + int(float(text[1:]) * 1e9)
    if re.fullmatch(r"\d{9,11}(\.\d+)?", text):
        return int(float(text) * 1e9)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise CommandError(
            f"--from: {text!r} is not an ISO 8601 time, unix seconds or +SECONDS after the start"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1e9)


def load(paths: list[str]) -> Recording:
    """The recording, or a one-line CommandError saying why there is none."""
    try:
        recording = load_recording(paths)
    except (RecordingNotFound, OSError) as exc:
        raise CommandError(f"--replay: {exc}") from None
    if not recording.frames:
        raise CommandError(
            f"--replay: {', '.join(paths)} holds no frame ({recording.bad_lines} unreadable lines)"
        )
    return recording


def replay_symbol(recording: Recording, configured: str) -> str:
    """The symbol to follow: SYMBOL when the recording has its depth stream, else the recording's
    only one; several and none of them SYMBOL is an error naming them."""
    symbols = recording.symbols
    if configured in symbols:
        return configured
    if len(symbols) == 1:
        return symbols[0]
    if not symbols:
        raise CommandError("--replay: the recording holds no depth stream")
    raise CommandError(f"--replay: the recording holds {', '.join(symbols)}: set SYMBOL to one of them")


def replay_server(recording: Recording, options: dict[str, Any]) -> ReplayServer:
    assert recording.start_ns is not None
    start = from_ns(options["replay_from"], recording.start_ns)
    if start is not None and recording.end_ns is not None and start > recording.end_ns:
        raise CommandError("--from: after the recording's last frame")
    return ReplayServer(
        recording,
        speed=options["speed"],
        from_ns=start,
        loop=options["loop"],
        shift_times=options["times"] == "now",
    )


def describe(recording: Recording) -> str:
    """One line: what the recording holds."""
    assert recording.start_ns is not None and recording.end_ns is not None
    start = datetime.fromtimestamp(recording.start_ns / 1e9, UTC)
    seconds = (recording.end_ns - recording.start_ns) / 1e9
    counts = recording.counts()
    return (
        f"{counts['frames']:,} frames, {counts['snapshots']} snapshots, {counts['rest']} other REST answers, "
        f"{seconds:,.0f} s from {start.isoformat(timespec='seconds')}; symbols {', '.join(recording.symbols)}"
    )
