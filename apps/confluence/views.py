"""GET /api/orderblocks: the order blocks (apps.orderblocks) with the liquidity inside each one."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from apps.confluence.selectors import blocks_with_confluence
from apps.json_http.endpoint import json_endpoint
from apps.json_http.query_params import QueryParams
from apps.orderblocks import views as orderblock_views


@json_endpoint(allowed_params=("status", "from", "to", "limit"))
def orderblocks(request: HttpRequest, params: QueryParams) -> dict[str, Any]:
    """apps.orderblocks.views.orderblocks' answer, each block with ``liquidity`` and ``backed``."""
    answer = orderblock_views.orderblock_list(params)
    answer["orderblocks"], _ = blocks_with_confluence(answer["symbol"], answer["orderblocks"])
    return answer
