"""The SQLite database: connection set-up and the single-writer discipline.

SQLite allows one writer at a time. A transaction that starts deferred, reads, then tries to
write fails at once with "database is locked" when another connection wrote meanwhile: the
busy timeout cannot help, because waiting would not make its snapshot current again. So:

- reads run on a pool of ``query_only`` connections, in deferred transactions that see one
  consistent snapshot and never block or fail in WAL mode;
- writes run on one dedicated connection, one transaction at a time behind an asyncio lock,
  each opened with ``BEGIN IMMEDIATE`` so the write lock is taken before the first read.

The busy timeout is left for the other processes that may share the file (``livechat seed``
or a backup running next to the server).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, MetaData, TypeDecorator, event
from sqlalchemy.engine import Connection, Dialect, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase

BUSY_TIMEOUT_MS = 5000
READ_POOL_SIZE = 8

# Stable constraint names let Alembic drop and alter constraints on SQLite's table rebuilds.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


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
        connection.exec_driver_sql(begin)


class Database:
    """Owns the engines; hands out read sessions and serialized write sessions."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._reader = create_async_engine(url, pool_size=READ_POOL_SIZE, max_overflow=0)
        self._writer = create_async_engine(url, pool_size=1, max_overflow=0)
        _configure(self._reader, begin="BEGIN", query_only=True)
        _configure(self._writer, begin="BEGIN IMMEDIATE", query_only=False)
        self._read_sessions = async_sessionmaker(self._reader, expire_on_commit=False)
        self._write_sessions = async_sessionmaker(self._writer, expire_on_commit=False)
        self._write_lock = asyncio.Lock()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A session over one consistent snapshot; any attempt to write in it fails."""
        async with self._read_sessions() as session:
            yield session

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """The writer's session: committed when the block ends, rolled back if it raises."""
        async with self._write_lock, self._write_sessions() as session:
            try:
                yield session
            except BaseException:
                await session.rollback()
                raise
            await session.commit()

    async def dispose(self) -> None:
        await self._reader.dispose()
        await self._writer.dispose()


def sqlite_path(url: str) -> str | None:
    """The file behind a SQLite URL, or None for an in-memory database."""
    database = make_url(url).database
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
