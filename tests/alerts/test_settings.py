"""The alert settings: defaults a trader expects, and bad values refused naming the variable."""

from __future__ import annotations

from decimal import Decimal

import pytest

from apps.alerts.domain.rules import AlertParams
from apps.alerts.services.webhook import WebhookSettings
from project.config import ConfigError, load_config


def test_defaults():
    config = load_config({})
    params = AlertParams.from_config(config)
    assert (params.orderblock_entered, params.zone_ended_in_block) == (True, True)
    assert (params.zone_confirmed_near_mid, params.book_stale) == (True, True)
    assert (params.min_strength, params.near_pct, params.stale_s, params.cooldown_s) == (
        8.0,
        Decimal("0.5"),
        30.0,
        300.0,
    )
    assert params.bin_size == config.zone_bin_size
    assert config.alert_retention_d == 30 and WebhookSettings.from_config(config) is None
    hook = WebhookSettings.from_config(
        load_config({"ALERT_WEBHOOK_URL": "https://hooks.example.com/T0/B0/x"})
    )
    assert hook == WebhookSettings("https://hooks.example.com/T0/B0/x", 5.0, 8, 1.0)
    assert hook.host == "hooks.example.com"
    off = AlertParams.from_config(
        load_config({"ALERT_RULE_ORDERBLOCK_ENTERED": "0", "ALERT_COOLDOWN_S": "0"})
    )
    assert off.orderblock_entered is False and off.cooldown_s == 0


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("ALERT_RULE_BOOK_STALE", "maybe"),
        ("ALERT_MIN_STRENGTH", "-1"),
        ("ALERT_NEAR_PCT", "NaN"),
        ("ALERT_STALE_S", "0"),
        ("ALERT_COOLDOWN_S", "inf"),
        ("ALERT_WEBHOOK_URL", "hooks.example.com/x"),
        ("ALERT_WEBHOOK_TIMEOUT_S", "1e9"),
        ("ALERT_WEBHOOK_MAX_ATTEMPTS", "0"),
        ("ALERT_WEBHOOK_BACKOFF_S", "-2"),
        ("ALERT_RETENTION_D", "99999"),
    ],
)
def test_bad_values_name_the_variable(variable, value):
    with pytest.raises(ConfigError) as info:
        load_config({variable: value})
    assert info.value.variable == variable
