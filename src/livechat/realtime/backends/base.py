"""The seam a multi-process backend (Redis pub/sub, Postgres LISTEN) plugs into.

A backend only moves bytes per topic between processes. Fan-out to the connections of this
process, bounded queues and slow consumers are the hub's business, not the backend's.

What every backend keeps (``tests/realtime/test_backends.py`` holds each to it):

- ``subscribe(topic)`` returns only once delivery is live: an event published on the topic
  from then on, by any process, comes out of ``next_published``. It may be called again
  for a topic already subscribed, or being subscribed, and then returns once that is live.
- Events one process publishes on one topic come out in the order it published them.
- After ``unsubscribe(topic)``, events of the topic may still come out for a while; the
  hub drops what no one here subscribes to.
- Delivery is at most once: an event published while a process is not connected never
  reaches it. Pages find such a gap in their room's sequence and catch up from the
  store.
- ``next_published`` raises ``BackendUnreachable`` once the backend has lost its
  connection (anything else it raises is a bug); the hub then disconnects it and connects
  it again, subscribed afresh. A ``connect`` that fails leaves the backend as it found it,
  ready to be connected again.
- ``publish`` raises ``BackendUnreachable`` when the event cannot go out, and so does
  ``subscribe`` when it cannot subscribe. The hub then hands a published event to this
  process's subscribers alone: the event is in the store, and the pages of other
  processes catch up from it at their next event, or once their hub connects again.
"""

from __future__ import annotations

from typing import Protocol


class BackendUnreachable(Exception):
    """The backend cannot reach the other processes now."""


class HubBackend(Protocol):
    async def connect(self) -> None: ...

    async def disconnect(self) -> None: ...

    async def subscribe(self, topic: str) -> None: ...

    async def unsubscribe(self, topic: str) -> None: ...

    async def publish(self, topic: str, payload: bytes) -> None: ...

    async def next_published(self) -> tuple[str, bytes]: ...
