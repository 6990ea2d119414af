"""Applying the Alembic migrations: the only way the schema is ever created or changed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine
from sqlalchemy.engine import URL, make_url

from livechat.db import sqlite_path
from livechat.resources import ALEMBIC_INI, MIGRATIONS


def include_name(name: str | None, type_: str, _parent_names: object) -> bool:
    """Which database objects Alembic compares with the models. The search index (SQLite's
    FTS5 table and its shadow tables, PostgreSQL's tsvector column and its index) is
    managed by hand in its migration; the models do not describe it, so autogenerate must
    not offer to drop it."""
    if name is None:
        return True
    if type_ == "table":
        return not name.startswith("messages_fts")
    return name not in {"search_vector", "ix_messages_search_vector"}


# Migrations run on a synchronous driver (see migrations/env.py): the one that goes with
# each of the application's asynchronous ones.
SYNC_DRIVERS = {"sqlite": "sqlite", "postgresql": "postgresql+psycopg"}


def sync_url(database_url: str) -> URL:
    """The database at ``database_url``, reached through a synchronous driver."""
    url = make_url(database_url)
    backend = url.get_backend_name()
    return url.set(drivername=SYNC_DRIVERS.get(backend, backend))


def alembic_config(database_url: str) -> Config:
    config = Config(ALEMBIC_INI)
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["database_url"] = database_url
    return config


@dataclass(frozen=True)
class Migration:
    revision: str
    description: str

    def __str__(self) -> str:
        return f"{self.revision}: {self.description}"


def current_revision(database_url: str) -> str | None:
    """The revision the database is at, or None before its first migration."""
    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def upgrade(database_url: str, revision: str = "head") -> list[Migration]:
    """Bring the database up to ``revision``, creating the SQLite file and its folder, and
    say which migrations that applied, oldest first: none when it was up to date."""
    path = sqlite_path(database_url)
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    config = alembic_config(database_url)
    scripts = ScriptDirectory.from_config(config)
    pending = [
        Migration(script.revision, script.doc)
        for script in scripts.iterate_revisions(revision, current_revision(database_url) or "base")
    ]
    command.upgrade(config, revision)
    return pending[::-1]


def downgrade(database_url: str, revision: str) -> None:
    command.downgrade(alembic_config(database_url), revision)
