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
