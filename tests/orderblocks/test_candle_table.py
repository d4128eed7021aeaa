"""CANDLE_TABLE really names the table: migrate creates it under that name, or keeps an existing
OHLCV table (and its rows) as it is; the commands then read and write it."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys

from project.config import BASE_DIR

H = 3_600_000
T = 1_609_459_200_000


def manage(tmp_path, *args, table):
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "CANDLE_TABLE": table,
        "OB_WARMUP_BARS": "50",
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def tables(tmp_path):
    with sqlite3.connect(tmp_path / "db.sqlite3") as db:
        return {row[0] for row in db.execute("select name from sqlite_master where type='table'")}


def test_migrate_creates_the_configured_table(tmp_path):
    done = manage(tmp_path, "migrate", "--noinput", table="eur_candles_1h")
    assert done.returncode == 0, done.stderr
    assert "eur_candles_1h" in tables(tmp_path)
    assert "btc_eur_1h" not in tables(tmp_path)


def test_an_existing_table_is_kept_and_used(tmp_path):
    with sqlite3.connect(tmp_path / "db.sqlite3") as db:
        db.execute(
            "create table my_ohlc (open_time_ms integer primary key, open real, high real, low real, "
            "close real, volume real)"
        )
        db.executemany(
            "insert into my_ohlc values (?, ?, ?, ?, ?, ?)",
            [(T + i * H, 100 + i, 101 + i, 99 + i, 100.5 + i, 2.5) for i in range(30)],
        )
    done = manage(tmp_path, "migrate", "--noinput", table="my_ohlc")
    assert done.returncode == 0, done.stderr
    with sqlite3.connect(tmp_path / "db.sqlite3") as db:
        assert db.execute("select count(*) from my_ohlc").fetchone() == (30,)

    csv = tmp_path / "more.csv"
    csv.write_text(
        "time,open,high,low,close,volume\n"
        + "\n".join(
            f"{(T + i * H) // 1000},{100 + i},{101 + i},{99 + i},{100.5 + i},1" for i in range(28, 40)
        )
    )
    done = manage(tmp_path, "import_candles", "--csv", str(csv), table="my_ohlc")
    assert done.returncode == 0, done.stderr
    assert "10 new, 2 updated, 0 unchanged" in done.stdout  # 28 and 29 had volume 2.5
    done = manage(tmp_path, "compute_orderblocks", "--json", table="my_ohlc")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []  # a steady climb: no swing is ever broken
    assert "40 candles" in done.stderr


def test_a_table_without_the_needed_columns_is_named(tmp_path):
    with sqlite3.connect(tmp_path / "db.sqlite3") as db:
        db.execute("create table bad_ohlc (ts integer primary key, o real, h real, l real, c real, v real)")
    assert manage(tmp_path, "migrate", "--noinput", table="bad_ohlc").returncode == 0
    done = manage(tmp_path, "compute_orderblocks", table="bad_ohlc")
    assert done.returncode == 1
    assert (
        "candle table bad_ohlc lacks the columns open_time_ms, open, high, low, close, volume" in done.stderr
    )
    assert "Traceback" not in done.stderr


def test_a_table_whose_open_time_is_not_unique_is_named(tmp_path):
    with sqlite3.connect(tmp_path / "db.sqlite3") as db:
        db.execute(
            "create table loose_ohlc (id integer primary key, open_time_ms integer, open real, high real, "
            "low real, close real, volume real)"
        )
    assert manage(tmp_path, "migrate", "--noinput", table="loose_ohlc").returncode == 0
    csv = tmp_path / "c.csv"
    csv.write_text(f"time,open,high,low,close,volume\n{T // 1000},1,2,1,2,1\n")
    done = manage(tmp_path, "import_candles", "--csv", str(csv), table="loose_ohlc")
    assert done.returncode == 1
    assert "candle table loose_ohlc needs open_time_ms as its primary key or a unique column" in done.stderr
    assert "Traceback" not in done.stderr
