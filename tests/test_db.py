"""The database layer: connection settings and the single-writer discipline."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from datetime import UTC, datetime
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import bindparam, select, text, update
from sqlalchemy.exc import DBAPIError

from livechat.accounts.models import User
from livechat.chat.models import Room
from livechat.db import BUSY_TIMEOUT_MS, Database, DriverStatement, driver_of
from livechat.errors import Conflict, Unavailable
from tests.helpers import only_on_postgresql, only_on_sqlite, terminate_connections
from tests.live import free_port

CONCURRENT_WRITERS = 200


async def _pragma(db: Database, name: str) -> object:
    async with db.read() as session:
        return (await session.execute(text(f"PRAGMA {name}"))).scalar()


@only_on_sqlite("its PRAGMAs")
async def test_every_connection_uses_wal_foreign_keys_and_a_busy_timeout(db: Database) -> None:
    assert await _pragma(db, "journal_mode") == "wal"
    assert await _pragma(db, "foreign_keys") == 1
    assert await _pragma(db, "busy_timeout") == BUSY_TIMEOUT_MS
    assert await _pragma(db, "synchronous") == 1  # NORMAL


# SQLite says "readonly", PostgreSQL "read-only".
READ_ONLY = "read-?only"


async def test_a_read_session_cannot_write(db: Database) -> None:
    async with db.read() as session:
        with pytest.raises(DBAPIError, match=READ_ONLY):
            await session.execute(text("CREATE TABLE sneaky (x INTEGER)"))


async def test_a_read_on_the_driver_alone_cannot_write(db: Database) -> None:
    async with db.read_alone() as driver:
        with pytest.raises(Exception, match=READ_ONLY):
            await driver.fetch("CREATE TABLE sneaky (x INTEGER)", ())


async def test_a_write_session_commits_when_its_block_ends(db: Database) -> None:
    async with db.write() as session:
        await session.execute(text("CREATE TABLE counter (n INTEGER)"))
        await session.execute(text("INSERT INTO counter VALUES (1)"))

    async with db.read() as session:
        assert (await session.execute(text("SELECT n FROM counter"))).scalar() == 1


async def test_a_write_session_rolls_back_when_its_block_raises(db: Database) -> None:
    async with db.write() as session:
        await session.execute(text("CREATE TABLE counter (n INTEGER)"))

    async def insert_then_fail() -> None:
        async with db.write() as session:
            await session.execute(text("INSERT INTO counter VALUES (1)"))
            raise RuntimeError("changed my mind")

    with pytest.raises(RuntimeError):
        await insert_then_fail()

    async with db.read() as session:
        assert (await session.execute(text("SELECT count(*) FROM counter"))).scalar() == 0


async def _read_then_increment(db: Database) -> None:
    async with db.write() as session:
        current = (await session.execute(text("SELECT n FROM counter"))).scalar_one()
        await asyncio.sleep(0)  # let every other writer and reader run in between
        await session.execute(text("UPDATE counter SET n = :n"), {"n": current + 1})


async def _read(db: Database) -> int:
    async with db.read() as session:
        return int((await session.execute(text("SELECT n FROM counter"))).scalar_one())


@only_on_sqlite("one writer at a time, behind a lock")
async def test_many_concurrent_read_then_write_transactions_never_lock_or_lose_updates(
    db: Database,
) -> None:
    async with db.write() as session:
        await session.execute(text("CREATE TABLE counter (n INTEGER)"))
        await session.execute(text("INSERT INTO counter VALUES (0)"))

    writes = [_read_then_increment(db) for _ in range(CONCURRENT_WRITERS)]
    reads = [_read(db) for _ in range(CONCURRENT_WRITERS)]
    await asyncio.gather(*writes, *reads)

    assert await _read(db) == CONCURRENT_WRITERS


@only_on_sqlite("a file shared by processes")
async def test_two_processes_writing_the_same_file_wait_for_each_other(
    db: Database, database_url: str
) -> None:
    """A second Database has its own writer, as ``livechat seed`` running beside the server
    would: BEGIN IMMEDIATE plus the busy timeout make them take turns instead of failing."""
    async with db.write() as session:
        await session.execute(text("CREATE TABLE counter (n INTEGER)"))
        await session.execute(text("INSERT INTO counter VALUES (0)"))
    other = Database(database_url)
    try:
        work = [_read_then_increment(db) for _ in range(50)]
        work += [_read_then_increment(other) for _ in range(50)]
        await asyncio.gather(*work)
    finally:
        await other.dispose()

    assert await _read(db) == 100


class CancelAt:
    """Cancels a write when the database reaches chosen driver calls: every statement,
    fetch, commit and rollback of aiosqlite goes through ``Connection._execute``, so its
    n-th call while the write runs is the write's n-th await on the database (or its
    clean-up's). The call itself stays queued on the connection's thread, as it does when a
    real cancellation arrives while a statement runs."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        self.at: set[int] = set()
        self.task: asyncio.Task[None] | None = None
        original: Callable[..., Awaitable[Any]] = aiosqlite.Connection._execute

        async def execute(
            connection: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any
        ) -> Any:
            if self.task is not None:
                self.calls += 1
                if self.calls in self.at:
                    self.task.cancel()
            return await original(connection, fn, *args, **kwargs)

        monkeypatch.setattr(aiosqlite.Connection, "_execute", execute)

    async def run(self, write: Coroutine[Any, Any, None], *, at: set[int]) -> bool:
        """Run ``write`` to its end, cancelled at the given calls; whether it was cancelled."""
        self.calls, self.at = 0, at
        self.task = asyncio.create_task(write)
        try:
            await self.task
        except asyncio.CancelledError:
            return True
        finally:
            self.task = None
        return False


