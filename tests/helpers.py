"""Helpers the tests share: forms posted like a browser would, a subscription read as a
connection reads it, and a few constants."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

from livechat.accounts.models import User
from livechat.realtime.hub import Subscription

PASSWORD = "a perfectly fine passphrase"
MakeUser = Callable[..., Awaitable[User]]


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
