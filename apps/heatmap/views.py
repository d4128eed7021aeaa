"""GET /api/heatmap?from=&to=&resolution= — heatmap columns, aggregated to the resolution asked for."""

from __future__ import annotations

import time
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.http import HttpRequest

from apps.heatmap.answer import HeatmapQuery, heatmap_answer
from apps.heatmap.domain.grid import default_resolution
from apps.json_http.compression import gzip_when_large
from apps.json_http.endpoint import EncodedJson, json_endpoint
from apps.json_http.query_params import QueryParamError, QueryParams

DEFAULT_SPAN_S = 86_400  # without from: the last 24 h
MAX_RESOLUTION_S = 7 * 86_400
MAX_ANSWER_COLUMNS = 20_000  # an explicit resolution may not ask for more columns than this


@dataclass(frozen=True)
class HeatmapRange:
    from_s: int
    to_s: int
    resolution_s: int


def heatmap_range(params: QueryParams, now_s: int, column_s: int, retention_s: int) -> HeatmapRange:
    """The validated range: defaults (to = now, from = to - 24 h), clipped to what can be stored
    (the retention, up to now), and the resolution (a multiple of column_s; by default the
    smallest usual step that keeps the answer under ~2,000 columns)."""
    span = params.time_range()
    to_s = span.to_s if span.to_s is not None else now_s
    from_s = span.from_s if span.from_s is not None else max(0, to_s - DEFAULT_SPAN_S + 1)
    from_s, to_s = max(from_s, now_s - retention_s - column_s), min(to_s, now_s)
    top = MAX_RESOLUTION_S - MAX_RESOLUTION_S % column_s
    resolution = params.integer("resolution", minimum=column_s, maximum=max(top, column_s))
    if resolution is None:
        return HeatmapRange(from_s, to_s, default_resolution(from_s, to_s, column_s))
    if resolution % column_s:
        raise QueryParamError(
            "resolution", f"must be a multiple of HEATMAP_COLUMN_S ({column_s}), got {resolution}"
        )
    if to_s >= from_s and (to_s - from_s) // resolution + 1 > MAX_ANSWER_COLUMNS:
        raise QueryParamError(
            "resolution",
            f"{resolution} s gives more than {MAX_ANSWER_COLUMNS} columns over [from, to]; ask for a "
            "coarser resolution or a shorter range",
        )
    return HeatmapRange(from_s, to_s, resolution)


@gzip_when_large()
@json_endpoint(allowed_params=("from", "to", "resolution"))
def heatmap(request: HttpRequest, params: QueryParams) -> EncodedJson:
    config = settings.CONFIG
    column_s = config.heatmap_column_s
    retention_s = int(config.heatmap_retention_h * 3600)
    span = heatmap_range(params, int(time.time()), column_s, retention_s)
    query = HeatmapQuery(
        symbol=config.symbol,
        bin_size=Decimal(config.heatmap_bin_size),
        column_s=column_s,
        from_s=span.from_s,
        to_s=span.to_s,
        resolution_s=span.resolution_s,
    )
    if query.from_s > query.to_s:  # nothing can be stored there (before the retention, or ahead)
        query = HeatmapQuery(query.symbol, query.bin_size, column_s, 0, -1, query.resolution_s)
    return heatmap_answer(query)