@pytest.fixture
def late_garbage_collection() -> Iterator[None]:
    """A statement cut short leaves its cursor to the garbage collector, which frees it at
    a moment of its choosing; these tests must not depend on it coming early."""
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


async def _insert_pair(db: Database, tag: int) -> None:
    """One transaction of two statements and a read, so that it has awaits of every kind."""
    async with db.write() as session:
        await session.execute(text("INSERT INTO pairs VALUES (:tag)"), {"tag": tag})
        await session.execute(text("INSERT INTO pairs VALUES (:tag)"), {"tag": tag})
        await session.execute(text("SELECT count(*) FROM pairs"))


async def _pair_sizes(db: Database) -> set[int]:
    async with db.read() as session:
        rows = await session.execute(text("SELECT count(*) FROM pairs GROUP BY tag"))
        return set(rows.scalars())


async def _insert_alone(db: Database, tag: int) -> None:
    """The same two rows, in one statement that is a transaction of its own."""
    async with db.write_alone() as driver:
        await driver.fetch("INSERT INTO pairs VALUES (?), (?)", (tag, tag))


@only_on_sqlite("the one writer connection and its lock")
@pytest.mark.usefixtures("late_garbage_collection")
@pytest.mark.parametrize(
    "write",
    [
        pytest.param(_insert_pair, id="a write session"),
        pytest.param(_insert_alone, id="a statement alone"),
    ],
)
async def test_a_write_cancelled_at_any_await_leaves_the_writer_clean(
    db: Database,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    write: Callable[[Database, int], Coroutine[Any, Any, None]],
) -> None:
    async with db.write() as session:
        await session.execute(text("CREATE TABLE pairs (tag INTEGER)"))
    cancel = CancelAt(monkeypatch)
    assert not await cancel.run(write(db, 0), at=set())
    awaits = cancel.calls
    other = Database(database_url)  # another process's writer, as `livechat seed` would be
    try:
        for point in range(1, awaits + 1):
            assert await cancel.run(write(db, point), at={point}), point
            async with asyncio.timeout(BUSY_TIMEOUT_MS / 1000 / 2):
                await _insert_pair(db, 1000 + point)
                await _insert_alone(db, 2000 + point)
                await _insert_pair(other, 3000 + point)
    finally:
        await other.dispose()

    # Each cancelled write either committed whole (cut off while committing, or a
    # statement alone, which runs to its end on the driver's thread) or left nothing;
    # every later one went through.
    assert await _pair_sizes(db) == {2}


