"""The contract every hub backend keeps (see ``realtime/backends/base.py``), held against
the in-process backend and against Redis; and, on Redis, hubs of different processes
sharing one chat."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from livechat.realtime.backends.base import BackendUnreachable, HubBackend
from livechat.realtime.backends.memory import MemoryBackend
from livechat.realtime.backends.redis import RedisBackend
from livechat.realtime.events import MessagePosted
from livechat.realtime.hub import Broadcast, Hub, room_topic
from tests.helpers import next_batch, reachable_redis
from tests.realtime.conftest import Background

TIMEOUT_S = 5.0


@pytest.fixture(params=["memory", "redis"])
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[HubBackend]:
    chosen: HubBackend = (
        MemoryBackend() if request.param == "memory" else RedisBackend(await reachable_redis())
    )
    await chosen.connect()
    try:
        yield chosen
    finally:
        await chosen.disconnect()


def a_topic() -> str:
    """A topic no other test, nor any other run sharing the Redis, publishes on."""
    return f"test:{uuid.uuid4().hex}"


async def next_published(backend: HubBackend) -> tuple[str, bytes]:
    async with asyncio.timeout(TIMEOUT_S):
        return await backend.next_published()


async def test_an_event_published_once_subscribe_returned_comes_out(backend: HubBackend) -> None:
    topic = a_topic()
    await backend.subscribe(topic)

    await backend.publish(topic, b"\x00payload \xff bytes")

    assert await next_published(backend) == (topic, b"\x00payload \xff bytes")


async def test_events_of_a_topic_come_out_in_the_order_they_were_published(
    backend: HubBackend,
) -> None:
    topic = a_topic()
    await backend.subscribe(topic)

    for n in range(50):
        await backend.publish(topic, str(n).encode())

    received = [await next_published(backend) for _ in range(50)]
    assert received == [(topic, str(n).encode()) for n in range(50)]


async def test_subscribing_again_to_a_topic_is_harmless(backend: HubBackend) -> None:
    topic = a_topic()
    await asyncio.gather(backend.subscribe(topic), backend.subscribe(topic))
    await backend.subscribe(topic)

    await backend.publish(topic, b"once")

    assert await next_published(backend) == (topic, b"once")
    await backend.publish(topic, b"and only once")
    assert await next_published(backend) == (topic, b"and only once")


async def test_a_backend_connected_again_after_a_disconnect_delivers_again(
    backend: HubBackend,
) -> None:
    # As when the hub's supervisor restarts the hub: disconnected, connected, subscribed.
    topic = a_topic()
    await backend.subscribe(topic)
    await backend.disconnect()

    await backend.connect()
    await backend.subscribe(topic)
    await backend.publish(topic, b"after the restart")

    assert await next_published(backend) == (topic, b"after the restart")


async def test_an_event_from_another_process_arrives_once_subscribe_returned(
    redis_url: str,
) -> None:
    # Two backends on one Redis stand for two processes; subscribe returning before
    # Redis confirmed would lose some of these, published the moment it returns.
    here, there = RedisBackend(redis_url), RedisBackend(redis_url)
    await here.connect()
    await there.connect()
    try:
        for n in range(20):
            topic = a_topic()
            await here.subscribe(topic)
            await there.publish(topic, str(n).encode())
            assert await next_published(here) == (topic, str(n).encode())
    finally:
        await here.disconnect()
        await there.disconnect()


async def cut_off(redis_url: str, backend: RedisBackend) -> None:
    """Close the backend's connections from Redis's side, as a Redis restart would."""
    killer = Redis.from_url(redis_url)
    try:
        for client in await killer.client_list():
            if client["name"] == backend.name:
                await killer.client_kill_filter(_id=client["id"])
    finally:
        await killer.aclose()


async def test_a_lost_connection_ends_next_published(
    redis_url: str,
) -> None:
    backend = RedisBackend(redis_url)
    await backend.connect()
    waiting = asyncio.ensure_future(backend.next_published())
    try:
        await cut_off(redis_url, backend)

        with pytest.raises(BackendUnreachable, match="lost Redis"):
            async with asyncio.timeout(TIMEOUT_S):
                await waiting
    finally:
        waiting.cancel()
        await backend.disconnect()


async def test_a_broadcast_published_on_one_hub_reaches_subscribers_of_another(
    redis_url: str, background: Background
) -> None:
    topic = room_topic(int(uuid.uuid4().int % 1_000_000_000))
    publishing, receiving = Hub(RedisBackend(redis_url)), Hub(RedisBackend(redis_url))
    background.start(publishing.run())
    background.start(receiving.run())
    sent = Broadcast(MessagePosted(1, 7, 3), seq=1, message_id=7)

    async with receiving.subscribe(topic) as subscription:
        await publishing.publish(topic, sent)

        async with asyncio.timeout(TIMEOUT_S):
            batch = await next_batch(subscription)

    assert batch == [sent]


async def test_a_hub_cut_off_from_redis_connects_again_and_has_its_pages_catch_up(
    redis_url: str, background: Background
) -> None:
    topic = room_topic(int(uuid.uuid4().int % 1_000_000_000))
    connections = 0
    reconnected = asyncio.Event()

    async def catch_up_pages() -> None:
        nonlocal connections
        connections += 1
        if connections == 2:
            reconnected.set()

    backend = RedisBackend(redis_url)
    receiving = Hub(backend, on_connected=catch_up_pages)
    publishing = Hub(RedisBackend(redis_url))
    running = background.start(receiving.run())
    background.start(publishing.run())
    sent = Broadcast(MessagePosted(1, 8, 3), seq=2, message_id=8)

    async with receiving.subscribe(topic) as subscription:
        await cut_off(redis_url, backend)
        async with asyncio.timeout(TIMEOUT_S):
            await reconnected.wait()
        await publishing.publish(topic, sent)

        async with asyncio.timeout(TIMEOUT_S):
            batch = await next_batch(subscription)

    assert batch == [sent]
    assert not running.done(), "the dispatcher took the outage for a crash"


async def test_publishing_through_a_redis_backend_not_connected_is_refused_at_once(
    redis_url: str,
) -> None:
    backend = RedisBackend(redis_url)

    with pytest.raises(BackendUnreachable, match="not connected"):
        await backend.publish(a_topic(), b"lost")
