"""Helpers the tests share: forms posted like a browser would, a subscription read as a
connection reads it, and a few constants."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from livechat.accounts.models import User
from livechat.realtime.hub import Subscription

PASSWORD = "a perfectly fine passphrase"
REDIS_URL = os.environ.get("LIVECHAT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
MakeUser = Callable[..., Awaitable[User]]


async def reachable_redis() -> str:
    """Redis's URL once it answers; without it, a skip that says why, or a failure in CI,
    where a skipped test would go unnoticed."""
    client = Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except (RedisConnectionError, OSError) as error:
        reason = f"Redis does not answer at {REDIS_URL} ({error})"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}, and CI must run the Redis tests")
        pytest.skip(reason)
    finally:
        await client.aclose()
    return REDIS_URL


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
