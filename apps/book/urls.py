from __future__ import annotations

from django.urls import path

from apps.book import views

urlpatterns = [
    path("book", views.book, name="api-book"),
]
