from django.apps import AppConfig


class HeatmapConfig(AppConfig):
    name = "apps.heatmap"
    label = "heatmap"
    default_auto_field = "django.db.models.BigAutoField"
