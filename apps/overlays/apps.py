from django.apps import AppConfig


class OverlaysConfig(AppConfig):
    name = "apps.overlays"
    label = "overlays"
    default_auto_field = "django.db.models.BigAutoField"
