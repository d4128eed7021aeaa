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
    ],
)
def test_bad_values_name_the_variable(variable, value):
    with pytest.raises(ConfigError) as info:
        load_config({variable: value})
    assert info.value.variable == variable
    assert variable in str(info.value)


def test_symbol_is_upper_cased():
    assert load_config({"SYMBOL": "btceur"}).symbol == "BTCEUR"
