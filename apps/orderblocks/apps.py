from django.apps import AppConfig


class OrderblocksConfig(AppConfig):
    name = "apps.orderblocks"
    label = "orderblocks"
    default_auto_field = "django.db.models.BigAutoField"
