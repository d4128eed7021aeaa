"""Demo isolation: simulated data never lands in a database holding real (Binance or imported) data,
and `make demo` / `serve --simulator` use their own database unless DATABASE_URL names one."""

from __future__ import annotations

import sqlite3

import pytest

from apps.book.domain.data_source import DataSource, SourceKind, first_conflict, is_mixing
from project.config import DEMO_SQLITE, REPLAY_SQLITE, demo_database_default
from tests.test_setup_traps import env_for, manage

H = 3_600_000
T = 1_609_459_200_000


def test_only_simulated_and_real_data_do_not_mix():
    real = (SourceKind.BINANCE, SourceKind.IMPORT)
    assert all(not is_mixing(a, b) for a in real for b in real)
    assert all(is_mixing(a, SourceKind.SIMULATOR) and is_mixing(SourceKind.SIMULATOR, a) for a in real)
    assert not is_mixing(SourceKind.SIMULATOR, SourceKind.SIMULATOR)
    held = [DataSource(SourceKind.IMPORT, "/a.csv"), DataSource(SourceKind.BINANCE, "wss://x")]
    assert first_conflict(held, DataSource(SourceKind.SIMULATOR, "sim")) == held[0]
    assert first_conflict(held, DataSource(SourceKind.BINANCE, "wss://y")) is None


def test_replayed_data_keeps_to_databases_of_replays():
    others = (SourceKind.BINANCE, SourceKind.IMPORT, SourceKind.SIMULATOR)
    assert all(is_mixing(kind, SourceKind.REPLAY) and is_mixing(SourceKind.REPLAY, kind) for kind in others)
    assert not is_mixing(SourceKind.REPLAY, SourceKind.REPLAY)
    assert demo_database_default(["manage.py", "serve", "--replay", "rec/"], {}) == {
        "DATABASE_URL": REPLAY_SQLITE
    }
    assert REPLAY_SQLITE.endswith("/var/replay.sqlite3")
    assert (
        demo_database_default(["manage.py", "serve", "--replay", "rec/"], {"DATABASE_URL": "sqlite:///x"})
        == {}
    )


def test_the_demo_command_defaults_to_its_own_database():
    assert demo_database_default(["manage.py", "serve", "--port", "1", "--simulator"], {}) == {
        "DATABASE_URL": DEMO_SQLITE
    }
    assert DEMO_SQLITE.endswith("/var/demo.sqlite3")
    assert demo_database_default(["manage.py", "serve", "--simulator"], {"DATABASE_URL": "sqlite:///x"}) == {}
    assert demo_database_default(["manage.py", "serve"], {}) == {}
    assert demo_database_default(["manage.py", "binance_sim", "--simulator"], {}) == {}


@pytest.fixture
def migrated(tmp_path):
    env = env_for(tmp_path)
    assert manage(env, "migrate", "--noinput", "-v", "0").returncode == 0
    return env


def test_serve_simulator_refuses_a_database_holding_imported_candles(tmp_path, migrated):
    csv = tmp_path / "real.csv"
    csv.write_text(
        "\n".join(
            f"{T + i * H},23000.0,23100.0,22900.0,23050.0,12.3,{T + (i + 1) * H - 1},284000.1,1234,6.1,140000.5,0"
            for i in range(3)
        )
    )
    assert manage(migrated, "import_candles", "--csv", str(csv)).returncode == 0
    done = manage(migrated, "serve", "--port", "1", "--simulator")
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"CommandError: database {tmp_path / 'fresh.sqlite3'} holds import data ({csv}); refusing to add "
        "simulator data (bundled simulator): point DATABASE_URL at another database (make demo uses "
        "var/demo.sqlite3)"
    ]
    with sqlite3.connect(tmp_path / "fresh.sqlite3") as db:
        assert db.execute("select count(*) from btc_eur_1h").fetchone() == (3,)
        assert db.execute("select kind from data_sources").fetchall() == [("import",)]


def test_streaming_from_binance_refuses_a_database_holding_simulated_data(tmp_path, migrated):
    with sqlite3.connect(tmp_path / "fresh.sqlite3") as db:
        db.execute(
            "insert into data_sources (kind, url, first_write_ts_ms) values ('simulator', 'bundled simulator', 1)"
        )
    for args in (("orderbook_stream",), ("backfill_candles",)):
        done = manage(migrated, *args)
        assert done.returncode == 1
        assert "holds simulator data (bundled simulator); refusing to add binance data (" in done.stderr
        assert "Traceback" not in done.stderr
