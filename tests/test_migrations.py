"""The schema exists only through migrations, which run both ways cleanly."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from datetime import datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import IntegrityError

from livechat import schema
from livechat.accounts.handles import clean_handle
from livechat.accounts.models import User
from livechat.chat import messages, notifications, rooms, search
from livechat.db import Base, Database, sqlite_path
from livechat.errors import Moved
from tests.helpers import DATABASE, only_on_sqlite, postgres_database, sqlite_url

TABLES = (
    "users",
    "access_tokens",
    "rooms",
    "former_slugs",
    "memberships",
    "messages",
    "attachments",
    "reactions",
    "api_tokens",
)


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
    for table in TABLES:
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


def _differences(database_url: str) -> list[object]:
    """What autogenerate would change to make the database match the models."""
    engine = create_engine(schema.sync_url(database_url))
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"include_name": schema.include_name}
            )
            return list(compare_metadata(context, Base.metadata))
    finally:
        engine.dispose()


def test_the_models_match_the_migrated_schema(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "livechat.db")
    schema.upgrade(url)

    assert _differences(url) == []


# The same history on PostgreSQL, which runs livechat on several hosts.


@pytest.fixture
def postgres_url() -> Iterator[str]:
    with postgres_database() as url:
        yield url


def _postgres_objects(database_url: str) -> set[tuple[str, str]]:
    engine = create_engine(schema.sync_url(database_url))
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT 'table', table_name FROM information_schema.tables"
                    " WHERE table_schema = 'public'"
                    " UNION SELECT 'index', indexname FROM pg_indexes WHERE schemaname = 'public'"
                    " UNION SELECT 'trigger', trigger_name FROM information_schema.triggers"
                    " UNION SELECT 'column', column_name FROM information_schema.columns"
                    " WHERE table_name = 'messages'"
                )
            ).all()
    finally:
        engine.dispose()
    return {(kind, name) for kind, name in rows}


def test_upgrade_on_postgresql_creates_the_tables_and_a_search_column(postgres_url: str) -> None:
    applied = schema.upgrade(postgres_url)

    assert [migration.revision for migration in applied] == [
        "0001",
        "0002",
        "0003",
        "0004",
        "0005",
        "0006",
        "0007",
        "0008",
        "0009",
        "0010",
        "0011",
        "0012",
        "0013",
        "0014",
        "0015",
    ]
    objects = _postgres_objects(postgres_url)
    for table in TABLES:
        assert ("table", table) in objects
    assert ("column", "search_vector") in objects
    assert ("index", "ix_messages_search_vector") in objects
    # Neither FTS5 nor the trigger that takes a room's number: both are SQLite's alone.
    assert not {name for kind, name in objects if kind == "trigger"}
    assert not {name for _, name in objects if name.startswith("messages_fts")}


def test_downgrade_on_postgresql_removes_everything_and_upgrade_works_again(
    postgres_url: str,
) -> None:
    schema.upgrade(postgres_url)
    created = _postgres_objects(postgres_url)

    schema.downgrade(postgres_url, "base")
    assert {name for kind, name in _postgres_objects(postgres_url) if kind == "table"} == {
        "alembic_version"
    }

    schema.upgrade(postgres_url)
    assert _postgres_objects(postgres_url) == created


def test_the_models_match_the_schema_migrated_on_postgresql(postgres_url: str) -> None:
    schema.upgrade(postgres_url)

    assert _differences(postgres_url) == []


def test_the_postgresql_search_column_finds_words_without_their_accents_or_case(
    postgres_url: str,
) -> None:
    schema.upgrade(postgres_url)
    engine = create_engine(schema.sync_url(postgres_url))
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO users (id, email, hashed_password, is_active, is_superuser,"
                    " is_verified, display_name, handle, inserted_at) VALUES"
                    " (1, 'a@example.com', 'x', true, false, false, 'A', 'a', now());"
                    " INSERT INTO rooms (id, name, slug, description, is_private, last_seq,"
                    " inserted_at, updated_at) VALUES (1, 'R', 'r', '', false, 2, now(), now());"
                    " INSERT INTO messages (id, room_id, user_id, body, seq, inserted_at) VALUES"
                    " (1, 1, 1, 'Lunch at the CAFÉ, mail bob@example.com', 1, now()),"
                    " (2, 1, 1, 'nothing to see', 2, now())"
                )
            )
            found = {
                word: connection.scalars(
                    text(
                        "SELECT id FROM messages WHERE search_vector @@"
                        " to_tsquery('livechat_search', :query) ORDER BY id"
                    ),
                    {"query": word},
                ).all()
                for word in ("cafe", "Café", "lunch", "bob", "example", "see")
            }
    finally:
        engine.dispose()

    assert found == {
        "cafe": [1],
        "Café": [1],
        "lunch": [1],
        "bob": [1],
        "example": [1],
        "see": [2],
    }


def _schema(path: Path) -> set[tuple[str, str, str]]:
    """Every object with the statement that created it, whatever its indentation and its
    quoting of names: a table a migration rebuilds is renamed into place, and SQLite's
    rename quotes the name it writes into the statement."""
    with closing(sqlite3.connect(path)) as connection:
        rows = connection.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"
        ).fetchall()
    return {(kind, name, " ".join(sql.replace('"', "").split())) for kind, name, sql in rows}


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


@only_on_sqlite("FTS5's integrity check")
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


@only_on_sqlite("the FTS5 index 0003 rebuilds")
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


@pytest.fixture
def unmigrated_url(tmp_path: Path) -> Iterator[str]:
    """An empty database of the kind the suite runs on, for a test to migrate by hand."""
    if DATABASE == "postgresql":
        with postgres_database() as url:
            yield url
        return
    yield sqlite_url(tmp_path / "livechat.db")


def _insert(database_url: str, *statements: tuple[str, dict[str, object]]) -> None:
    engine = create_engine(schema.sync_url(database_url))
    try:
        with engine.begin() as connection:
            for statement, values in statements:
                connection.execute(text(statement), values)
    finally:
        engine.dispose()


async def test_a_room_made_before_0006_keeps_its_old_slug_when_renamed_after_it(
    unmigrated_url: str,
) -> None:
    schema.upgrade(unmigrated_url, "0005")
    when = datetime(2026, 11, 1)
    _insert(
        unmigrated_url,
        (
            "INSERT INTO users (id, email, hashed_password, is_active, is_superuser,"
            " is_verified, display_name, inserted_at)"
            " VALUES (1, 'ann@example.com', 'x', :yes, :no, :no, 'Ann', :when)",
            {"yes": True, "no": False, "when": when},
        ),
        (
            "INSERT INTO rooms (id, name, slug, description, is_private, last_seq,"
            " inserted_at, updated_at) VALUES (1, 'General', 'general', '', :no, 0, :when, :when)",
            {"no": False, "when": when},
        ),
        (
            "INSERT INTO memberships (id, user_id, room_id, role, joined_at)"
            " VALUES (1, 1, 1, 'admin', :when)",
            {"when": when},
        ),
    )

    schema.upgrade(unmigrated_url)

    db = Database(unmigrated_url)
    try:
        async with db.read() as session:
            ann = await session.get_one(User, 1)
        renamed = await rooms.update_room(db, ann, "general", name="Town square", description="")
        with pytest.raises(Moved) as moved:
            await rooms.get_room(db, ann, "general")
    finally:
        await db.dispose()
    assert renamed.slug == "town-square"
    assert moved.value.slug == "town-square"

    schema.downgrade(unmigrated_url, "0005")

    engine = create_engine(schema.sync_url(unmigrated_url))
    try:
        with engine.connect() as connection:
            kept = [tuple(row) for row in connection.execute(text("SELECT name, slug FROM rooms"))]
            tables = inspect(connection).get_table_names()
    finally:
        engine.dispose()
    assert kept == [("Town square", "town-square")]  # the room, by its name now
    assert "former_slugs" not in tables


def _select(database_url: str, statement: str) -> list[tuple[object, ...]]:
    engine = create_engine(schema.sync_url(database_url))
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(statement))]
    finally:
        engine.dispose()


def _users_named(*names: str) -> list[tuple[str, dict[str, object]]]:
    return [
        (
            "INSERT INTO users (id, email, hashed_password, is_active, is_superuser,"
            " is_verified, display_name, inserted_at)"
            " VALUES (:id, :email, 'x', :yes, :no, :no, :name, :when)",
            {
                "id": number,
                "email": f"person{number}@example.com",
                "name": name,
                "yes": True,
                "no": False,
                "when": datetime(2026, 11, 1),
            },
        )
        for number, name in enumerate(names, start=1)
    ]


def test_people_from_before_0010_get_distinct_handles_made_from_their_names(
    unmigrated_url: str,
) -> None:
    schema.upgrade(unmigrated_url, "0009")
    _insert(
        unmigrated_url,
        *_users_named(
            "Ann Lee",
            "Ann-Lee",
            "李小龙",
            "ann lee",
            "Zoë Núñez",
            "All",
            "Mary-Jane O'Neil",
            "A very long name that goes on and on",
        ),
    )

    schema.upgrade(unmigrated_url, "0010")

    handles = _select(unmigrated_url, "SELECT id, handle FROM users ORDER BY id")
    assert handles == [
        (1, "ann_lee"),  # the first to sign up keeps the plain one
        (2, "ann_lee2"),
        (3, "user"),
        (4, "ann_lee3"),
        (5, "zoe_nunez"),
        (6, "user2"),  # "all" is kept for mentioning everyone
        (7, "mary_jane_o_neil"),
        (8, "a_very_long_name_that_goes"),
    ]
    for _, handle in handles:
        assert isinstance(handle, str)
        assert clean_handle(handle) == handle
    with pytest.raises(IntegrityError):
        _insert(
            unmigrated_url,
            (
                "INSERT INTO users (email, hashed_password, is_active, is_superuser,"
                " is_verified, display_name, handle, inserted_at)"
                " VALUES ('late@example.com', 'x', :yes, :no, :no, 'Ann', 'ann_lee', :when)",
                {"yes": True, "no": False, "when": datetime(2026, 12, 1)},
            ),
        )


def test_downgrading_from_0010_drops_the_handles_and_keeps_the_people(
    unmigrated_url: str,
) -> None:
    schema.upgrade(unmigrated_url, "0009")
    _insert(unmigrated_url, *_users_named("Ann Lee", "Ann Lee"))
    schema.upgrade(unmigrated_url, "0010")

    schema.downgrade(unmigrated_url, "0009")

    engine = create_engine(schema.sync_url(unmigrated_url))
    try:
        with engine.connect() as connection:
            columns = {column["name"] for column in inspect(connection).get_columns("users")}
    finally:
        engine.dispose()
    assert "handle" not in columns
    assert _select(unmigrated_url, "SELECT id, display_name FROM users ORDER BY id") == [
        (1, "Ann Lee"),
        (2, "Ann Lee"),
    ]
    schema.upgrade(unmigrated_url, "0010")
    assert _select(unmigrated_url, "SELECT handle FROM users ORDER BY id") == [
        ("ann_lee",),
        ("ann_lee2",),
    ]


async def test_members_from_before_0012_start_with_their_rooms_read(unmigrated_url: str) -> None:
    # From before handles too: 0010 rebuilds the users table on SQLite, under the rooms,
    # memberships and messages that refer to it, which must come through whole.
    schema.upgrade(unmigrated_url, "0009")
    when = datetime(2026, 11, 1)
    memberships: list[tuple[str, dict[str, object]]] = [
        (
            "INSERT INTO memberships (id, user_id, room_id, role, joined_at)"
            " VALUES (:id, :id, 1, 'member', :when)",
            {"id": person, "when": when},
        )
        for person in (1, 2)
    ]
    posts: list[tuple[str, dict[str, object]]] = [
        (
            "INSERT INTO messages (id, room_id, user_id, body, seq, inserted_at)"
            " VALUES (:id, 1, 1, 'hello', :id, :when)",
            {"id": number, "when": when},
        )
        for number in (1, 2, 3)
    ]
    _insert(
        unmigrated_url,
        *_users_named("Ann", "Bo"),
        (
            "INSERT INTO rooms (id, name, slug, description, is_private, last_seq,"
            " inserted_at, updated_at) VALUES (1, 'General', 'general', '', :no, 0, :when, :when)",
            {"no": False, "when": when},
        ),
        *memberships,
        *posts,
    )

    schema.upgrade(unmigrated_url, "0012")

    read = _select(unmigrated_url, "SELECT user_id, last_read_id FROM memberships ORDER BY id")
    assert read == [(1, 3), (2, 3)]
    assert _select(unmigrated_url, "SELECT count(*) FROM messages") == [(3,)]
    db = Database(unmigrated_url)
    try:
        assert (await notifications.unread_of(db, 2))[1].count == 0
    finally:
        await db.dispose()
    schema.downgrade(unmigrated_url, "0011")
    assert _select(unmigrated_url, "SELECT count(*) FROM memberships") == [(2,)]


def _token(secret_hash: str, scope: str = "read") -> tuple[str, dict[str, object]]:
    return (
        "INSERT INTO api_tokens (user_id, name, prefix, secret_hash, scope, inserted_at)"
        " VALUES (1, 'Script', 'lc_abcdefg', :hash, :scope, :when)",
        {"hash": secret_hash, "scope": scope, "when": datetime(2026, 12, 6)},
    )


def test_people_from_before_0014_are_people_and_downgrading_drops_only_the_tokens(
    unmigrated_url: str,
) -> None:
    schema.upgrade(unmigrated_url, "0013")
    _insert(
        unmigrated_url,
        (
            "INSERT INTO users (id, email, hashed_password, is_active, is_superuser,"
            " is_verified, display_name, handle, inserted_at)"
            " VALUES (1, 'ann@example.com', 'x', :yes, :no, :no, 'Ann', 'ann', :when)",
            {"yes": True, "no": False, "when": datetime(2026, 11, 1)},
        ),
    )

    schema.upgrade(unmigrated_url, "0014")

    assert _select(unmigrated_url, "SELECT id, is_bot, webhook_url, webhook_secret FROM users") == [
        (1, False, None, None)
    ]
    _insert(unmigrated_url, _token("a" * 64))
    with pytest.raises(IntegrityError):
        _insert(unmigrated_url, _token("a" * 64))
    with pytest.raises(IntegrityError):
        _insert(unmigrated_url, _token("b" * 64, scope="admin"))
    assert _select(unmigrated_url, "SELECT room_ids, last_used_at, revoked_at FROM api_tokens") == [
        (None, None, None)
    ]

    schema.downgrade(unmigrated_url, "0013")

    engine = create_engine(schema.sync_url(unmigrated_url))
    try:
        with engine.connect() as connection:
            columns = {column["name"] for column in inspect(connection).get_columns("users")}
            tables = inspect(connection).get_table_names()
    finally:
        engine.dispose()
    assert not {"is_bot", "webhook_url", "webhook_secret"} & columns
    assert "api_tokens" not in tables
    assert _select(unmigrated_url, "SELECT id, handle FROM users") == [(1, "ann")]
    schema.upgrade(unmigrated_url, "0014")
    assert _select(unmigrated_url, "SELECT count(*) FROM api_tokens") == [(0,)]


def _rooms_numbered(count: int, when: datetime) -> list[dict[str, object]]:
    return [
        {"id": room, "name": f"Room {room}", "slug": f"room-{room}", "no": False, "when": when}
        for room in range(1, count + 1)
    ]


@only_on_sqlite("PostgreSQL's sequences never hand an id out twice")
async def test_0015_keeps_every_room_and_what_is_in_it_and_a_deleted_rooms_id_stays_its_own(
    unmigrated_url: str,
) -> None:
    schema.upgrade(unmigrated_url, "0014")
    when = datetime(2026, 12, 1)
    _insert(
        unmigrated_url,
        (
            "INSERT INTO users (id, email, hashed_password, is_active, is_superuser,"
            " is_verified, display_name, handle, inserted_at)"
            " VALUES (1, 'ann@example.com', 'x', :yes, :no, :no, 'Ann', 'ann', :when)",
            {"yes": True, "no": False, "when": when},
        ),
        *[
            (
                "INSERT INTO rooms (id, name, slug, description, is_private, last_seq,"
                " inserted_at, updated_at) VALUES (:id, :name, :slug, '', :no, 1, :when, :when)",
                values,
            )
            for values in _rooms_numbered(3, when)
        ],
        (
            "INSERT INTO memberships (id, user_id, room_id, role, joined_at, last_read_id)"
            " VALUES (1, 1, 3, 'admin', :when, 0)",
            {"when": when},
        ),
        (
            "INSERT INTO messages (id, room_id, user_id, body, seq, inserted_at)"
            " VALUES (1, 3, 1, 'still here', 1, :when)",
            {"when": when},
        ),
    )

    schema.upgrade(unmigrated_url, "0015")

    assert _select(unmigrated_url, "SELECT id, slug FROM rooms ORDER BY id") == [
        (1, "room-1"), (2, "room-2"), (3, "room-3"),
    ]  # fmt: skip
    assert _select(unmigrated_url, "SELECT room_id FROM memberships") == [(3,)]
    assert _select(unmigrated_url, "SELECT room_id, body FROM messages") == [(3, "still here")]
    db = Database(unmigrated_url)
    try:
        async with db.read() as session:
            ann = await session.get_one(User, 1)
        await rooms.delete_room(db, ann, "room-3")
        after = await rooms.create_room(db, ann, name="After")
    finally:
        await db.dispose()
    assert after.id == 4
    assert _select(unmigrated_url, "SELECT count(*) FROM messages") == [(0,)]  # went with it

    schema.downgrade(unmigrated_url, "0014")
    assert _select(unmigrated_url, "SELECT id FROM rooms ORDER BY id") == [(1,), (2,), (4,)]
