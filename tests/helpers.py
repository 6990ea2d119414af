"""Helpers the tests share: forms posted like a browser would, a subscription read as a
connection reads it, Redis and PostgreSQL when they answer, and a few constants."""

from __future__ import annotations

import asyncio
import os
import re
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

import httpx
import psycopg
import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy.engine import make_url

from livechat import schema
from livechat.accounts.models import User
from livechat.realtime.hub import Subscription

PASSWORD = "a perfectly fine passphrase"
REDIS_URL = os.environ.get("LIVECHAT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
# The database every test runs on: SQLite, or with LIVECHAT_TEST_DATABASE=postgresql, a
# PostgreSQL database of its own.
DATABASE = os.environ.get("LIVECHAT_TEST_DATABASE", "sqlite")
POSTGRES_URL = os.environ.get(
    "LIVECHAT_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
MakeUser = Callable[..., Awaitable[User]]


def only_on_sqlite(why: str) -> pytest.MarkDecorator:
    """For a test of how livechat uses SQLite itself, which PostgreSQL does otherwise."""
    return pytest.mark.skipif(DATABASE != "sqlite", reason=f"SQLite's own: {why}")


def only_on_postgresql(why: str) -> pytest.MarkDecorator:
    """For a test of what only a database server does; ``make test`` runs it on the
    PostgreSQL pass."""
    return pytest.mark.skipif(DATABASE != "postgresql", reason=f"PostgreSQL's own: {why}")


def terminate_connections(database_url: str) -> int:
    """Cut every connection to the database, as a restart of its server would; how many."""
    server = schema.sync_url(POSTGRES_URL).set(drivername="postgresql")
    with psycopg.connect(server.render_as_string(hide_password=False), autocommit=True) as admin:
        row = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = %s",
            (make_url(database_url).database,),
        ).fetchone()
    return int(row[0]) if row else 0


def missing(reason: str) -> NoReturn:
    """Skip a test for want of a service, saying why; fail it in CI, where a skipped test
    would go unnoticed."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason}, and CI must run the tests that need it")
    pytest.skip(reason)


async def reachable_redis() -> str:
    """Redis's URL once it answers; without it, ``missing``."""
    client = Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except (RedisConnectionError, OSError) as error:
        missing(f"Redis does not answer at {REDIS_URL} ({error})")
    finally:
        await client.aclose()
    return REDIS_URL


@contextmanager
def postgres_database(template: str | None = None, options: str = "") -> Iterator[str]:
    """The URL of a PostgreSQL database of the caller's own, a copy of ``template`` (the
    URL of another) if given, made with CREATE DATABASE's ``options``, dropped once it is
    done; without PostgreSQL, ``missing``. Tests share one server, so each gets one."""
    server = schema.sync_url(POSTGRES_URL).set(drivername="postgresql")
    name = f"livechat_test_{uuid.uuid4().hex}"
    try:
        admin = psycopg.connect(server.render_as_string(hide_password=False), autocommit=True)
    except psycopg.OperationalError as error:
        missing(f"PostgreSQL does not answer at {POSTGRES_URL} ({error})")
    with admin:
        if template is not None:
            options = f'TEMPLATE "{make_url(template).database}"'
        admin.execute(f'CREATE DATABASE "{name}" {options}')
        try:
            yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
        finally:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


async def eventually(
    condition: Callable[[], Awaitable[bool]], *, timeout_s: float = 5.0, every_s: float = 0.01
) -> None:
    """Return once ``condition`` holds, asked every ``every_s``; time out after ``timeout_s``.
    For what another process, or Redis, makes true with no event to wait on here."""
    async with asyncio.timeout(timeout_s):
        while True:
            if await condition():
                return
            await asyncio.sleep(every_s)


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


_CSRF_META = re.compile(r'<meta name="csrf-token" content="([0-9a-f]+)">')


async def csrf_token(client: httpx.AsyncClient, page: str = "/users/log_in") -> str:
    """The token a page hands this client, as a browser would find it in the form."""
    response = await client.get(page)
    match = _CSRF_META.search(response.text)
    assert match is not None, f"no CSRF token on {page}"
    return match.group(1)


async def submit(
    client: httpx.AsyncClient, path: str, data: dict[str, str], *, page: str = "/users/log_in"
) -> httpx.Response:
    """Post a form the way the page's own form would, CSRF token included."""
    return await client.post(path, data={**data, "csrf_token": await csrf_token(client, page)})


async def log_in(client: httpx.AsyncClient, user: User, password: str = PASSWORD) -> None:
    response = await submit(client, "/users/log_in", {"email": user.email, "password": password})
    assert response.status_code == 303, response.text


async def next_batch(subscription: Subscription) -> list[object] | None:
    """Everything ``subscription`` holds, once it holds anything, as a connection takes it
    when told it is ready; None once it fell too far behind."""
    items = subscription.take()
    if items == []:
        ready = asyncio.get_running_loop().create_future()

        def wake() -> None:
            if not ready.done():
                ready.set_result(None)

        subscription.on_ready = subscription.on_overflow = wake
        await ready
        items = subscription.take()
    return items
