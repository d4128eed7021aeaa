"""Is the database ready for the service? One check every command that touches it runs first.

A database that was never migrated used to surface as a 60-line traceback (`no such table ...`)
from whichever query ran first, or as one traceback per second from the streamer.
"""

from __future__ import annotations

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections
from django.db.migrations.executor import MigrationExecutor


def database_name(alias: str = "default") -> str:
    """The database as a person would name it: the SQLite file or the Postgres database name."""
    name = str(settings.DATABASES[alias]["NAME"])
    return "/" + name.lstrip("/") if is_sqlite(alias) and name.startswith("/") else name


def unapplied_migrations(alias: str = "default") -> list[str]:
    """`app.migration` names not applied to the database yet, in the order migrate would apply them."""
    executor = MigrationExecutor(connections[alias])
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return [f"{migration.app_label}.{migration.name}" for migration, _backwards in plan]


def require_migrated(alias: str = "default") -> None:
    """Raise a one-line CommandError (exit 1) when the database lacks migrations."""
    if unapplied_migrations(alias):
        raise CommandError(f"database {database_name(alias)} is not migrated: run python manage.py migrate")


def is_sqlite(alias: str = "default") -> bool:
    return str(settings.DATABASES[alias]["ENGINE"]).endswith("sqlite3")


def migrate_embedded(alias: str = "default") -> int:
    """The embedded default (SQLite) migrates itself: applies what is missing; returns how many."""
    missing = unapplied_migrations(alias)
    if missing:
        call_command("migrate", database=alias, interactive=False, verbosity=0)
    return len(missing)
