"""The database layer: connection settings and the single-writer discipline."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from livechat.db import BUSY_TIMEOUT_MS, Database

CONCURRENT_WRITERS = 200


async def _pragma(db: Database, name: str) -> object:
    async with db.read() as session:
        return (await session.execute(text(f"PRAGMA {name}"))).scalar()


async def test_every_connection_uses_wal_foreign_keys_and_a_busy_timeout(db: Database) -> None:
    assert await _pragma(db, "journal_mode") == "wal"
    assert await _pragma(db, "foreign_keys") == 1
    assert await _pragma(db, "busy_timeout") == BUSY_TIMEOUT_MS
    assert await _pragma(db, "synchronous") == 1  # NORMAL


async def test_a_read_session_cannot_write(db: Database) -> None:
    async with db.read() as session:
        with pytest.raises(OperationalError, match="readonly"):
            await session.execute(text("CREATE TABLE sneaky (x INTEGER)"))


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
