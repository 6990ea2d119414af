"""Helpers the tests share: forms posted like a browser would, and a few constants."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

from livechat.accounts.models import User

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
