from django.apps import AppConfig


class ZonesConfig(AppConfig):
    name = "apps.zones"
    label = "zones"
    default_auto_field = "django.db.models.BigAutoField"
