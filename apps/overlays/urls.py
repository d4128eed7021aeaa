from __future__ import annotations

from django.urls import path

from apps.overlays import views

urlpatterns = [
    path("", views.chart_page, name="chart"),
    path("api/overlays", views.overlays, name="api-overlays"),
    path("api/metrics", views.metrics, name="api-metrics"),
    path("api/schema", views.schema, name="api-schema"),
]
