"""The Hub: what is published on a topic reaches that topic's subscribers, in order, and a
subscriber that falls too far behind is cut off without holding anyone else back."""

from __future__ import annotations

import asyncio

import pytest

from livechat.chat.notifications import Alerts
from livechat.realtime.backends.base import BackendUnreachable
from livechat.realtime.backends.memory import MemoryBackend
from livechat.realtime.events import (
    AlertsChanged,
    MessagePosted,
    OnlineCounted,
    RoomClosed,
    RoomReached,
    RoomRestarting,
    SignedOut,
)
from livechat.realtime.hub import (
    Broadcast,
    Hub,
    Revocation,
    Subscription,
    membership_topic,
    presence_topic,
    room_topic,
)
from tests.helpers import next_batch
from tests.realtime.conftest import Background

ROOM = room_topic(1)
OTHER_ROOM = room_topic(2)


async def running_hub(background: Background, *, queue_size: int = 256) -> Hub:
    hub = Hub(MemoryBackend(), queue_size=queue_size)
    background.start(hub.run())
    return hub


@pytest.fixture
async def hub(background: Background) -> Hub:
    return await running_hub(background)


async def receive(subscription: Subscription, count: int = 1) -> list[object] | None:
    """The next ``count`` items, however the hub batched them; None once it fell behind."""
    items: list[object] = []
    async with asyncio.timeout(2):
        while len(items) < count:
            batch = await next_batch(subscription)
            if batch is None:
                return None
            items += batch
    assert len(items) == count, f"more than {count} came: {items}"
    return items


def message(n: int) -> Broadcast:
    return Broadcast(MessagePosted(room_id=1, message_id=n, author_id=3), seq=n)


async def test_a_subscriber_receives_what_is_published_on_its_topics_only(hub: Hub) -> None:
    async with hub.subscribe(ROOM, presence_topic(1)) as subscription:
        await hub.publish(
            OTHER_ROOM, Broadcast(MessagePosted(room_id=2, message_id=1, author_id=3), seq=1)
        )
        await hub.publish(ROOM, message(1))
        await hub.publish(presence_topic(1), Broadcast(OnlineCounted(1, 4)))

        # Had the other room's broadcast been delivered, it would have come first.
        assert await receive(subscription, 2) == [message(1), Broadcast(OnlineCounted(1, 4))]


async def test_one_broadcast_reaches_every_subscriber_of_its_topic(hub: Hub) -> None:
    async with hub.subscribe(ROOM) as first, hub.subscribe(ROOM) as second:
        await hub.publish(ROOM, message(1))

        assert await receive(first) == [message(1)]
        assert await receive(second) == [message(1)]


async def test_broadcasts_arrive_in_the_order_they_were_published(hub: Hub) -> None:
    async with hub.subscribe(ROOM) as subscription:
        for n in range(1, 6):
            await hub.publish(ROOM, message(n))

        assert await receive(subscription, 5) == [message(n) for n in range(1, 6)]


async def test_what_arrived_while_the_writer_was_busy_is_taken_at_once_in_order(hub: Hub) -> None:
    async with hub.subscribe(ROOM) as busy, hub.subscribe(ROOM) as watcher:
        for n in range(1, 4):
            await hub.publish(ROOM, message(n))
        await receive(watcher, 3)  # the hub has handed all three over by now

        async with asyncio.timeout(2):
            assert await next_batch(busy) == [message(1), message(2), message(3)]


async def test_a_subscriber_that_falls_behind_is_cut_off_while_others_keep_receiving(
    background: Background,
) -> None:
    hub = await running_hub(background, queue_size=2)
    async with hub.subscribe(ROOM) as slow, hub.subscribe(ROOM) as healthy:
        for n in range(1, 4):  # one more than the slow subscriber's queue holds
            await hub.publish(ROOM, message(n))
            assert await receive(healthy) == [message(n)]

        assert slow.overflowed
        assert await receive(slow) is None  # what it had queued is dropped: it must resync

        await hub.publish(ROOM, message(4))
        assert await receive(healthy) == [message(4)]


async def test_leaving_the_subscription_unsubscribes(hub: Hub) -> None:
    assert hub.subscriber_count(ROOM) == 0

    async with hub.subscribe(ROOM, OTHER_ROOM):
        async with hub.subscribe(ROOM):
            assert hub.subscriber_count(ROOM) == 2
            assert hub.subscriber_count(OTHER_ROOM) == 1
        assert hub.subscriber_count(ROOM) == 1

    assert hub.subscriber_count(ROOM) == 0
    assert hub.subscriber_count(OTHER_ROOM) == 0


async def test_a_topic_followed_later_delivers_from_then_on_and_is_left_with_the_rest(
    hub: Hub,
) -> None:
    async with hub.subscribe(ROOM) as subscription:
        await hub.publish(OTHER_ROOM, message(1))  # not followed yet: never delivered
        await hub.publish(ROOM, message(2))
        assert await receive(subscription) == [message(2)]  # so the first has gone by

        await subscription.follow(OTHER_ROOM, ROOM)
        await hub.publish(OTHER_ROOM, message(3))
        await hub.publish(ROOM, message(4))

        assert await receive(subscription, count=2) == [message(3), message(4)]
        assert hub.subscriber_count(ROOM) == 1  # following it again changed nothing
        assert hub.subscriber_count(OTHER_ROOM) == 1

    assert hub.subscriber_count(OTHER_ROOM) == 0


async def test_a_subscription_whose_body_raises_still_unsubscribes(hub: Hub) -> None:
    counted: list[int] = []

    async def a_connection_that_drops() -> None:
        async with hub.subscribe(ROOM):
            counted.append(hub.subscriber_count(ROOM))
            raise ConnectionResetError("the client went away")

    with pytest.raises(ConnectionResetError, match="went away"):
        await a_connection_that_drops()

    assert counted == [1]
    assert hub.subscriber_count(ROOM) == 0


