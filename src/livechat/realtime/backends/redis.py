"""Redis pub/sub: an event published by any process reaches the hubs of every process
subscribed to its topic.

One connection of its own carries every subscription, read by one task that hands each
event to the hub's dispatcher through a bounded queue, and tells ``subscribe`` when Redis
has confirmed a subscription: only then does an event published anywhere reach this
process, which is the contract every backend keeps. The connection also stays subscribed
to a channel of this backend's own, so that there is always something to read.

Publishing never waits for Redis: an event goes into a bounded outbox, and a sender task
writes everything waiting there in one round trip, in order, so that a room server goes
on to its next post at once. Pub/sub keeps nothing: an event published while this
process is not connected never reaches it. If the connection fails, ``next_published``
raises ``BackendUnreachable``, and the hub connects again, subscribed afresh.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from livechat.realtime.backends.base import BackendUnreachable
from livechat.realtime.backends.memory import QUEUE_SIZE


class RedisBackend:
    def __init__(self, url: str, *, prefix: str = "livechat", queue_size: int = QUEUE_SIZE) -> None:
        # Also the name its connections carry in Redis's CLIENT LIST.
        self.name = f"livechat-hub-{uuid.uuid4().hex}"
        # Channels are shared by every database of a Redis: the prefix keeps apart the
        # deployments (or tests) that share one.
        self._prefix = f"{prefix}:"
        self._redis = Redis.from_url(url, client_name=self.name)
        self._pubsub = self._redis.pubsub()
        self._queue_size = queue_size
        self._published: asyncio.Queue[tuple[str, bytes] | Exception]
        self._reader: asyncio.Task[None] | None = None
        # Published events wait here for the sender, which writes all that waits in one
        # round trip: a room server that publishes never waits for Redis's answer.
        self._outbox: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue(queue_size)
        self._sender: asyncio.Task[None] | None = None
        self._live: set[str] = set()
        self._confirmed: dict[str, asyncio.Future[None]] = {}

    async def connect(self) -> None:
        self._published = asyncio.Queue(self._queue_size)
        try:
            # The first subscription opens the connection the reader reads.
            confirmed = await self._request(self.name)
            self._reader = asyncio.create_task(self._read(), name="redis-hub-reader")
            await confirmed
            self._sender = asyncio.create_task(self._send(), name="redis-hub-sender")
        except BaseException:
            await self.disconnect()
            raise

    async def disconnect(self) -> None:
        for task in (self._sender, self._reader):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._sender = self._reader = None
        await self._pubsub.aclose()
        await self._redis.aclose()
        self._live.clear()
        self._confirmed.clear()

    async def subscribe(self, topic: str) -> None:
        if topic not in self._live:
            try:
                requested = await self._request(topic)
            except (RedisError, OSError) as error:
                raise BackendUnreachable(str(error)) from error
            # Shared by everyone joining the topic meanwhile: one of them leaving early must
            # not cancel it for the rest.
            await asyncio.shield(requested)

    async def unsubscribe(self, topic: str) -> None:
        self._live.discard(topic)
        # A connection that is gone holds no subscription; the next one makes only those
        # of the topics still subscribed to.
        with contextlib.suppress(RedisError, OSError):
            await self._pubsub.unsubscribe(self._prefix + topic)

    async def publish(self, topic: str, payload: bytes) -> None:
        if self._sender is None or self._sender.done():
            raise BackendUnreachable("not connected to Redis")
        try:
            self._outbox.put_nowait((self._prefix + topic, payload))
        except asyncio.QueueFull:
            raise BackendUnreachable("Redis is not taking events as fast as they come") from None

    async def next_published(self) -> tuple[str, bytes]:
        item = await self._published.get()
        if isinstance(item, Exception):
            raise item
        return item

    async def _send(self) -> None:
        """Write what was published, in order, as much as waits at a time; a failure
        fails the dispatcher too, which connects again."""
        try:
            while True:
                batch = [await self._outbox.get()]
                while not self._outbox.empty():
                    batch.append(self._outbox.get_nowait())
                pipeline = self._redis.pipeline(transaction=False)
                for channel, payload in batch:
                    pipeline.publish(channel, payload)
                await pipeline.execute()
        except (RedisError, OSError) as error:
            await self._published.put(BackendUnreachable(f"lost Redis: {error}"))

    async def _request(self, topic: str) -> asyncio.Future[None]:
        """Ask Redis for ``topic``, unless a request is under way: done once it confirmed."""
        confirmed = self._confirmed.get(topic)
        if confirmed is None:
            confirmed = self._confirmed[topic] = asyncio.get_running_loop().create_future()
            await self._pubsub.subscribe(self._prefix + topic)
        return confirmed

    async def _read(self) -> None:
        try:
            while True:
                message: dict[str, Any] | None = await self._pubsub.get_message(timeout=None)
                if message is None:
                    continue
                topic = message["channel"].decode().removeprefix(self._prefix)
                if message["type"] == "message":
                    await self._published.put((topic, message["data"]))
                elif message["type"] == "subscribe":
                    self._live.add(topic)
                    confirmed = self._confirmed.pop(topic, None)
                    if confirmed is not None:
                        confirmed.set_result(None)
        except Exception as error:
            # Every subscription waiting for Redis fails with the connection, and so does
            # the dispatcher, once it has taken what arrived before.
            if isinstance(error, RedisError | OSError):
                error = BackendUnreachable(f"lost Redis: {error}")
            for confirmed in self._confirmed.values():
                confirmed.set_exception(error)
            self._confirmed.clear()
            await self._published.put(error)
