from __future__ import annotations

from django.urls import path

from apps.alerts import views

urlpatterns = [path("alerts", views.alerts, name="api-alerts")]
