"""The database: SQLite by default, with its single-writer discipline, or PostgreSQL.

SQLite allows one writer at a time. A transaction that starts deferred, reads, then tries to
write fails at once with "database is locked" when another connection wrote meanwhile: the
busy timeout cannot help, because waiting would not make its snapshot current again. So:

- reads run on a pool of ``query_only`` connections, in deferred transactions that see one
  consistent snapshot and never block or fail in WAL mode (a read of one statement needs
  no transaction: the statement is its own snapshot);
- writes run on one dedicated connection, one transaction at a time behind an asyncio lock,
  each opened with ``BEGIN IMMEDIATE`` so the write lock is taken before the first read.

That one connection is shared by every write in the process, so a write that ends early must
never leave it inside a transaction: it would hold SQLite's write lock for good. A write
that fails rolls back before the next may start; one cancelled at any await (its task shut
down by a supervisor, a timeout) also has its connection rolled back, then replaced.

The busy timeout is left for the other processes that may share the file (``livechat seed``
or a backup running next to the server).

PostgreSQL needs none of that: reads run in read-only REPEATABLE READ transactions, one
snapshot each, and writes run side by side on a pool of writers, waiting only for the rows
they lock; a room's event numbers are taken by locking its row (``chat/messages.py``).

How long each write holds a writer is reported to ``on_write``, and how many wait for one
is ``waiting_writes``, for the metrics: a queue that grows is the first sign of a store
that cannot keep up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

import asyncpg
from sqlalchemy import BigInteger, DateTime, Integer, MetaData, TypeDecorator, event
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.dialects.sqlite.aiosqlite import SQLiteDialect_aiosqlite
from sqlalchemy.engine import Connection, Dialect, ExceptionContext, make_url
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement
from sqlalchemy.sql.selectable import ReturnsRows

from livechat.errors import Conflict, Unavailable

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 5000
READ_POOL_SIZE = 8
# How long a read waits for a free connection before the server says it is busy (1013 to
# a socket, 503 to a page). Thousands of sockets opening at once queue for the eight
# connections for seconds: at 10 s, most of 2,000 were sent away; at 30 s, a few.
READ_WAIT_SECONDS = 30.0
BUSY = "The server is busy; try again in a moment."
UNREACHABLE = "The server cannot reach its database right now; try again in a moment."
CONFLICT = "Someone else changed this at the same moment; try again."
# What a database server that is down, restarting or cut off raises, through the driver
# or through SQLAlchemy: an outage, said as one, never a bug.
_CUT_OFF = (
    ConnectionError,
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
)
# What a write a constraint refused raises: through SQLAlchemy, or either driver alone.
_REFUSED = (
    IntegrityError,
    sqlite3.IntegrityError,
    asyncpg.exceptions.IntegrityConstraintViolationError,
)
# PostgreSQL's writers run side by side; more than the cores of a small database server
# would only queue there instead of here.
POSTGRESQL_WRITE_POOL_SIZE = 8
# A transaction left open by a bug must not hold its row locks for good.
POSTGRESQL_SETTINGS = {"idle_in_transaction_session_timeout": "30000"}
POSTGRESQL_CONNECT_ARGS = {"server_settings": POSTGRESQL_SETTINGS}
# Readers' connections may not write, whether through a session or on the driver alone.
POSTGRESQL_READER_CONNECT_ARGS = {
    "server_settings": POSTGRESQL_SETTINGS | {"default_transaction_read_only": "on"}
}

# Stable constraint names let Alembic drop and alter constraints on SQLite's table rebuilds.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# Ids and sequence numbers are 64-bit, as the input checks allow (inputs.MAX_ID). SQLite's
# INTEGER is already, and must stay INTEGER to be the rowid; PostgreSQL's is 32-bit.
Id = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {int: Id}


def _configure(engine: AsyncEngine, *, begin: str, query_only: bool) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Hand transaction control to SQLAlchemy's "begin" event below instead of the
        # driver, which would otherwise open deferred transactions on its own.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        if query_only:
            cursor.execute("PRAGMA query_only = ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def on_begin(connection: Connection) -> None:
        # On the driver's connection, in one trip to its thread: every read and write
        # begins here, and executing through SQLAlchemy would take three (a cursor, the
        # statement, closing the cursor) and its bookkeeping, for a statement of no rows.
        driver = connection.connection.dbapi_connection
        assert driver is not None, "a connection that begins is open"
        driver.execute(begin)


class Database:
    """Owns the engines; hands out read sessions and serialized write sessions."""

    def __init__(
        self,
        url: str,
        *,
        on_write: Callable[[float], None] = lambda _seconds: None,
        read_pool_size: int = READ_POOL_SIZE,
        read_wait_seconds: float = READ_WAIT_SECONDS,
    ) -> None:
        self.url = url
        self.dialect = make_url(url).get_backend_name()
        if self.dialect == "sqlite":
            self._sqlite_engines(read_pool_size, read_wait_seconds)
            writers = 1
        else:
            self._postgresql_engines(read_pool_size, read_wait_seconds)
            writers = POSTGRESQL_WRITE_POOL_SIZE
        self._read_sessions = async_sessionmaker(self._reader, expire_on_commit=False)
        self._write_sessions = async_sessionmaker(self._writer, expire_on_commit=False)
        self._writers = asyncio.Semaphore(writers)
        self._waiting = 0
        self._on_write = on_write

    def _sqlite_engines(self, read_pool_size: int, read_wait_seconds: float) -> None:
        self._reader = create_async_engine(
            self.url, pool_size=read_pool_size, max_overflow=0, pool_timeout=read_wait_seconds
        )
        # Reads on the driver alone never open a transaction, so their connections go back
        # to the pool as they came out: the rollback the pool would make on their return
        # is one more trip to the driver's thread, as many as the read itself. Each holds
        # its connection for one trip, so half as many connections serve them; each one's
        # page cache is memory the process keeps.
        self._lone_reader = create_async_engine(
            self.url,
            pool_size=max(1, read_pool_size // 2),
            max_overflow=0,
            pool_timeout=read_wait_seconds,
            pool_reset_on_return=None,
        )
        self._writer = create_async_engine(self.url, pool_size=1, max_overflow=0)
        _configure(self._reader, begin="BEGIN", query_only=True)
        _configure(self._lone_reader, begin="BEGIN", query_only=True)
        _configure(self._writer, begin="BEGIN IMMEDIATE", query_only=False)
        event.listen(self._writer.sync_engine, "handle_error", _keep_cancelled_connection)
        event.listen(self._writer.sync_engine, "invalidate", _roll_back_before_closing)

    def _postgresql_engines(self, read_pool_size: int, read_wait_seconds: float) -> None:
        # Reads see one snapshot, as SQLite's query_only readers do.
        self._reader = self._postgresql_engine(
            read_pool_size,
            read_wait_seconds,
            POSTGRESQL_READER_CONNECT_ARGS,
            isolation_level="REPEATABLE READ",
        )
        self._lone_reader = self._postgresql_engine(
            max(1, read_pool_size // 2), read_wait_seconds, POSTGRESQL_READER_CONNECT_ARGS
        )
        # Writers run side by side: a post waits only for the row lock of its own room.
        self._writer = self._postgresql_engine(
            POSTGRESQL_WRITE_POOL_SIZE, read_wait_seconds, POSTGRESQL_CONNECT_ARGS
        )

    def _postgresql_engine(
        self, size: int, wait_seconds: float, connect_args: dict[str, Any], **options: Any
    ) -> AsyncEngine:
        # Every engine checks a connection as it hands it out: a server restarted, or a
        # connection cut by the network, leaves connections in the pool that would fail
        # every request they served, since the driver's own use never tells the pool.
        return create_async_engine(
            self.url,
            pool_pre_ping=True,
            pool_size=size,
            max_overflow=0,
            pool_timeout=wait_seconds,
            connect_args=connect_args,
            **options,
        )

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A session over one consistent snapshot; any attempt to write in it fails. When no
        connection frees up in time, ``Unavailable``: the caller is to come back later."""
        async with self._read_sessions() as session:
            try:
                with _as_outcome():
                    yield session
            except PoolTimeout as error:
                raise Unavailable(BUSY, retry_after_seconds=1) from error

    @asynccontextmanager
    async def read_alone(self) -> AsyncIterator[Driver]:
        """A reader's driver connection outside any transaction, for reads that are one
        ``DriverStatement`` each: every trip to the driver's thread waits its turn on a busy
        event loop, and such a read takes one where a session's takes seven. When no
        connection frees up in time, ``Unavailable``."""
        try:
            with _as_outcome():
                connection = await self._lone_reader.connect()
        except PoolTimeout as error:
            raise Unavailable(BUSY, retry_after_seconds=1) from error
        try:
            with _as_outcome():
                yield await _driver(connection)
        finally:
            # Not ``async with``, which closes in a task of its own so that a cancellation
            # cannot cut the close short: on a busy loop that task waits its turn twice,
            # and this close cannot be cut short, as it gives the connection back without
            # a trip to the driver's thread and so without once yielding to the loop.
            await connection.close()

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """The writer's session: committed when the block ends, rolled back if it raises or
        is cancelled. The lock is released only once the connection is clean again."""
        async with self._writing():
            session = self._write_sessions()
            try:
                with _as_outcome():
                    yield session
                    await session.commit()
            except BaseException as error:
                await finish_uncancelled(_abandon(session, error))
                raise
            await finish_uncancelled(session.close())

    @asynccontextmanager
    async def write_alone(self) -> AsyncIterator[Driver]:
        """The writer's driver connection, outside any transaction, for statements of
        ``DriverStatement`` that each make a whole write: each is a transaction of its
        own. SQLite takes the write lock as a statement that writes starts, as ``BEGIN
        IMMEDIATE`` does, and commits as it ends, so such a write needs no trip to the
        driver's thread to begin or to commit. A statement cut short by a cancellation
        still runs to its end on that thread, and leaves no transaction open behind it.
        asyncpg runs a statement outside a transaction as a transaction of its own too."""
        with _as_outcome():
            async with self._writing(), self._writer.connect() as connection:
                yield await _driver(connection)

    @asynccontextmanager
    async def _writing(self) -> AsyncIterator[None]:
        """Hold a writer (SQLite's one), counted while waiting and timed while holding."""
        self._waiting += 1
        try:
            await self._writers.acquire()
        finally:
            self._waiting -= 1
        started = time.perf_counter()
        try:
            yield
        finally:
            self._writers.release()
            self._on_write(time.perf_counter() - started)

    @property
    def waiting_writes(self) -> int:
        """Writes queued for a writer."""
        return self._waiting

    async def dispose(self) -> None:
        await self._reader.dispose()
        await self._lone_reader.dispose()
        await self._writer.dispose()


