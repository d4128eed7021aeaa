"""import_candles: Binance kline CSVs and plain CSVs in, exact candles stored, bad files rejected with
line numbers and nothing written, re-imports never duplicate."""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.orderblocks.domain.candle_csv import parse_candle_csv, parse_time
from apps.orderblocks.models import Candle
from project.config import BASE_DIR

H = 3_600_000
T = 1_609_459_200_000  # 2021-01-01T00:00:00Z


def binance_row(open_ms, o="23000.00000000", h="23100.00000000", lo="22900.00000000", c="23050.00000000"):
    return f"{open_ms},{o},{h},{lo},{c},12.34500000,{open_ms + H - 1},284000.12,1234,6.1,140000.5,0"


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def run_import(path):
    from io import StringIO

    out, err = StringIO(), StringIO()
    call_command("import_candles", "--csv", str(path), stdout=out, stderr=err)
    return out.getvalue()


@pytest.mark.django_db
def test_binance_kline_csv_is_imported_exactly_and_reimport_never_duplicates(tmp_path):
    rows = [binance_row(T + i * H) for i in range(5)]
    rows[2] = binance_row(T + 2 * H, o="23050.5", h="23200.12345678", lo="23000", c="23199.99")
    path = write(tmp_path, "BTCEUR-1h-2021-01.csv", "\n".join(rows) + "\n")
    assert "5 new" in run_import(path)
    stored = list(Candle.objects.order_by("open_time_ms"))
    assert [c.open_time_ms for c in stored] == [T + i * H for i in range(5)]
    third = stored[2]
    assert (third.open, third.high, third.low, third.close, third.volume) == (
        Decimal("23050.5"),
        Decimal("23200.12345678"),
        Decimal("23000"),
        Decimal("23199.99"),
        Decimal("12.345"),
    )
    assert "0 new, 0 updated, 5 unchanged" in run_import(path)
    assert Candle.objects.count() == 5


@pytest.mark.django_db
def test_binance_csv_with_microsecond_times(tmp_path):
    rows = [binance_row(T + i * H).replace(str(T + i * H), str((T + i * H) * 1000), 1) for i in range(3)]
    path = write(tmp_path, "us.csv", "\n".join(rows))
    run_import(path)
    assert list(Candle.objects.values_list("open_time_ms", flat=True)) == [T, T + H, T + 2 * H]


@pytest.mark.django_db
def test_plain_csv_accepts_iso_utc_epoch_seconds_and_ms(tmp_path):
    text = (
        "time,open,high,low,close,volume\n"
        "2021-01-01T00:00:00Z,100,110,90,105,1.5\n"
        f"{(T + H) // 1000},105,106,104,105.5,2\n"
        f"{T + 2 * H},105.5,107,105,106,0\n"
        "2021-01-01T04:00:00+01:00,106,108,105,107,3\n"  # 03:00 UTC
    )
    path = write(tmp_path, "plain.csv", text)
    assert "4 new" in run_import(path)
    assert list(Candle.objects.values_list("open_time_ms", flat=True)) == [T, T + H, T + 2 * H, T + 3 * H]


@pytest.mark.django_db
def test_updated_values_replace_the_stored_candle(tmp_path):
    path = write(
        tmp_path, "a.csv", "time,open,high,low,close,volume\n2021-01-01T00:00:00Z,100,110,90,105,1\n"
    )
    run_import(path)
    path.write_text("time,open,high,low,close,volume\n2021-01-01T00:00:00Z,100,111,90,106,2\n")
    assert "0 new, 1 updated" in run_import(path)
    candle = Candle.objects.get()
    assert (candle.high, candle.close, candle.volume) == (Decimal(111), Decimal(106), Decimal(2))


