from __future__ import annotations

from django.urls import path

from apps.reactions import views

urlpatterns = [
    path("reactions", views.reactions, name="api-reactions"),
    path("reactions/stats", views.reaction_stats, name="api-reaction-stats"),
]
