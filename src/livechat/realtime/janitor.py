"""The Janitor: every few minutes, deletes the uploads that no message took in time.

Its only state is when it last swept; a failing sweep crashes it and its supervisor
restarts it, so a transient database error costs one sweep, not the feature.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from livechat.realtime.actor import Sleep

log = logging.getLogger(__name__)

SWEEP_EVERY_SECONDS = 300.0  # abandoned uploads may outlive their hour by five minutes


class Janitor:
    def __init__(
        self,
        sweep: Callable[[], Awaitable[int]],
        *,
        every_seconds: float = SWEEP_EVERY_SECONDS,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._sweep = sweep
        self._every = every_seconds
        self._sleep = sleep

    async def run(self) -> None:
        while True:
            removed = await self._sweep()
            if removed:
                log.info("deleted %d abandoned uploads", removed)
            await self._sleep(self._every)
