"""The Janitor: every few minutes, deletes the uploads that no message took in time.

A sweep that fails is logged and tried again after the next nap. Letting it crash instead
would have its supervisor restart it at once, and a fault that lasts (a disk gone
read-only) would exceed the restart intensity within milliseconds and take the whole tree
down with it: one failed sweep should cost one sweep, not the chat.
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
            try:
                removed = await self._sweep()
            except Exception:
                log.exception("sweeping abandoned uploads failed; trying again later")
            else:
                if removed:
                    log.info("deleted %d abandoned uploads", removed)
            await self._sleep(self._every)