@contextlib.contextmanager
def _as_outcome() -> Iterator[None]:
    """Say what went wrong with the database as the pages say it: a server out of reach
    (down, restarting, cut off) is ``Unavailable``, to be tried again, not a bug; a write
    a constraint refused is ``Conflict``. The checks before a write find what is stored,
    but where writers run side by side (PostgreSQL), one that passed them may still meet
    a unique or foreign key another made true since."""
    try:
        yield
    except _CUT_OFF as error:
        raise Unavailable(UNREACHABLE, retry_after_seconds=1) from error
    except _REFUSED as error:
        raise Conflict(CONFLICT) from error
    except DBAPIError as error:
        if error.connection_invalidated or isinstance(error.orig, _CUT_OFF):
            raise Unavailable(UNREACHABLE, retry_after_seconds=1) from error
        raise


def _keep_cancelled_connection(context: ExceptionContext) -> None:
    """SQLAlchemy discards a connection as soon as a cancellation cuts one of its
    statements short, in the cancelled task itself, where a second cancellation can cut
    the discarding short too. ``_abandon`` discards it instead, shielded."""
    if isinstance(context.original_exception, asyncio.CancelledError):
        context.is_disconnect = False


def _roll_back_before_closing(dbapi_connection: Any, _record: Any, _error: Any) -> None:
    """An aiosqlite connection closed inside ``BEGIN IMMEDIATE`` while a statement cut short
    still holds a cursor open lingers until that cursor is garbage collected, and keeps
    SQLite's write lock meanwhile: every other writer, in this process or another, would
    fail with "database is locked". Rolled back first, it holds no lock; the rollback
    queues behind the cut-off statement on the connection's thread."""
    with contextlib.suppress(Exception):
        dbapi_connection.rollback()


