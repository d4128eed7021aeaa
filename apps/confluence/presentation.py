"""Chart-ready JSON of order-block confluence, shared by the REST API, the snapshot and the push.

Per block: ``liquidity`` (null: unknown, e.g. the block lies outside the analysed band or the book is
not live; never 0 for unknown) and ``backed``. Prices, quantities and notionals are decimal strings
(exact), the score a number rounded to 4 decimals (as a zone's strength), ``avg_1h`` a number rounded
to 0.00001 (heatmap values, stored as float32).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from apps.confluence.domain.liquidity import BlockLiquidity
from apps.json_http.decimal_text import decimal_text

SCORE_DECIMALS = 4
AVG_DECIMALS = 5


@dataclass(frozen=True)
class ConfluenceComputeState:
    """Whether confluence is computed, and why not when it is not."""

    computing: bool
    reason: str  # "live", "book is resyncing", "no order block is active", ...

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


NOT_STARTED = ConfluenceComputeState(computing=False, reason="no publication cycle yet")


def liquidity_overlay(liquidity: BlockLiquidity) -> dict[str, Any]:
    """{"side", "price_low", "price_high" (the padded range measured), "qty", "notional", "score",
    "zones", "avg_1h"}."""
    score, avg = liquidity.score, liquidity.avg_1h
    return {
        "side": str(liquidity.side),
        "price_low": decimal_text(liquidity.price_low),
        "price_high": decimal_text(liquidity.price_high),
        "qty": decimal_text(liquidity.qty),
        "notional": decimal_text(liquidity.notional),
        "score": round(score, SCORE_DECIMALS) if score is not None else None,
        "zones": list(liquidity.zones),
        "avg_1h": round(avg, AVG_DECIMALS) if avg is not None else None,
    }


def block_confluence(block_id: str, liquidity: BlockLiquidity | None) -> dict[str, Any]:
    """One block's entry of a ``confluence`` push: {"id", "liquidity", "backed"}."""
    return {
        "id": block_id,
        "liquidity": liquidity_overlay(liquidity) if liquidity is not None else None,
        "backed": liquidity.backed if liquidity is not None else False,
    }


class SharedDelta(dict[str, Any]):
    """A ``confluence`` push: never changed once made (nor are the entries in it), so the in-process
    channel layer, which deep-copies each group message once, shares it instead of copying it entry by
    entry. JSON encodes it as an object."""

    __slots__ = ()

    def __deepcopy__(self, memo: Any) -> SharedDelta:
        return self


def confluence_delta(entries: list[dict[str, Any]], state: ConfluenceComputeState) -> SharedDelta:
    """``data`` of a kind="confluence" message: {"changed": [entry...], "state"}."""
    return SharedDelta(changed=entries, state=state.as_dict())


def state_document(known: dict[str, dict[str, Any]], state: ConfluenceComputeState) -> dict[str, Any]:
    """The stored document: the state and {block id: {"liquidity", "backed"}} of the known blocks."""
    return {"state": state.as_dict(), "blocks": known}


UNKNOWN = {"liquidity": None, "backed": False}


def with_confluence(blocks: list[dict[str, Any]], document: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Order-block dicts (apps.orderblocks.presentation) with their ``liquidity`` and ``backed``;
    invalid blocks and blocks the document does not know: null / false."""
    known = document["blocks"] if document is not None else {}
    out = []
    for block in blocks:
        entry = known.get(block["id"]) if block["status"] != "invalid" else None
        out.append({**block, **(entry if entry is not None else UNKNOWN)})
    return out
