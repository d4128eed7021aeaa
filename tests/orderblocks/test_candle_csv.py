"""The candle CSV reader (pure): plausibility rules, line numbers that do not drift, limits that keep
memory bounded, and for any input whatsoever either candles or CandleCsvError naming a line."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from apps.orderblocks.domain.candle_csv import (
    MAX_ERRORS_KEPT,
    MAX_LINE_BYTES,
    MAX_RECORD_LINES,
    CandleCsvError,
    check_candle_csv,
    read_candles,
)
from apps.orderblocks.domain.candles import Bar
from apps.orderblocks.domain.plausibility import (
    EARLIEST_OPEN_MS,
    MAX_PRICE,
    MAX_VOLUME,
    implausibility,
    open_time_not_before_2009,
    open_time_not_in_the_future,
    prices_at_most_max_price,
    volume_at_most_max_volume,
)

H = 3_600_000
T = 1_609_459_200_000  # 2021-01-01T00:00:00Z
NOW = T + 10 * H + 1_800_000  # 2021-01-01T10:30:00Z: the candle of 10:00 is open
HEADER = "time,open,high,low,close,volume"


def bar(t=T, o="100", h="110", lo="90", c="105", v="1"):
    return Bar(t, Decimal(o), Decimal(h), Decimal(lo), Decimal(c), Decimal(v))


def row(t=T, o="100", h="110", lo="90", c="105", v="1"):
    return f"{t},{o},{h},{lo},{c},{v},{t + H - 1},1000.5,10,0.5,500.25,0"


def check(text: str | bytes, now_ms: int = NOW):
    data = text.encode() if isinstance(text, str) else text
    return check_candle_csv([data], now_ms=now_ms)


def rejection(text: str | bytes, now_ms: int = NOW) -> CandleCsvError:
    with pytest.raises(CandleCsvError) as caught:
        check(text, now_ms)
    return caught.value


# ------------------------------------------------------------------------------------ plausibility


def test_no_candle_opens_after_the_one_open_now():
    assert open_time_not_in_the_future(bar(T + 10 * H), NOW) is None  # the open candle itself
    assert "in the future" in open_time_not_in_the_future(bar(T + 11 * H), NOW)


def test_no_candle_before_2009():
    assert open_time_not_before_2009(bar(EARLIEST_OPEN_MS)) is None
    assert "before 2009-01-01" in open_time_not_before_2009(bar(EARLIEST_OPEN_MS - H))


def test_prices_are_at_most_a_billion_euro():
    assert prices_at_most_max_price(bar(o="1e9", h="1e9", lo="1e9", c="1e9")) is None
    assert prices_at_most_max_price(bar(h="1000000000.01")) == f"high: above {MAX_PRICE:f} EUR"


def test_volume_is_at_most_a_trillion():
    assert volume_at_most_max_volume(bar(v="1e12")) is None
    assert volume_at_most_max_volume(bar(v="1000000000000.00000001")) == f"volume: above {MAX_VOLUME:f}"


def test_implausibility_names_the_first_rule_broken():
    assert implausibility(bar(), NOW) is None
    assert implausibility(bar(T + 20 * H, h="2e9"), NOW).startswith("time:")


def test_a_row_dated_9999_is_refused_by_line_and_nothing_is_read():
    text = f"{HEADER}\n2021-01-01T00:00:00Z,1,2,1,2,1\n9999-12-31T00:00:00Z,1,2,1,2,1\n"
    error = rejection(text)
    assert (
        str(error)
        == "line 3: time: 9999-12-31T00:00:00Z is in the future (the current candle opened at 2021-01-01T10:00:00Z)"
    )
    with pytest.raises(CandleCsvError):
        list(read_candles([text.encode()], now_ms=NOW))


@pytest.mark.parametrize(
    ("cells", "words"),
    [
        (
            "2008-12-31T23:00:00Z,1,2,1,2,1",
            "time: 2008-12-31T23:00:00Z is before 2009-01-01, when Bitcoin began",
        ),
        ("2021-01-01T00:00:00Z,NaN,2,1,2,1", "open: must be a finite number"),
        ("2021-01-01T00:00:00Z,1,Infinity,1,2,1", "high: must be a finite number"),
        ("2021-01-01T00:00:00Z,0,2,1,2,1", "open: must be > 0"),
        ("2021-01-01T00:00:00Z,1,2,1,2,-0.5", "volume: must be >= 0"),
        ("2021-01-01T00:00:00Z,2e9,3e9,1,2,1", "open: above 1000000000 EUR"),
        ("2021-01-01T00:00:00Z,1,2,1,2,2e12", "volume: above 1000000000000"),
        ("2021-01-01T00:00:00Z,5,4,1,2,1", "high: below open/close/low"),
        ("2021-01-01T00:00:00Z,1,4,2,3,1", "low: above open/close"),
    ],
)
def test_implausible_and_impossible_values_are_refused_by_line(cells, words):
    assert str(rejection(f"{HEADER}\n{cells}\n")) == f"line 2: {words}"


# ---------------------------------------------------------------------------------- line numbers


def test_line_numbers_do_not_drift_after_multi_line_quoted_fields():
    lines = [
        HEADER,  # 1
        '"2021-01-01',  # 2: a record over lines 2-4
        'T00:00:00Z",1,2,1,2,"1',
        '"',
        "2021-01-01T01:00:00Z,1,2,1,2,1",  # 5 ok
        "2021-01-01T02:00:00Z,1,x,1,2,1",  # 6 bad
    ]
    error = rejection("\n".join(lines))
    assert [str(e) for e in error.errors] == [
        "line 2: a quoted field runs over lines 2-4; a candle row is one line",
        "line 6: high: not a number ('x')",
    ]


def test_a_field_longer_than_any_limit_is_one_error_with_its_line():
    error = rejection(f"{row()}\n{row(T + H, v='9' * 131_072)}\n{row(T + 2 * H)}\n")
    assert str(error) == f"line 2: longer than {MAX_LINE_BYTES} bytes"
    assert error.stopped


def test_an_unclosed_quote_stops_reading_at_the_line_where_it_opened():
    text = f'{HEADER}\n2021-01-01T00:00:00Z,1,2,1,2,"1\n' + "\n".join(["9" * 100] * 5000)
    error = rejection(text)
    assert str(error) == f"line 2: a quoted field is not closed within {MAX_RECORD_LINES} lines"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (f"{HEADER}\n2021-01-01T00:00:00Z,1,2,1,2,1\x00\n".encode(), "line 2: contains a NUL byte"),
        (f"{HEADER}\n2021-01-01T00:00:00Z,1,2,1,2,\xe9\n".encode(), "line 2: byte 0xc3 at column 30"),
        (HEADER.encode() + b"\n2021-01-01T00:00:00Z,1,2,1,2,\xff\n", "line 2: byte 0xff at column 30"),
        (b"", "line 1: the file is empty"),
        (b"\n\n \n", "line 1: the file is empty"),
        (f"{HEADER}\n".encode(), "line 1: no candle rows"),
        (b'"a"b,c\n', "line 1: not valid CSV"),
    ],
)
def test_unreadable_bytes_are_one_error_naming_the_line(data, message):
    assert str(rejection(data)).startswith(message)


def test_bom_and_crlf_line_ends_are_read():
    data = b"\xef\xbb\xbf" + f"{HEADER}\r\n2021-01-01T00:00:00Z,1,2,1,2,1\r\n".encode()
    assert check(data).rows == 1


def test_every_bad_row_is_counted_and_the_first_ones_listed():
    text = "\n".join([HEADER, *[f"2021-01-01T00:00:00Z,1,{i}x,1,2,1" for i in range(50)]])
    error = rejection(text)
    assert error.total == 50 and len(error.errors) == MAX_ERRORS_KEPT
    assert [e.line for e in error.errors] == list(range(2, 2 + MAX_ERRORS_KEPT))


def test_a_repeated_open_time_names_its_first_line():
    text = "\n".join([row(T), row(T + H), row(T)])
    assert str(rejection(text)) == f"line 3: time: {T} repeats line 1"


def test_checked_candles_are_read_back_in_file_order():
    rows = [row(T + 3 * H), row(T), row(T + H, o="100.12345678")]
    summary = check("\n".join(rows))
    assert (summary.rows, summary.first_ms, summary.last_ms) == (3, T, T + 3 * H)
    bars = list(read_candles(["\n".join(rows).encode()], now_ms=NOW))
    assert [b.open_time_ms for b in bars] == [T + 3 * H, T, T + H]
    assert bars[2].open == Decimal("100.12345678")


# ------------------------------------------------------------------------------------------ fuzz

PIECES = st.sampled_from(
    ["1609459200000", "2021-01-01T00:00:00Z", "100", "1e9", "-1", "NaN", "sNaN", "Infinity", "1e-999999999",
     "1E+999999999", "0.000000001", "9" * 30, '"', '""', ",", "\n", "\r", "\r\n", "\x00", " ", "\t", "\u00e9",
     "\ufeff", "١٢٣", "x", "time", "open_time", "T", ":", "+25:00", "9999-12-31", "0001-01-01T00:00+01:00"]
)  # fmt: skip
SEPARATORS = st.sampled_from(["\n", "\r\n", "\r", "", '"\n', ",\n"])


def rows_text(values: list[tuple[int, int, int]]) -> str:
    return "\n".join(row(T + (i % 12) * H, v="1" if ok else str(v)) for i, ok, v in values)


fuzz_inputs = st.one_of(
    st.binary(max_size=3000),
    st.text(max_size=1500),
    st.lists(PIECES, max_size=300).map("".join),
    st.lists(st.one_of(PIECES, st.builds(row, st.integers(0, 30).map(lambda i: T + i * H))), max_size=60).flatmap(
        lambda parts: SEPARATORS.map(lambda sep: sep.join(parts))
    ),
    st.tuples(st.integers(MAX_LINE_BYTES - 3, 140_000), st.sampled_from('x",\n9'), st.text(max_size=50)).map(
        lambda t: HEADER + "\n" + row() + "\n" + t[1] * t[0] + t[2]
    ),
)  # fmt: skip


def physical_line_count(data: bytes) -> int:
    return data.count(b"\n") + 1


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fuzz_inputs, st.lists(st.integers(1, 5000), max_size=5))
@example(f"{HEADER}\n{row()}\n".encode(), [])
@example('"' * 70_000, [])
def test_any_input_gives_candles_or_one_error_type_naming_a_line(text, cuts):
    data = text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass")
    chunks, start = [], 0  # any chunking reads the same
    for cut in sorted(cuts):
        chunks.append(data[start:cut])
        start = max(start, cut)
    chunks.append(data[start:])
    try:
        summary = check_candle_csv(chunks, now_ms=NOW)
    except CandleCsvError as error:
        assert error.errors and 1 <= error.line <= physical_line_count(data)
        assert all(1 <= e.line <= physical_line_count(data) and "\n" not in e.message for e in error.errors)
        with pytest.raises(CandleCsvError):  # the write pass refuses what the check refused
            list(read_candles([data], now_ms=NOW))
        return
    bars = list(read_candles([data], now_ms=NOW))  # what the check passed, the write pass reads whole
    assert len(bars) == summary.rows > 0 and all(isinstance(b, Bar) for b in bars)
    assert min(b.open_time_ms for b in bars) == summary.first_ms >= EARLIEST_OPEN_MS
    assert max(b.open_time_ms for b in bars) == summary.last_ms <= NOW