async def _abandon(session: AsyncSession, error: BaseException) -> None:
    """End a write that failed. A cancelled one has its connection rolled back and
    replaced: the statement it cut short still pins an old snapshot, on which the next
    ``BEGIN IMMEDIATE`` would fail once another process has written. So does one that
    cannot even roll back."""
    if not isinstance(error, asyncio.CancelledError):
        try:
            await session.rollback()
        except Exception:
            log.exception("rolling back a failed write failed; replacing the connection")
        else:
            await session.close()
            return
    await session.invalidate()


async def finish_uncancelled(cleanup: Awaitable[None]) -> None:
    """Run ``cleanup`` to its end even if the caller is cancelled meanwhile; the
    cancellation is then passed on. Cleanup that stops halfway is worse than a late one."""
    task = asyncio.ensure_future(cleanup)
    cancelled = False
    while not task.done():
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            cancelled = True
    task.result()
    if cancelled:
        raise asyncio.CancelledError


def sqlite_path(url: str) -> str | None:
    """The file behind a SQLite URL; None for an in-memory database, or another one."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database
    return database if database and database != ":memory:" else None


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored as naive UTC (SQLite has no time zones) and read back aware."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are ambiguous; pass an aware one")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


# The dialects the engines speak: statements compiled with them run as SQLAlchemy would.
_DIALECTS: dict[str, Dialect] = {
    "sqlite": SQLiteDialect_aiosqlite(),
    "postgresql": PGDialect_asyncpg(),  # type: ignore[no-untyped-call]
}


class Driver:
    """A driver's connection, for the statements of ``DriverStatement``: aiosqlite's, whose
    statement and fetch are one trip to its thread, or asyncpg's."""

    def __init__(self, dialect: str, connection: Any) -> None:
        self.dialect = dialect
        self._connection = connection

    async def fetch(self, sql: str, parameters: tuple[Any, ...]) -> list[Sequence[Any]]:
        if self.dialect == "sqlite":
            return list(await self._connection.execute_fetchall(sql, parameters))
        return list(await self._connection.fetch(sql, *parameters))


