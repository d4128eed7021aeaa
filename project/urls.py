"""HTTP routes: the chart page and the JSON API."""

from __future__ import annotations

from django.urls import include, path

urlpatterns = [
    path("", include("apps.overlays.urls")),
    path("api/", include("apps.book.urls")),
    path("api/", include("apps.zones.urls")),
    path("api/", include("apps.orderblocks.urls")),
    path("api/", include("apps.confluence.urls")),  # /api/orderblocks: the blocks with their liquidity
    path("api/", include("apps.heatmap.urls")),
    path("api/", include("apps.reactions.urls")),
    path("api/", include("apps.alerts.urls")),
]
