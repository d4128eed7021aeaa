from django.apps import AppConfig


class ReactionsConfig(AppConfig):
    name = "apps.reactions"
    label = "reactions"
    default_auto_field = "django.db.models.BigAutoField"