class _InSession(Driver):
    """A session's connection, in its transaction: SQLAlchemy begins asyncpg's lazily, so
    its statements go through SQLAlchemy, which begins it first."""

    async def fetch(self, sql: str, parameters: tuple[Any, ...]) -> list[Sequence[Any]]:
        return list((await self._connection.exec_driver_sql(sql, parameters)).all())


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]
    convert: tuple[Callable[[Any], Any] | None, ...]
    results: tuple[Callable[[Any], Any] | None, ...]


class DriverStatement:
    """A statement SQLAlchemy builds once and the driver runs: on a writer, in a write
    session's transaction (``driver_of``) or as a transaction of its own (``write_alone``),
    or on a reader as a read of its own (``read_alone``). It is for the hottest paths, a
    post and the reads every request and search make: there SQLAlchemy's execution, with a
    hop to the driver's thread for each cursor, fetch and close, costs many times what
    SQLite spends on the SQL, and on a busy event loop each hop also waits its turn. The
    driver runs a statement and fetches its rows in one hop. Parameters are passed by name
    and converted by their columns' types, and so are the columns of the rows; a value
    SQLAlchemy would compute at execution (a Python default, an ``onupdate``) is refused
    when the statement is built, since the driver would not compute it.

    ``variants`` are the statement for other dialects, by name, where it differs; each is
    compiled for its dialect the first time it runs there."""

    def __init__(self, statement: ClauseElement, **variants: ClauseElement) -> None:
        self._statements = {"sqlite": statement, **variants}
        self._compiled: dict[str, _Compiled] = {}
        self._compile("sqlite")  # so that a mistake in it shows at import
        columns = statement.exported_columns if isinstance(statement, ReturnsRows) else ()
        self.keys = tuple(column.key for column in columns)

    def _compile(self, dialect_name: str) -> _Compiled:
        compiled_form = self._compiled.get(dialect_name)
        if compiled_form is not None:
            return compiled_form
        dialect = _DIALECTS[dialect_name]
        statement = self._statements.get(dialect_name, self._statements["sqlite"])
        compiled = statement.compile(dialect=dialect)
        assert isinstance(compiled, SQLCompiler)
        computed = [*compiled.insert_prefetch, *compiled.update_prefetch]
        if computed:
            names = ", ".join(column.name for column in computed)
            raise ValueError(f"give every value the statement needs as a parameter: {names}")
        order = tuple(compiled.positiontup or ())
        columns = statement.exported_columns if isinstance(statement, ReturnsRows) else ()
        compiled_form = self._compiled[dialect_name] = _Compiled(
            str(compiled),
            order,
            tuple(
                compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect)
                for name in order
            ),
            tuple(
                column.type.dialect_impl(dialect).result_processor(dialect, None)
                for column in columns
            ),
        )
        return compiled_form

    @property
    def sql(self) -> str:
        """The statement as SQLite runs it."""
        return self._compile("sqlite").sql

    async def rows(self, driver: Driver, values: dict[str, Any]) -> list[tuple[Any, ...]]:
        """Run the statement on ``driver`` and return its rows, one value per column of
        ``keys``."""
        compiled = self._compile(driver.dialect)
        parameters = tuple(
            value if convert is None else convert(value)
            for value, convert in zip(
                (values[name] for name in compiled.names), compiled.convert, strict=True
            )
        )
        rows = await driver.fetch(compiled.sql, parameters)
        if not any(compiled.results):
            return [tuple(row) for row in rows]
        return [
            tuple(
                value if convert is None else convert(value)
                for value, convert in zip(row, compiled.results, strict=True)
            )
            for row in rows
        ]


async def driver_of(session: AsyncSession) -> Driver:
    """The driver's connection under ``session``, in its transaction, for the statements
    of ``DriverStatement``."""
    connection = await session.connection()
    dialect = connection.dialect.name
    return await _driver(connection) if dialect == "sqlite" else _InSession(dialect, connection)


async def _driver(connection: AsyncConnection) -> Driver:
    driver = (await connection.get_raw_connection()).driver_connection
    assert driver is not None, "a connection handed out is open"
    return Driver(connection.dialect.name, driver)
