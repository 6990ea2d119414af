"""What the API tests share: a live server, and tokens to call it with."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Collection

import httpx
import pytest

from livechat.accounts.models import User
from livechat.accounts.tokens import Scope
from livechat.chat import grants
from livechat.db import Database
from livechat.settings import Settings
from tests.live import LiveServer, serving

Call = Callable[..., Awaitable[httpx.AsyncClient]]


@pytest.fixture
async def server(settings: Settings) -> AsyncIterator[LiveServer]:
    async with serving(settings) as live:
        yield live


@pytest.fixture
async def api(db: Database, server: LiveServer) -> AsyncIterator[Call]:
    """A client of the API as ``user``, through a token of theirs of ``scope``, kept to
    ``room_ids`` if given."""
    clients: list[httpx.AsyncClient] = []

    async def client(
        user: User, scope: Scope = Scope.WRITE, room_ids: Collection[int] | None = None
    ) -> httpx.AsyncClient:
        _, secret = await grants.issue_token(db, user, name="tests", scope=scope, room_ids=room_ids)
        http = httpx.AsyncClient(
            base_url=f"{server.url}/api/v1", headers={"Authorization": f"Bearer {secret}"}
        )
        clients.append(http)
        return http

    yield client
    for http in clients:
        await http.aclose()