async def test_a_topic_everyone_left_delivers_again_once_someone_subscribes(hub: Hub) -> None:
    async with hub.subscribe(ROOM) as first:
        await hub.publish(ROOM, message(1))
        assert await receive(first) == [message(1)]

    async with hub.subscribe(ROOM) as second:
        await hub.publish(ROOM, message(2))

        assert await receive(second) == [message(2)]


@pytest.mark.parametrize(
    "broadcast",
    [
        Broadcast(MessagePosted(1, 7, 3), seq=42, message_id=7, room_id=1, author_id=3),
        Broadcast(OnlineCounted(1, 12)),
        Broadcast(RoomClosed(1, 'Room "A & B" was deleted…'), close=1008),
        Broadcast(RoomRestarting(1), close=1013),
        Broadcast(SignedOut("Signed out."), close=1008, revokes=Revocation(keep="a1b2")),
        Broadcast(RoomReached(1, 43), seq=43, sync=True),
        Broadcast(AlertsChanged(Alerts({1: 2, 5: 1})), alerts=3, room_id=1, message_id=7),
    ],
)
def test_a_broadcast_survives_encoding_and_decoding(broadcast: Broadcast) -> None:
    assert Broadcast.decode(broadcast.encode()) == broadcast


@pytest.mark.parametrize(
    ("revocation", "signed_out"),
    [
        (Revocation(), {"this", "that", "another"}),
        (Revocation(only="this"), {"this"}),
        (Revocation(keep="this"), {"that", "another"}),
    ],
)
def test_a_revocation_covers_one_session_all_but_one_or_all(
    revocation: Revocation, signed_out: set[str]
) -> None:
    assert {s for s in ("this", "that", "another") if revocation.covers(s)} == signed_out


def test_a_rooms_messages_presence_and_members_have_distinct_topics() -> None:
    topics = {room_topic(1), room_topic(2), presence_topic(1), membership_topic(1, 5)}

    assert len(topics) == 4
    assert membership_topic(1, 5) != membership_topic(1, 6)


async def test_what_a_subscriber_that_fell_behind_never_got_is_reported_dropped(
    background: Background,
) -> None:
    dropped: list[int] = []
    hub = Hub(MemoryBackend(), queue_size=2, on_drop=dropped.append)
    background.start(hub.run())
    async with hub.subscribe(ROOM) as slow, hub.subscribe(ROOM) as healthy:
        for n in range(1, 5):  # two queued, the third overflows, the fourth comes too late
            await hub.publish(ROOM, message(n))
            assert await receive(healthy) == [message(n)]

        assert slow.overflowed
    assert sum(dropped) == 4


async def test_a_subscription_made_while_the_hub_starts_is_live_once_it_runs(
    background: Background,
) -> None:
    hub = Hub(MemoryBackend())
    entered = asyncio.Event()

    async def subscribe_and_receive() -> list[object] | None:
        async with hub.subscribe(ROOM) as subscription:
            entered.set()
            return await receive(subscription)

    receiving = asyncio.create_task(subscribe_and_receive())
    await asyncio.sleep(0)
    assert not entered.is_set()  # it waits for the dispatcher
    background.start(hub.run())
    async with asyncio.timeout(2):
        await entered.wait()
    await hub.publish(ROOM, message(1))

    assert await receiving == [message(1)]


async def test_a_subscription_cut_short_while_it_waits_leaves_no_subscriber_behind() -> None:
    hub = Hub(MemoryBackend())  # never run: a join waits for it
    subscribing = asyncio.create_task(hub.subscribe(ROOM).__aenter__())
    await asyncio.sleep(0)
    assert hub.subscriber_count(ROOM) == 1

    subscribing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await subscribing

    assert hub.subscriber_count(ROOM) == 0


class _CutOff(MemoryBackend):
    """A backend whose way to the other processes is down."""

    async def publish(self, topic: str, payload: bytes) -> None:
        raise BackendUnreachable("down")


async def test_an_event_that_cannot_reach_other_processes_still_reaches_this_ones(
    background: Background,
) -> None:
    hub = Hub(_CutOff())
    background.start(hub.run())

    async with hub.subscribe(room_topic(7)) as subscription:
        await hub.publish(room_topic(7), message(1))

        async with asyncio.timeout(1):
            assert await next_batch(subscription) == [message(1)]


class _LostWhileFollowing(MemoryBackend):
    """A backend that loses the other processes as a topic is followed, and finds them
    again at once."""

    def __init__(self) -> None:
        super().__init__()
        self.refused = False
        self.subscribed_again = asyncio.Event()
        self._cut = False

    async def subscribe(self, topic: str) -> None:
        if topic != OTHER_ROOM:
            return
        if self.refused:
            self.subscribed_again.set()
            return
        self.refused = self._cut = True
        await self.publish("wake the dispatcher", b"")
        raise BackendUnreachable("down")

    async def next_published(self) -> tuple[str, bytes]:
        published = await super().next_published()
        if self._cut:
            self._cut = False
            raise BackendUnreachable("down")
        return published


async def test_a_topic_followed_while_the_other_processes_are_lost_is_subscribed_once_back(
    background: Background,
) -> None:
    backend = _LostWhileFollowing()
    hub = Hub(backend)
    background.start(hub.run())

    async with hub.subscribe(ROOM) as subscription:
        await subscription.follow(OTHER_ROOM)  # the connection lives on
        assert backend.refused

        async with asyncio.timeout(2):
            await backend.subscribed_again.wait()
        await hub.publish(OTHER_ROOM, message(1))
        assert await receive(subscription) == [message(1)]
