"""Django for a bench that runs in its own process: a throw-away SQLite database, migrated."""

from __future__ import annotations

import os


def setup_django(directory: str, *, settle_gc: bool = False) -> str:
    """Set Django up on ``directory``/bench.sqlite3 and migrate it; returns the DATABASE_URL.
    ``settle_gc``: freeze the start-up objects and set the GC threshold as ``serve`` does (for the
    benches timing the event loop)."""
    url = f"sqlite:///{directory}/bench.sqlite3"
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    if settle_gc:
        from apps.core.garbage_collection import settle_after_startup

        settle_after_startup(50_000)  # GC_GEN0_THRESHOLD's default
    return url
