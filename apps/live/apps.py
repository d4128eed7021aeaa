from django.apps import AppConfig


class LiveConfig(AppConfig):
    """The composition root: builds the streamer with its listeners and runs the process entry points
    (`serve`, `orderbook_stream`, `runworker orderbook`)."""

    name = "apps.live"
    label = "live"
