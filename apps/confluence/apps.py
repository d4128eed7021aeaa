from django.apps import AppConfig


class ConfluenceConfig(AppConfig):
    name = "apps.confluence"
    label = "confluence"
    default_auto_field = "django.db.models.BigAutoField"
