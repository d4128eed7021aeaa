"""Is the database ready for the service? One check every command that touches it runs first.

A database that was never migrated used to surface as a 60-line traceback (`no such table ...`)
from whichever query ran first, or as one traceback per second from the streamer.
"""

from __future__ import annotations

import os

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connections
from django.db.migrations.executor import MigrationExecutor


def database_name(alias: str = "default") -> str:
    """The database as a person would name it: the SQLite file or the Postgres database name."""
    database = settings.DATABASES[alias]
    name = str(database["NAME"])
    if is_sqlite(alias):
        return "/" + name.lstrip("/") if name.startswith("/") else name
    where = f"{database.get('HOST') or 'localhost'}:{database.get('PORT') or 5432}"
    return f"{name} on {where}"


def unapplied_migrations(alias: str = "default") -> list[str]:
    """`app.migration` names not applied to the database yet, in the order migrate would apply them.

    A database that cannot be reached (a wrong DATABASE_URL, Postgres down, an unreadable SQLite
    file) is a one-line CommandError naming it, not a traceback."""
    try:
        executor = MigrationExecutor(connections[alias])
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except DatabaseError as exc:
        raise CommandError(f"database {database_name(alias)} cannot be used: {error_line(exc)}") from None
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


def error_line(exc: BaseException) -> str:
    """A database error as one short line (drivers put hints on further lines)."""
    return " ".join(str(exc).split())[:300] or type(exc).__name__


def database_file_problem(alias: str = "default") -> str | None:
    """Why the SQLite file cannot be the service's database any more (it was deleted or moved away
    while the service ran: open connections would go on writing to the unlinked file, lost at the
    next start), or None. Postgres has no file: always None."""
    if not is_sqlite(alias):
        return None
    path = database_name(alias)
    if path == ":memory:" or path.startswith("file:"):
        return None
    if not os.path.exists(path):
        return f"the SQLite file {path} is gone (deleted or moved while the service ran)"
    return None


class DatabaseFileLost(RuntimeError):
    """The SQLite file the process opened is no longer at its path."""


class DatabaseFileWatch:
    """Remembers which file (device, inode) the SQLite database was when the watch started;
    `check()` raises DatabaseFileLost when the path is gone or now names another file. Writers call
    it before each write so nothing goes silently to an unlinked file."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        self.identity = self._identity() if self.path else None

    @classmethod
    def of_database(cls, alias: str = "default") -> DatabaseFileWatch:
        """The watch of a database: its SQLite file; none for Postgres."""
        return cls(database_name(alias) if is_sqlite(alias) else None)

    def _identity(self) -> tuple[int, int] | None:
        assert self.path is not None
        try:
            stat = os.stat(self.path)
        except OSError:
            return None
        return (stat.st_dev, stat.st_ino)

    def check(self) -> None:
        if self.path is None:
            return
        now = self._identity()
        if self.identity is None:  # the file did not exist yet when the watch started
            self.identity = now
            return
        if now != self.identity:  # gone, or re-created empty by a new connection: one error, one text
            raise DatabaseFileLost(
                f"the SQLite file {self.path} is no longer the file this process opened "
                "(deleted, moved or replaced while running)"
            )
