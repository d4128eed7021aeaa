from __future__ import annotations

from django.urls import path

from apps.orderblocks import views

urlpatterns = [
    path("candles", views.candles, name="api-candles"),
]
