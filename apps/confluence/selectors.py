"""Reads of the order blocks' confluence for the API and the push snapshot."""

from __future__ import annotations

import json
from typing import Any

from apps.confluence.models import ConfluenceState
from apps.confluence.presentation import with_confluence


def confluence_document(symbol: str) -> dict[str, Any] | None:
    """The document the streamer last wrote (apps.confluence.presentation.state_document), or None."""
    text = ConfluenceState.objects.filter(symbol=symbol).values_list("document", flat=True).first()
    return json.loads(text) if text is not None else None


def confluence_state(symbol: str) -> dict[str, Any] | None:
    """{"computing", "reason"} as last written, or None before the first cycle."""
    document = confluence_document(symbol)
    return document["state"] if document is not None else None


def blocks_with_confluence(symbol: str, blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Order-block dicts with their ``liquidity`` and ``backed`` as last pushed."""
    return with_confluence(blocks, confluence_document(symbol))
