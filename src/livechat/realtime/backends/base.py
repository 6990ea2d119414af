"""The seam a multi-process backend (Redis pub/sub, Postgres LISTEN) plugs into.

A backend only moves bytes per topic between processes. Fan-out to the connections of this
process, bounded queues and slow consumers are the hub's business, not the backend's.
"""

from __future__ import annotations

from typing import Protocol


class HubBackend(Protocol):
    async def connect(self) -> None: ...

    async def disconnect(self) -> None: ...

    async def subscribe(self, topic: str) -> None: ...

    async def unsubscribe(self, topic: str) -> None: ...

    async def publish(self, topic: str, payload: bytes) -> None: ...

    async def next_published(self) -> tuple[str, bytes]: ...
