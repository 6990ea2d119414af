"""The schema exists only through migrations, which run both ways cleanly."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from livechat import schema
from livechat.accounts.models import User
from livechat.chat import messages, rooms, search
from livechat.db import Base, Database, sqlite_path
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
    assert ("trigger", "messages_take_room_seq") in objects


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


def _schema(path: Path) -> set[tuple[str, str, str]]:
    """Every object with the statement that created it, whatever its indentation."""
    with closing(sqlite3.connect(path)) as connection:
        rows = connection.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"
        ).fetchall()
    return {(kind, name, " ".join(sql.split())) for kind, name, sql in rows}


def _check_search_index(path: Path) -> None:
    """SQLite's own check that the search index holds exactly what its content table says;
    it raises "database disk image is malformed" when they differ."""
    with closing(sqlite3.connect(path)) as connection:
        connection.execute(
            "INSERT INTO messages_fts (messages_fts, rank) VALUES ('integrity-check', 1)"
        )


async def _lunch_plans(db: Database, alice: User) -> list[int]:
    """A room where one message about lunch was edited in and another deleted; returns the
    ids of the live messages about lunch, oldest first."""
    room = await rooms.create_room(db, alice, name="General")
    posted = [
        (await messages.create_message(db, alice, room.slug, body)).message
        for body in ("Lunch at the café at noon?", "Lunch plans are secret", "Dinner instead")
    ]
    await messages.edit_message(db, alice, posted[2].id, "Lunch moved to one o'clock")
    await messages.delete_message(db, alice, posted[1].id)
    return [posted[0].id, posted[2].id]


async def _found_ids(db: Database, user: User, query: str) -> list[int]:
    """The ids of what a search finds, checking that every snippet highlights a match."""
    results = await search.search_messages(db, user, query)
    for result in results:
        assert "<mark>" in result.snippet
    return sorted(result.message_id for result in results)


async def test_the_search_index_passes_the_integrity_check_after_a_message_is_deleted(
    db: Database, alice: User, database_url: str
) -> None:
    live = await _lunch_plans(db, alice)
    path = sqlite_path(database_url)
    assert path is not None

    _check_search_index(Path(path))

    results = await search.search_messages(db, alice, "lunch")
    assert sorted(result.message_id for result in results) == live
    for result in results:
        assert "<mark>Lunch</mark>" in result.snippet
    assert await _found_ids(db, alice, "cafe") == [live[0]]
    assert await _found_ids(db, alice, "lunch plans") == []
    assert await _found_ids(db, alice, "secret") == []


async def test_downgrading_to_0002_and_upgrading_again_keeps_messages_searchable(
    db: Database, alice: User, database_url: str, tmp_path: Path
) -> None:
    live = await _lunch_plans(db, alice)
    path = sqlite_path(database_url)
    assert path is not None
    at_head = _schema(Path(path))
    fresh_0002 = tmp_path / "at_0002.db"
    schema.upgrade(sqlite_url(fresh_0002), "0002")

    schema.downgrade(database_url, "0002")

    assert _schema(Path(path)) == _schema(fresh_0002)
    assert await _found_ids(db, alice, "lunch") == live
    assert await _found_ids(db, alice, "secret") == []

    schema.upgrade(database_url)

    assert _schema(Path(path)) == at_head
    _check_search_index(Path(path))
    assert await _found_ids(db, alice, "lunch") == live
    assert await _found_ids(db, alice, "secret") == []


async def test_a_message_sent_before_content_keys_is_still_recognised_when_sent_again(
    tmp_path: Path,
) -> None:
    path = tmp_path / "before.db"
    schema.upgrade(sqlite_url(path), "0003")
    with closing(sqlite3.connect(path)) as connection, connection:
        connection.execute(
            "INSERT INTO users (email, hashed_password, is_active, is_superuser, is_verified,"
            " display_name, inserted_at)"
            " VALUES ('ann@example.com', 'x', 1, 0, 0, 'Ann', '2026-11-01')"
        )
        connection.execute(
            "INSERT INTO rooms (name, slug, description, is_private, last_seq, inserted_at,"
            " updated_at) VALUES ('General', 'general', '', 0, 1, '2026-11-01', '2026-11-01')"
        )
        connection.execute(
            "INSERT INTO memberships (user_id, room_id, role, joined_at)"
            " VALUES (1, 1, 'admin', '2026-11-01')"
        )
        connection.execute(
            "INSERT INTO messages (room_id, user_id, body, seq, client_msg_id, inserted_at)"
            " VALUES (1, 1, 'sent just before the upgrade', 1, 'abc-123', '2026-11-01')"
        )

    schema.upgrade(sqlite_url(path))

    db = Database(sqlite_url(path))
    try:
        async with db.read() as session:
            ann = await session.get(User, 1)
        assert ann is not None
        resent = await messages.create_message(
            db, ann, "general", "sent just before the upgrade", "abc-123"
        )
        other = await messages.create_message(db, ann, "general", "something else", "abc-123")
    finally:
        await db.dispose()
    assert not resent.created
    assert other.created