@pytest.mark.usefixtures("late_garbage_collection")
@only_on_sqlite("the one writer connection and its lock")
async def test_a_write_cancelled_again_while_cleaning_up_still_leaves_the_writer_clean(
    db: Database, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with db.write() as session:
        await session.execute(text("CREATE TABLE pairs (tag INTEGER)"))
    cancel = CancelAt(monkeypatch)
    assert not await cancel.run(_insert_pair(db, 0), at=set())
    select = cancel.calls - 3  # before the fetch, the cursor's close and the commit
    # Cut the read short, then whatever the clean-up does first.
    assert await cancel.run(_insert_pair(db, 1), at={select, select + 1})

    other = Database(database_url)
    try:
        async with asyncio.timeout(BUSY_TIMEOUT_MS / 1000 / 2):
            await _insert_pair(db, 2)
            await _insert_pair(other, 3)
    finally:
        await other.dispose()
    async with db.read() as session:
        tags = (await session.execute(text("SELECT tag FROM pairs"))).scalars().all()
    assert tags == [0, 0, 2, 2, 3, 3]


async def test_a_write_cancelled_while_waiting_for_the_writer_takes_nothing(db: Database) -> None:
    async with db.write() as session:
        await session.execute(text("CREATE TABLE pairs (tag INTEGER)"))
    release = asyncio.Event()

    async def hold_the_writer() -> None:
        async with db.write() as session:
            await session.execute(text("INSERT INTO pairs VALUES (1)"))
            await release.wait()

    holder = asyncio.create_task(hold_the_writer())
    await asyncio.sleep(0)
    waiter = asyncio.create_task(_insert_pair(db, 2))
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    release.set()
    await holder

    await _insert_pair(db, 3)
    async with db.read() as session:
        assert (await session.execute(text("SELECT tag FROM pairs"))).scalars().all() == [1, 3, 3]


@only_on_sqlite("its placeholders and locks")
async def test_a_write_alone_commits_each_statement_as_it_runs(
    db: Database, database_url: str
) -> None:
    async with db.write() as session:
        await session.execute(text("CREATE TABLE pairs (tag INTEGER)"))
    other = Database(database_url)  # sees only what was committed, and waits for no lock
    try:
        await _insert_alone(db, 1)
        async with asyncio.timeout(BUSY_TIMEOUT_MS / 1000 / 2):
            await _insert_pair(other, 2)
        assert await _pair_sizes(other) == {2}
    finally:
        await other.dispose()


@only_on_sqlite("one writer, for which writes queue")
async def test_the_writer_reports_how_long_each_write_held_it_and_how_many_wait(
    database_url: str,
) -> None:
    held: list[float] = []
    db = Database(database_url, on_write=held.append)
    try:
        release = asyncio.Event()
        started = asyncio.Event()

        async def hold_the_writer() -> None:
            async with db.write():
                started.set()
                await release.wait()

        holder = asyncio.create_task(hold_the_writer())
        async with asyncio.timeout(2):
            await started.wait()
        waiters = [asyncio.create_task(_write_nothing(db)) for _ in range(3)]
        await asyncio.sleep(0)  # each waiter runs up to the writer's lock
        assert db.waiting_writes == 3

        release.set()
        async with asyncio.timeout(2):
            await asyncio.gather(holder, *waiters)
        assert db.waiting_writes == 0
        assert len(held) == 4
        async with db.write_alone():
            pass
        assert len(held) == 5
        assert all(seconds >= 0 for seconds in held)
    finally:
        await db.dispose()


async def _write_nothing(db: Database) -> None:
    async with db.write():
        pass


async def test_a_read_that_finds_no_free_connection_in_time_says_the_server_is_busy(
    database_url: str,
) -> None:
    db = Database(database_url, read_pool_size=1, read_wait_seconds=0.05)
    try:
        async with db.read() as holding:
            await holding.execute(text("SELECT 1"))
            with pytest.raises(Unavailable, match="busy"):
                async with db.read() as waiting:
                    await waiting.execute(text("SELECT 1"))
        async with db.read() as later:  # the connection is free again
            assert await later.scalar(text("SELECT 1")) == 1
    finally:
        await db.dispose()


async def test_a_read_on_the_driver_that_finds_no_free_connection_says_the_server_is_busy(
    database_url: str,
) -> None:
    db = Database(database_url, read_pool_size=1, read_wait_seconds=0.05)
    try:
        async with db.read_alone():
            with pytest.raises(Unavailable, match="busy"):
                async with db.read_alone():
                    pass
        async with db.read_alone() as later:  # the connection is free again
            assert list(await later.fetch("SELECT 1", ())) == [(1,)]
    finally:
        await db.dispose()


async def test_a_read_on_the_driver_cancelled_mid_statement_gives_its_connection_back_clean(
    database_url: str,
) -> None:
    db = Database(database_url, read_pool_size=1, read_wait_seconds=1)
    slow = (
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000000)"
        " SELECT count(*) FROM n"
    )
    started = asyncio.Event()

    async def read_slowly() -> None:
        async with db.read_alone() as driver:
            started.set()
            await driver.fetch(slow, ())

    try:
        reading = asyncio.create_task(read_slowly())
        await started.wait()
        reading.cancel()
        with pytest.raises(asyncio.CancelledError):
            await reading
        async with db.write() as session:
            session.add(
                User(email="ann@example.com", display_name="Ann", handle="ann", hashed_password="-")
            )
        async with db.read_alone() as driver:  # the one connection, and a fresh snapshot
            assert list(await driver.fetch("SELECT count(*) FROM users", ())) == [(1,)]
    finally:
        await db.dispose()


def test_a_statement_for_the_driver_must_be_given_every_value_it_needs() -> None:
    # A room's updated_at is set by SQLAlchemy at execution, which the driver would not do.
    rooms = Room.metadata.tables[Room.__tablename__]
    renaming = update(rooms).values(name=bindparam("name"))

    with pytest.raises(ValueError, match="updated_at"):
        DriverStatement(renaming)
    DriverStatement(renaming.values(updated_at=bindparam("now")))


