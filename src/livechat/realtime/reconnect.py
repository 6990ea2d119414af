"""Connecting to Redis, again and again until it answers.

A process that loses Redis must not crash in a loop: its supervisor would give up within
a second, and the process would stop. So the processes that need Redis (the hub's
dispatcher, presence's peers) take a lost connection as an outage, and wait here to
connect again, trying after a pause that doubles up to a few seconds, and saying so once
per pause in the log.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from redis.exceptions import RedisError

from livechat.realtime.actor import Sleep
from livechat.realtime.backends.base import BackendUnreachable

log = logging.getLogger(__name__)

T = TypeVar("T")

FIRST_PAUSE_S = 0.1
# A Redis restarting is back within a second or two; past that, a few seconds between
# tries are soon enough, and cheap for a server waiting on it.
MAX_PAUSE_S = 5.0


async def until_connected(
    connect: Callable[[], Awaitable[T]], what: str, *, sleep: Sleep = asyncio.sleep
) -> T:
    """What ``connect`` returns, once it returns; ``what`` names it in the log."""
    pause = FIRST_PAUSE_S
    while True:
        try:
            return await connect()
        except (RedisError, OSError, BackendUnreachable) as error:
            log.warning("%s: cannot reach Redis (%s); trying again in %.1f s", what, error, pause)
        await sleep(pause)
        pause = min(2 * pause, MAX_PAUSE_S)
