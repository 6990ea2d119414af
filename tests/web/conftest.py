"""What the web tests share: a live server, and the room Alice runs and Bob has joined."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from livechat.accounts.models import User
from livechat.chat import rooms
from livechat.chat.models import Room
from livechat.db import Database
from livechat.settings import Settings
from tests.live import LiveServer, serving


@pytest.fixture
async def server(settings: Settings) -> AsyncIterator[LiveServer]:
    async with serving(settings) as live:
        yield live


@pytest.fixture
async def general(db: Database, alice: User, bob: User) -> Room:
    """A public room of Alice's that Bob has joined."""
    room = await rooms.create_room(db, alice, name="General")
    await rooms.join_room(db, bob, room.slug)
    return room
