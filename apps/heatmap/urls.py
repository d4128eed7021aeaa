from __future__ import annotations

from django.urls import path

from apps.heatmap import views

urlpatterns = [path("heatmap", views.heatmap, name="api-heatmap")]
