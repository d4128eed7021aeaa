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


def blocks_with_confluence(
    symbol: str, blocks: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Order-block dicts with their ``liquidity`` and ``backed`` as last pushed, and whether confluence
    is computed ({"computing", "reason"}; None before the streamer's first cycle)."""
    document = confluence_document(symbol)
    return with_confluence(blocks, document), document["state"] if document is not None else None
