"""import_candles: Binance kline CSVs and plain CSVs in, exact candles stored, bad files rejected with
line numbers and nothing written, re-imports never duplicate."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import replace
from decimal import Decimal
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.orderblocks.domain.candle_csv import check_candle_csv, parse_time, read_candles
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


def run_import(path, err=None):
    out = StringIO()
    call_command("import_candles", "--csv", str(path), stdout=out, stderr=err or StringIO())
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
    err = StringIO()
    with pytest.raises(CommandError) as caught:
        run_import(path, err)
    error = str(caught.value)
    assert "\n" not in error  # the error is one line: the first bad row, how many there are
    assert error.startswith(f"{path}: line 3: open: not a number")
    assert error.endswith("7 bad rows in all, listed above; nothing imported")
    message = error + "\n" + err.getvalue()  # the others are listed on stderr before it
    for line, words in [
        (3, "open: not a number"),
        (4, "high"),
        (5, "interval boundary"),
        (6, "repeats line 2"),
        (7, "expected 6 columns"),
        (8, "neither ISO 8601"),
        (9, "volume"),
    ]:
        assert f"bad.csv: line {line}: " in message
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


def test_the_check_reports_format_span_and_rows_and_reading_keeps_file_order():
    data = "\n".join([binance_row(T + H), binance_row(T)]).encode()
    summary = check_candle_csv([data], now_ms=int(time.time() * 1000))
    assert (summary.format, summary.rows, summary.first_ms, summary.last_ms) == ("binance", 2, T, T + H)
    bars = list(read_candles([data], now_ms=int(time.time() * 1000)))
    assert [b.open_time_ms for b in bars] == [T + H, T]


HOSTILE_FILES = {
    "huge-field.csv": lambda: (
        binance_row(T) + "\n" + binance_row(T + H).replace("12.34500000", "9" * 131_072)
    ),
    "multi-line-then-bad.csv": lambda: (
        "time,open,high,low,close,volume\n"
        '"2021-01-01\nT00:00:00Z",1,2,1,2,1\n'
        "2021-01-01T01:00:00Z,1,2,1,2,1\n"
        "2021-01-01T02:00:00Z,1,2,1,x,1\n"
    ),
    "nul.csv": lambda: binance_row(T) + "\n" + binance_row(T + H) + "\x00\n",
    "not-utf8.bin": lambda: b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe",
    "year-9999.csv": lambda: "time,open,high,low,close,volume\n9999-12-31T00:00:00Z,100,110,90,105,1\n",
    "unclosed-quote.csv": lambda: (
        binance_row(T) + '\n"' + "\n".join(binance_row(T + i * H) for i in range(1, 400))
    ),
    "bad-last-of-5000.csv": lambda: "\n".join(binance_row(T + i * H) for i in range(5000)) + "\n1,2,3\n",
}
HOSTILE_LINES = {
    "huge-field.csv": 2,
    "multi-line-then-bad.csv": 2,
    "nul.csv": 2,
    "not-utf8.bin": 1,
    "year-9999.csv": 2,
    "unclosed-quote.csv": 2,
    "bad-last-of-5000.csv": 5001,
}


def candle_rows(database):
    import sqlite3

    with sqlite3.connect(database) as db:
        return db.execute("select * from btc_eur_1h order by open_time_ms").fetchall()


def test_hostile_files_give_exit_1_one_error_line_naming_the_line_and_leave_the_table_unchanged(tmp_path):
    from bench.processes import manage_argv, migrate

    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'hostile.sqlite3'}"}
    migrate(env)
    seed = write(tmp_path, "seed.csv", "\n".join(binance_row(T - i * H) for i in range(1, 6)))
    assert (
        subprocess.run(manage_argv("import_candles", "--csv", str(seed)), env=env, cwd=BASE_DIR).returncode
        == 0
    )
    before = candle_rows(tmp_path / "hostile.sqlite3")
    assert len(before) == 5
    runs = {}
    for name, make in HOSTILE_FILES.items():
        content = make()
        path = tmp_path / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        runs[name] = subprocess.Popen(
            manage_argv("import_candles", "--csv", str(path)),
            env=env,
            cwd=BASE_DIR,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    for name, run in runs.items():
        out, err = run.communicate(timeout=120)
        assert run.returncode == 1, (name, out, err)
        assert "Traceback" not in err, name
        errors = [line for line in err.splitlines() if not line.startswith("import_candles: ")]
        assert len(errors) == 1, (name, err)  # one error line; the rest are progress / further bad rows
        assert errors[0].startswith(f"CommandError: {tmp_path / name}: line {HOSTILE_LINES[name]}: "), (
            name,
            err,
        )
        assert errors[0].endswith("nothing imported"), (name, err)
        assert out == ""
        if name == "multi-line-then-bad.csv":  # the later bad row keeps its physical line number
            assert f"import_candles: {tmp_path / name}: line 5: close: not a number" in err
    assert candle_rows(tmp_path / "hostile.sqlite3") == before


@pytest.mark.django_db
def test_an_import_that_changes_stored_candles_makes_the_next_order_block_run_full(tmp_path):
    from apps.orderblocks.domain.blocks import order_blocks_for_bars
    from apps.orderblocks.domain.engine import EngineParams
    from apps.orderblocks.services.blocks import all_blocks
    from apps.orderblocks.services.candles import load_bars
    from apps.orderblocks.services.jobs import run_orderblocks
    from tests.orderblocks import scenarios as sc

    bars = sc.random_bars(8, 600)

    def csv_of(candles):
        return "\n".join(
            f"{b.open_time_ms},{b.open},{b.high},{b.low},{b.close},{b.volume},{b.open_time_ms + H - 1},0,0,0,0,0"
            for b in candles
        )

    run_import(write(tmp_path, "a.csv", csv_of(bars)))
    run_orderblocks()
    lifted = [
        replace(b, open=b.open * 2, high=b.high * 2, low=b.low * 2, close=b.close * 2) for b in bars[300:]
    ]  # same hours, same count: only the values differ
    err = StringIO()
    assert "0 new, 300 updated" in run_import(write(tmp_path, "b.csv", csv_of(bars[:300] + lifted)), err)
    assert "the next order-block run is a full one" in err.getvalue()
    summary = run_orderblocks()
    assert summary.mode == "full"
    want = order_blocks_for_bars(load_bars(), settings.CONFIG.symbol, EngineParams())
    zones = {(r.direction, r.created_ts_ms, r.price_low, r.price_high) for r in want}
    assert {
        (r.direction, r.created_ts_ms, r.price_low, r.price_high) for r in all_blocks(settings.CONFIG.symbol)
    } == zones


@pytest.mark.django_db
def test_an_import_into_a_database_holding_simulated_data_is_refused_in_one_line(tmp_path):
    from apps.book.models import DataSource

    DataSource.objects.create(kind="simulator", url="bundled simulator", first_write_ts_ms=1)
    with pytest.raises(CommandError) as caught:
        run_import(write(tmp_path, "real.csv", binance_row(T)))
    assert "holds simulator data (bundled simulator); refusing to add import data" in str(caught.value)
    assert "\n" not in str(caught.value)
    assert Candle.objects.count() == 0
