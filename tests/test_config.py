from decimal import Decimal

import pytest

from project.config import ConfigError, load_config


def test_defaults_match_the_spec():
    config = load_config({})
    assert config.binance_ws_url == "wss://stream.binance.com:9443"
    assert config.binance_rest_url == "https://api.binance.com"
    assert config.symbol == "BTCEUR"
    assert config.publish_interval_ms == 1000
    assert config.zone_bin_size == Decimal("50")
    assert config.database_url.startswith("sqlite:///")
    assert config.max_request_body == 65536 and config.health_details is False


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("BINANCE_WS_URL", "http://example"),
        ("BINANCE_REST_URL", "ftp://x"),
        ("SYMBOL", "BTC/EUR"),
        ("DATABASE_URL", "mysql://x/y"),
        ("PUBLISH_INTERVAL_MS", "-5"),
        ("ZONE_BIN_SIZE", "abc"),
        ("DEPTH_SPEED", "250ms"),
        ("GC_GEN0_THRESHOLD", "-1"),
        ("GC_GEN0_THRESHOLD", "99999999999"),
        ("WATCHDOG_S", "inf"),
        ("WATCHDOG_S", "nan"),
        ("REST_TIMEOUT_S", "1e308"),
        ("PUBLISH_INTERVAL_MS", "1e23"),
        ("PUBLISH_INTERVAL_MS", "9" * 5000),
        ("ZONE_BIN_SIZE", "Infinity"),
        ("ZONE_RANGE_PCT", "NaN"),
        ("ZONE_WALL_MULTIPLIER", "-inf"),
        ("SNAPSHOT_LIMIT", "10000"),
        ("ALLOWED_HOSTS", ""),
        ("ALLOWED_HOSTS", " , "),
        ("DATABASE_URL", "postgres://u:p@h:99999/db"),
        ("DATABASE_URL", "postgres://u:p@h:port/db"),
        ("MAX_REQUEST_BODY", "0"),
        ("HEALTH_DETAILS", "maybe"),
        ("WS_MAX_PER_IP", "0"),
        ("WS_ALLOWED_ORIGINS", "chart.example.org"),
        ("WS_ALLOWED_ORIGINS", "https://chart.example.org/page"),
    ],
)
def test_bad_values_name_the_variable(variable, value):
    with pytest.raises(ConfigError) as info:
        load_config({variable: value})
    assert info.value.variable == variable
    assert variable in str(info.value)


def test_websocket_limits_default_and_origins_are_normalised():
    config = load_config({})
    assert config.ws_max_per_ip == 32 and config.ws_allowed_origins == []
    origins = load_config({"WS_ALLOWED_ORIGINS": "https://Chart.Example.org, http://10.0.0.5:8000/"})
    assert origins.ws_allowed_origins == ["https://chart.example.org:443", "http://10.0.0.5:8000"]


def test_symbol_is_upper_cased():
    assert load_config({"SYMBOL": "btceur"}).symbol == "BTCEUR"


def test_server_processes_freeze_start_up_objects_and_use_the_configured_young_generation():
    import gc

    from django.conf import settings

    import project.asgi  # noqa: F401  (what daphne, serve and runworker load)

    assert gc.get_freeze_count() > 10_000  # Django and the apps
    assert gc.get_threshold()[0] == settings.CONFIG.gc_gen0_threshold == 50_000


def test_every_numeric_setting_refuses_infinity_and_nan_in_one_line():
    from project.config import SETTINGS

    numeric = [s for s in SETTINGS if s.default.replace(".", "", 1).isdigit()]
    assert len(numeric) > 30
    for setting in numeric:
        for value in ("inf", "nan", "1e400"):
            with pytest.raises(ConfigError) as info:
                load_config({setting.env: value})
            message = str(info.value)
            assert message.startswith(f"{setting.env}: ") and "\n" not in message, message


def test_the_defaults_sit_inside_their_own_bounds():
    from project.config import SETTINGS

    for setting in SETTINGS:
        setting.parse(setting.default)


def test_the_readme_documents_every_setting_with_its_default():
    from pathlib import Path

    from project.config import SETTINGS

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    rows = {
        line.split("|")[1].strip(" `"): line.split("|")[2].strip(" `")
        for line in readme.splitlines()
        if line.startswith("| `")
    }
    missing = [s.env for s in SETTINGS if s.env not in rows]
    assert missing == []
    wrong = [s.env for s in SETTINGS if s.env != "DATABASE_URL" and rows[s.env] != s.default]
    assert wrong == []
