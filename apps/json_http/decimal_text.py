"""Decimals as JSON text: every price and quantity leaves the service as a plain decimal string."""

from __future__ import annotations

from typing import Any


def decimal_text(value: Any) -> str:
    """A Decimal as plain positional text (no exponent), e.g. 87000.5 -> '87000.5'."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text
