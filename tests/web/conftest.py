"""What the web tests share: a live server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from livechat.settings import Settings
from tests.live import LiveServer, serving


@pytest.fixture
async def server(settings: Settings) -> AsyncIterator[LiveServer]:
    async with serving(settings) as live:
        yield live