@only_on_sqlite("what its driver stores")
async def test_a_statement_run_on_the_driver_stores_values_as_sqlalchemy_would(
    db: Database,
) -> None:
    rooms = Room.metadata.tables[Room.__tablename__]
    async with db.write() as session:
        creator = User(
            email="ann@example.com", display_name="Ann", handle="ann", hashed_password="-"
        )
        session.add(creator)
        await session.flush()
        session.add(Room(name="General", slug="general", creator_id=creator.id))
    on_the_hour = datetime(2026, 1, 1, 12, tzinfo=UTC)  # no microseconds to write
    raw = text("SELECT updated_at FROM rooms")  # untyped: the text SQLite holds

    async with db.write() as session:
        await session.execute(update(rooms).values(updated_at=on_the_hour))
        through_sqlalchemy = await session.scalar(raw)
    touch = DriverStatement(update(rooms).values(updated_at=bindparam("now")))
    async with db.write() as session:
        await touch.rows(await driver_of(session), {"now": on_the_hour})
        on_the_driver = await session.scalar(raw)

    assert on_the_driver == through_sqlalchemy == "2026-01-01 12:00:00.000000"


async def test_rows_read_on_the_driver_come_back_typed_as_sqlalchemy_would(db: Database) -> None:
    async with db.write() as session:
        session.add(
            User(email="ann@example.com", display_name="Ann", handle="ann", hashed_password="-")
        )
    users = select(User).where(User.__table__.c.email == bindparam("email"))
    async with db.read() as session:
        through_sqlalchemy = (await session.scalars(users, {"email": "ann@example.com"})).one()

    statement = DriverStatement(users)
    async with db.read_alone() as driver:
        [row] = await statement.rows(driver, {"email": "ann@example.com"})
    on_the_driver = dict(zip(statement.keys, row, strict=True))

    assert on_the_driver["inserted_at"] == through_sqlalchemy.inserted_at
    assert on_the_driver["inserted_at"].tzinfo is UTC
    assert on_the_driver["is_active"] is True
    assert on_the_driver["display_name"] == "Ann"


@only_on_postgresql("a server that drops its connections")
async def test_connections_the_server_cut_are_replaced_not_handed_out(
    db: Database, database_url: str
) -> None:
    async def use_every_pool() -> None:
        async with db.read_alone() as driver:
            assert list(await driver.fetch("SELECT 1", ())) == [(1,)]
        async with db.write_alone() as driver:
            await driver.fetch("SELECT 1", ())
        async with db.read() as session:
            assert await session.scalar(text("SELECT 1")) == 1
        async with db.write() as session:
            await session.execute(text("SELECT 1"))

    await use_every_pool()
    assert terminate_connections(database_url) >= 3  # one in each pool, at least

    await use_every_pool()


async def _select_in_a_read(db: Database) -> None:
    async with db.read() as session:
        await session.execute(text("SELECT 1"))


async def _select_alone(db: Database) -> None:
    async with db.read_alone() as driver:
        await driver.fetch("SELECT 1", ())


async def _select_in_a_write(db: Database) -> None:
    async with db.write() as session:
        await session.execute(text("SELECT 1"))


async def _select_on_the_writer(db: Database) -> None:
    async with db.write_alone() as driver:
        await driver.fetch("SELECT 1", ())


@pytest.mark.parametrize(
    "use", [_select_in_a_read, _select_alone, _select_in_a_write, _select_on_the_writer]
)
async def test_a_database_server_out_of_reach_is_said_to_be_so(
    use: Callable[[Database], Awaitable[None]],
) -> None:
    db = Database(f"postgresql+asyncpg://livechat@127.0.0.1:{free_port()}/livechat")
    try:
        with pytest.raises(Unavailable, match="cannot reach its database"):
            await use(db)
    finally:
        await db.dispose()


async def test_a_write_a_constraint_refuses_is_a_conflict_to_try_again(db: Database) -> None:
    async with db.write() as session:
        session.add(
            User(email="ann@example.com", display_name="Ann", handle="ann", hashed_password="-")
        )

    with pytest.raises(Conflict, match="at the same moment; try again"):
        async with db.write() as session:
            session.add(
                User(email="ann@example.com", display_name="Ann", handle="ann", hashed_password="-")
            )
    with pytest.raises(Conflict):
        async with db.write_alone() as driver:
            await driver.fetch(
                "INSERT INTO memberships (user_id, room_id, role, joined_at)"
                " SELECT id, 424242, 'member', inserted_at FROM users",
                (),
            )
