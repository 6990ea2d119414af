"""The schema exists only through migrations, which run both ways cleanly."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from livechat import schema
from livechat.db import Base
from tests.helpers import sqlite_url


def _objects(path: Path) -> set[tuple[str, str]]:
    with sqlite3.connect(path) as connection:
        rows = connection.execute(
            "SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"
        ).fetchall()
    return {(kind, name) for kind, name in rows}


def test_upgrade_creates_the_database_file_with_tables_fts_and_triggers(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "livechat.db"

    schema.upgrade(sqlite_url(path))

    objects = _objects(path)
    for table in ("users", "access_tokens", "rooms", "memberships", "messages", "attachments"):
        assert ("table", table) in objects
    assert ("table", "messages_fts") in objects
    for trigger in ("after_insert", "after_update", "after_delete"):
        assert ("trigger", f"messages_fts_{trigger}") in objects


def test_downgrade_to_base_removes_everything_and_upgrade_works_again(tmp_path: Path) -> None:
    path = tmp_path / "livechat.db"
    url = sqlite_url(path)
    schema.upgrade(url)
    created = _objects(path)

    schema.downgrade(url, "base")
    assert _objects(path) == {("table", "alembic_version")}

    schema.upgrade(url)
    assert _objects(path) == created


def test_the_models_match_the_migrated_schema(tmp_path: Path) -> None:
    path = tmp_path / "livechat.db"
    schema.upgrade(sqlite_url(path))
    engine = create_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"include_name": schema.include_name}
            )
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()
