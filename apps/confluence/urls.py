from __future__ import annotations

from django.urls import path

from apps.confluence import views

urlpatterns = [
    path("orderblocks", views.orderblocks, name="api-orderblocks"),
]
