from __future__ import annotations

from django.conf import settings
from django.urls import path, re_path

from apps.overlays import views

urlpatterns = [
    path("", views.chart_page, name="chart"),
    path("api/overlays", views.overlays, name="api-overlays"),
    path("api/metrics", views.metrics, name="api-metrics"),
    path("api/health", views.health, name="api-health"),
    path("api/schema", views.schema, name="api-schema"),
    re_path(rf"^{settings.STATIC_URL.strip('/')}/(?P<path>.+)$", views.static_file, name="static-file"),
]
