"""The single-process backend: every topic lives in this process already."""

from __future__ import annotations

import asyncio

# Publishers wait only for the hub's own dispatcher to take an event, never for a client;
# the bound keeps a stalled dispatcher from turning into unbounded memory.
QUEUE_SIZE = 10_000


class MemoryBackend:
    def __init__(self, queue_size: int = QUEUE_SIZE) -> None:
        self._published: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue(queue_size)

    async def connect(self) -> None:
        """Nothing to connect to."""

    async def disconnect(self) -> None:
        """Nothing to disconnect from."""

    async def subscribe(self, topic: str) -> None:
        """Every topic is local: there is nothing to subscribe to."""

    async def unsubscribe(self, topic: str) -> None:
        """Every topic is local: there is nothing to unsubscribe from."""

    async def publish(self, topic: str, payload: bytes) -> None:
        await self._published.put((topic, payload))

    async def next_published(self) -> tuple[str, bytes]:
        return await self._published.get()