@pytest.mark.django_db
def test_bad_rows_are_listed_by_line_and_nothing_is_written(tmp_path):
    run_import(write(tmp_path, "ok.csv", "time,open,high,low,close,volume\n2020-12-31T23:00:00Z,1,2,1,2,1\n"))
    text = "\n".join(
        [
            "time,open,high,low,close,volume",  # 1
            "2021-01-01T00:00:00Z,100,110,90,105,1",  # 2 ok
            "2021-01-01T01:00:00Z,abc,110,90,105,1",  # 3 bad number
            "2021-01-01T02:00:00Z,100,95,90,105,1",  # 4 high below close
            "2021-01-01T03:30:00Z,100,110,90,105,1",  # 5 not on the hour
            "2021-01-01T00:00:00Z,100,110,90,105,1",  # 6 repeats line 2
            "2021-01-01T05:00:00Z,100,110,90",  # 7 too few columns
            "yesterday,100,110,90,105,1",  # 8 bad time
            "2021-01-01T07:00:00Z,100,110,90,105,-1",  # 9 negative volume
            "2021-01-01T08:00:00Z,100,110,90,105,1",  # 10 ok
        ]
    )
    path = write(tmp_path, "bad.csv", text)
    with pytest.raises(CommandError) as caught:
        run_import(path)
    message = str(caught.value)
    assert "7 bad row(s), nothing imported" in message
    for line, words in [
        (3, "open: not a number"),
        (4, "high"),
        (5, "interval boundary"),
        (6, "repeats line 2"),
        (7, "expected 6 columns"),
        (8, "neither ISO 8601"),
        (9, "volume"),
    ]:
        assert f"bad.csv:line {line}: " in message
        assert words in message.split(f"line {line}: ")[1].split("\n")[0]
    assert "line 2:" not in message and "line 10:" not in message
    assert Candle.objects.count() == 1  # only the earlier import


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "line 1: the file is empty"),
        ("date,o,h,l,c,v\n2021-01-01,1,1,1,1,1\n", "line 1: header must be time,open,high,low,close,volume"),
        ("1609459200000,1,2,1,2,1\n", "line 1: a headerless file must be a Binance kline CSV"),
        ("time,open,high,low,close,volume\n", "no candle rows"),
    ],
)
def test_unusable_files_get_one_clear_message(tmp_path, text, expected):
    with pytest.raises(CommandError, match=expected):
        run_import(write(tmp_path, "x.csv", text))
    assert Candle.objects.count() == 0


def test_missing_file_is_named(tmp_path):
    with pytest.raises(CommandError, match="no such file"):
        run_import(tmp_path / "nope.csv")


@pytest.mark.django_db
def test_gaps_in_the_stored_history_are_reported(tmp_path):
    rows = [binance_row(T + i * H) for i in (0, 1, 2, 6, 7)]
    path = write(tmp_path, "gappy.csv", "\n".join(rows))
    from io import StringIO

    err = StringIO()
    call_command("import_candles", "--csv", str(path), stdout=StringIO(), stderr=err)
    reported = err.getvalue()  # the command writes through its own stderr
    assert f"3 missing hour(s) from {T + 3 * H} to {T + 5 * H}" in reported
    assert "backfill_candles" in reported


def test_the_command_line_shows_line_numbers_and_no_traceback(tmp_path):
    path = write(tmp_path, "bad.csv", "time,open,high,low,close,volume\n2021-01-01T00:00:00Z,1,x,1,1,1\n")
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite3'}"}
    done = subprocess.run(
        [sys.executable, "manage.py", "import_candles", "--csv", str(path)],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "line 2: high: not a number" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("2017-07-01T11:00:00Z", 1_498_906_800_000),
        ("2017-07-01T11:00:00+00:00", 1_498_906_800_000),
        ("2017-07-01T13:00:00+02:00", 1_498_906_800_000),
        ("2017-07-01 11:00:00", 1_498_906_800_000),
        ("1498906800", 1_498_906_800_000),
        ("1498906800000", 1_498_906_800_000),
        ("1498906800000000", 1_498_906_800_000),
    ],
)
def test_time_formats(text, ms):
    assert parse_time(text) == ms


def test_parser_sorts_rows_and_reports_the_format():
    parsed = parse_candle_csv([binance_row(T + H), binance_row(T)])
    assert parsed.ok and parsed.format == "binance"
    assert [b.open_time_ms for b in parsed.bars] == [T, T + H]
