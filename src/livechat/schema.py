"""Applying the Alembic migrations: the only way the schema is ever created or changed."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from livechat.db import sqlite_path
from livechat.resources import ALEMBIC_INI, MIGRATIONS


def include_name(name: str | None, type_: str, _parent_names: object) -> bool:
    """Which database objects Alembic compares with the models. The FTS5 table and its
    shadow tables are managed by hand in their migration; the models do not describe them,
    so autogenerate must not offer to drop them."""
    return not (type_ == "table" and name is not None and name.startswith("messages_fts"))


def alembic_config(database_url: str) -> Config:
    config = Config(ALEMBIC_INI)
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the database up to ``revision``, creating the SQLite file and its folder."""
    path = sqlite_path(database_url)
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    command.downgrade(alembic_config(database_url), revision)
