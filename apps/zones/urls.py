from __future__ import annotations

from django.urls import path

from apps.zones import views

urlpatterns = [
    path("zones", views.zones, name="api-zones"),
    path("zones/history", views.zone_history, name="api-zone-history"),
]
