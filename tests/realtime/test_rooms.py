"""RoomServers and the RoomSupervisor, against a real database: posting and deleting are
stored, rate limited and published once; the newest page is kept current; an idle server
stops; ``server_for`` finds a room's running server or starts one."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import pytest
from sqlalchemy import func, select

from livechat.accounts.models import User
from livechat.chat import messages, rooms
from livechat.chat.models import Message, Room
from livechat.db import Database
from livechat.errors import Forbidden, RateLimited, Unavailable
from livechat.realtime.actor import ActorStopped, Tick
from livechat.realtime.backends.memory import MemoryBackend
from livechat.realtime.events import MessageChanged, MessageCreated, RoomClosed
from livechat.realtime.hub import Broadcast, Hub, Subscription, room_topic
from livechat.realtime.rate_limiter import RateLimiter
from livechat.realtime.rooms import (
    FIRST_REST_SECONDS,
    FORGIVE_SECONDS,
    RoomRequest,
    RoomServer,
    RoomSupervisor,
)
from livechat.realtime.supervisor import Supervisor
from tests.helpers import next_batch
from tests.realtime.conftest import Background, FakeClock

IDLE_SECONDS = 60.0


@pytest.fixture
async def room(db: Database, alice: User) -> Room:
    return await rooms.create_room(db, alice, name="General")


@pytest.fixture
async def hub(background: Background) -> Hub:
    hub = Hub(MemoryBackend())
    background.start(hub.run())
    return hub


@pytest.fixture
async def rate_limiter(background: Background, clock: FakeClock) -> RateLimiter:
    limiter = RateLimiter(refill_seconds=None, clock=clock)  # no refill unless a test ticks
    background.start(limiter.run())
    return limiter


def new_server(
    db: Database,
    hub: Hub,
    rate_limiter: RateLimiter,
    clock: FakeClock,
    room_id: int,
    idled: list[RoomServer] | None = None,
    connections: Callable[[], int] = lambda: 0,
) -> RoomServer:
    on_idle = idled.append if idled is not None else (lambda _server: None)
    return RoomServer(
        room_id,
        db=db,
        hub=hub,
        rate_limiter=rate_limiter,
        uploads_dir=Path(tempfile.gettempdir()) / "livechat-room-tests",
        idle_seconds=IDLE_SECONDS,
        idle_check_seconds=None,  # the test sends every idle check as a Tick
        connections=connections,
        on_idle=on_idle,
        clock=clock,
    )


@pytest.fixture
async def room_supervisor(
    db: Database,
    background: Background,
    hub: Hub,
    rate_limiter: RateLimiter,
    clock: FakeClock,
) -> RoomSupervisor:
    """Wired as the application's tree wires it: transient RoomServers under a supervisor."""
    supervisor = Supervisor("rooms", clock=clock)
    background.start(supervisor.run())
    async with asyncio.timeout(2):
        await supervisor.wait_started()
    return RoomSupervisor(
        supervisor, lambda room_id: new_server(db, hub, rate_limiter, clock, room_id)
    )


@pytest.fixture
def server(room_supervisor: RoomSupervisor, room: Room) -> RoomServer:
    return room_supervisor.server_for(room.id)


async def published(hub: Hub, subscription: Subscription, topic: str) -> list[object]:
    """Everything published on ``topic`` so far that ``subscription`` has not received yet:
    a marker goes out last, and the hub keeps order, so what comes before it is the rest."""
    marker = Broadcast(RoomClosed(0, "marker"))
    await hub.publish(topic, marker)
    received: list[object] = []
    async with asyncio.timeout(2):
        while marker not in received:
            batch = await next_batch(subscription)
            assert batch is not None, "the subscription fell behind"
            received += batch
    return received[: received.index(marker)]


async def stored_count(db: Database, room: Room) -> int:
    async with db.read() as session:
        count = await session.scalar(
            select(func.count()).select_from(Message).where(Message.room_id == room.id)
        )
    assert count is not None
    return count


# Posting


async def test_a_post_is_stored_and_published_once_as_an_event_with_its_seq(
    db: Database, alice: User, room: Room, hub: Hub, server: RoomServer
) -> None:
    async with hub.subscribe(room_topic(room.id)) as subscription:
        posted = await server.post(alice, "<b>Hi</b> & welcome", "msg-1")

        [broadcast] = await published(hub, subscription, room_topic(room.id))

    assert posted.created
    page = await messages.latest_page(db, alice.id, room.id)
    assert [(m.id, m.body) for m in page.messages] == [(posted.message.id, "<b>Hi</b> & welcome")]
    assert isinstance(broadcast, Broadcast)
    assert broadcast.seq == posted.message.seq
    assert isinstance(broadcast.event, MessageCreated)
    assert broadcast.event.message.id == posted.message.id
    assert broadcast.event.message.body == "<b>Hi</b> & welcome"
    assert broadcast.html == ""  # what it looks like is each process's to render


async def test_a_post_repeated_with_the_same_client_msg_id_is_stored_and_published_once(
    db: Database, alice: User, room: Room, hub: Hub, server: RoomServer
) -> None:
    async with hub.subscribe(room_topic(room.id)) as subscription:
        first = await server.post(alice, "Hello", "msg-1")
        again = await server.post(alice, "Hello", "msg-1")

        broadcasts = await published(hub, subscription, room_topic(room.id))

    assert first.created
    assert not again.created
    assert again.message.id == first.message.id
    assert await stored_count(db, room) == 1
    assert len(broadcasts) == 1


async def test_the_eleventh_quick_post_is_refused_as_too_fast_and_stores_nothing(
    db: Database, alice: User, room: Room, hub: Hub, server: RoomServer
) -> None:
    async with hub.subscribe(room_topic(room.id)) as subscription:
        for n in range(10):
            await server.post(alice, f"message {n}", None)

        with pytest.raises(RateLimited, match="too fast") as refused:
            await server.post(alice, "one too many", None)

        broadcasts = await published(hub, subscription, room_topic(room.id))

    assert refused.value.retry_after_ms == 1000  # no time has passed since the last refill
    assert refused.value.retry_after_seconds == 1
    assert await stored_count(db, room) == 10
    assert len(broadcasts) == 10


async def test_a_refused_post_leaves_the_room_with_a_working_server(
    alice: User, room: Room, room_supervisor: RoomSupervisor, server: RoomServer
) -> None:
    for n in range(10):
        await server.post(alice, f"message {n}", None)
    with pytest.raises(RateLimited):
        await server.post(alice, "one too many", None)

    assert room_supervisor.server_for(room.id) is server
    async with asyncio.timeout(2):
        page = await server.recent(alice)
    assert [m.body for m in page.messages] == [f"message {n}" for n in range(10)]


async def test_a_post_the_rate_limiter_cannot_answer_is_refused_and_the_room_carries_on(
    db: Database,
    alice: User,
    room: Room,
    rate_limiter: RateLimiter,
    room_supervisor: RoomSupervisor,
    server: RoomServer,
) -> None:
    """The limiter is shared by every room: its trouble is a refusal in each, not a crash."""
    rate_limiter.abandon()

    with pytest.raises(Unavailable, match="busy"):
        await server.post(alice, "not now", None)

    assert room_supervisor.server_for(room.id) is server
    async with asyncio.timeout(2):
        assert (await server.recent(alice)).messages == []
    assert await stored_count(db, room) == 0


async def test_someone_flooding_one_room_does_not_stop_the_servers_of_other_rooms(
    db: Database,
    alice: User,
    bob: User,
    room: Room,
    room_supervisor: RoomSupervisor,
    background: Background,
) -> None:
    quiet_room = await rooms.create_room(db, bob, name="Quiet corner")
    quiet = room_supervisor.server_for(quiet_room.id)
    flooded = room_supervisor.server_for(room.id)
    for n in range(10):
        await flooded.post(alice, f"message {n}", None)

    for _ in range(4):  # a few seconds of someone holding down Enter
        with pytest.raises(RateLimited):
            await room_supervisor.server_for(room.id).post(alice, "spam", None)

    answer = background.start(quiet.recent(bob))
    done, _ = await asyncio.wait({answer}, timeout=2)
    assert answer in done, "the quiet room's server was stopped along with the flooded one"
    assert answer.result().messages == []
    assert room_supervisor.running() == sorted([room.id, quiet_room.id])


# The newest page and deleting


async def test_recent_returns_the_newest_page_and_keeps_up_with_the_servers_own_changes(
    db: Database, alice: User, room: Room, server: RoomServer
) -> None:
    before = await messages.create_message(db, alice, room.id, "Posted before the server ran")

    first = await server.recent(alice)
    assert [m.id for m in first.messages] == [before.message.id]
    assert first.cursor == messages.Cursor(before.message.seq, before.message.id)

    posted = await server.post(alice, "Through the server", None)
    after_post = await server.recent(alice)
    assert [m.id for m in after_post.messages] == [before.message.id, posted.message.id]

    deleted = (await server.delete(alice, before.message.id)).message
    after_delete = await server.recent(alice)
    assert [m.id for m in after_delete.messages] == [posted.message.id]
    assert after_delete.cursor == messages.Cursor(deleted.seq, posted.message.id)

    from_database = await messages.latest_page(db, alice.id, room.id)
    assert [m.id for m in from_database.messages] == [m.id for m in after_delete.messages]
    assert from_database.cursor == after_delete.cursor


async def test_recent_leaves_out_no_message_another_process_stored_meanwhile(
    db: Database, alice: User, room: Room, server: RoomServer
) -> None:
    await server.recent(alice)  # cached
    elsewhere = await messages.create_message(db, alice, room.id, "Through another process")

    posted = await server.post(alice, "Through this one", None)

    page = await server.recent(alice)
    assert [m.id for m in page.messages] == [elsewhere.message.id, posted.message.id]
    assert page.cursor == messages.Cursor(posted.message.seq, posted.message.id)


async def test_a_delete_is_stored_and_publishes_one_broadcast_removing_the_message(
    db: Database, alice: User, room: Room, hub: Hub, server: RoomServer
) -> None:
    posted = await server.post(alice, "Oops, wrong room", None)
    async with hub.subscribe(room_topic(room.id)) as subscription:
        deleted = (await server.delete(alice, posted.message.id)).message

        [broadcast] = await published(hub, subscription, room_topic(room.id))

    assert deleted.is_deleted
    assert (await messages.latest_page(db, alice.id, room.id)).messages == []
    assert isinstance(broadcast, Broadcast)
    assert broadcast.seq == deleted.seq > posted.message.seq
    assert isinstance(broadcast.event, MessageChanged)
    assert broadcast.event.message.id == posted.message.id
    assert broadcast.event.message.is_deleted
    assert "Oops" not in broadcast.event.message.body


async def test_deleting_spends_the_same_tokens_as_posting(
    db: Database, alice: User, room: Room, server: RoomServer
) -> None:
    posted = [await server.post(alice, f"message {n}", None) for n in range(9)]
    await server.delete(alice, posted[0].message.id)  # the tenth token

    with pytest.raises(RateLimited, match="deleting messages too fast"):
        await server.delete(alice, posted[1].message.id)
    with pytest.raises(RateLimited, match="sending messages too fast"):
        await server.post(alice, "one more", None)

    assert len((await messages.latest_page(db, alice.id, room.id)).messages) == 8


async def test_deleting_someone_elses_message_is_forbidden_and_publishes_nothing(
    db: Database, alice: User, bob: User, room: Room, hub: Hub, server: RoomServer
) -> None:
    await rooms.join_room(db, bob, room.slug)
    posted = await server.post(alice, "Mine", None)
    async with hub.subscribe(room_topic(room.id)) as subscription:
        with pytest.raises(Forbidden):
            await server.delete(bob, posted.message.id)

        broadcasts = await published(hub, subscription, room_topic(room.id))

    assert broadcasts == []
    page = await messages.latest_page(db, alice.id, room.id)
    assert [m.id for m in page.messages] == [posted.message.id]


# Stopping when idle


async def test_a_server_without_connections_stops_once_idle_seconds_have_passed(
    db: Database,
    alice: User,
    room: Room,
    hub: Hub,
    rate_limiter: RateLimiter,
    clock: FakeClock,
    background: Background,
) -> None:
    idled: list[RoomServer] = []
    server = new_server(db, hub, rate_limiter, clock, room.id, idled)
    task = background.start(server.run())

    clock.advance(IDLE_SECONDS - 0.1)
    server.cast(Tick())
    await server.recent(alice)  # still answering: the check before it did not stop it
    assert idled == []

    clock.advance(0.1)
    server.cast(Tick())
    async with asyncio.timeout(2):
        await task  # run() returns: a normal exit, which its supervisor does not restart

    assert idled == [server]
    with pytest.raises(ActorStopped):
        await server.recent(alice)


async def test_a_server_with_a_connection_stays_however_long_and_idles_from_the_disconnection(
    db: Database,
    alice: User,
    room: Room,
    hub: Hub,
    rate_limiter: RateLimiter,
    clock: FakeClock,
    background: Background,
) -> None:
    idled: list[RoomServer] = []
    pages = [1]
    server = new_server(db, hub, rate_limiter, clock, room.id, idled, lambda: pages[0])
    task = background.start(server.run())

    clock.advance(10 * IDLE_SECONDS)
    server.cast(Tick())
    await server.recent(alice)
    assert idled == []

    pages[0] = 0
    clock.advance(IDLE_SECONDS - 0.1)
    server.cast(Tick())
    await server.recent(alice)
    assert idled == []

    clock.advance(0.1)
    server.cast(Tick())
    async with asyncio.timeout(2):
        await task
    assert idled == [server]


# Finding a room's server


async def test_server_for_returns_the_running_server_of_a_room(
    alice: User, room: Room, room_supervisor: RoomSupervisor
) -> None:
    server = room_supervisor.server_for(room.id)

    assert room_supervisor.server_for(room.id) is server
    assert server.room_id == room.id
    assert room_supervisor.running() == [room.id]
    assert (await server.recent(alice)).messages == []  # it is running: it answers


async def test_server_for_starts_a_server_for_a_room_that_has_none(
    db: Database, alice: User, room: Room, room_supervisor: RoomSupervisor
) -> None:
    other_room = await rooms.create_room(db, alice, name="Random")
    first = room_supervisor.server_for(room.id)

    second = room_supervisor.server_for(other_room.id)

    assert second is not first
    assert second.room_id == other_room.id
    assert room_supervisor.running() == sorted([room.id, other_room.id])
    await messages.create_message(db, alice, other_room.id, "Hello")
    assert [m.body for m in (await second.recent(alice)).messages] == ["Hello"]


async def test_once_a_server_stops_server_for_starts_a_fresh_one(
    alice: User, room: Room, room_supervisor: RoomSupervisor, clock: FakeClock
) -> None:
    stopped = room_supervisor.server_for(room.id)
    clock.advance(IDLE_SECONDS)
    stopped.cast(Tick())
    with pytest.raises(ActorStopped):  # queued behind the idle check that stopped it
        await stopped.recent(alice)

    fresh = room_supervisor.server_for(room.id)

    assert fresh is not stopped
    assert room_supervisor.running() == [room.id]
    async with asyncio.timeout(2):
        assert (await fresh.recent(alice)).messages == []


# A room whose server keeps crashing


class Fault(RuntimeError):
    """The crash a faulty room's server suffers on every request."""


class FaultyServer(RoomServer):
    async def handle(self, request: RoomRequest) -> NoReturn:
        raise Fault(f"room {self.room_id} is broken")


@pytest.fixture
async def faulty(
    db: Database,
    alice: User,
    background: Background,
    hub: Hub,
    rate_limiter: RateLimiter,
    clock: FakeClock,
) -> tuple[RoomSupervisor, Room, list[int]]:
    """A RoomSupervisor whose servers for one room, "Broken", crash at every request; and
    the rooms it gave up on, in order."""
    broken = await rooms.create_room(db, alice, name="Broken")
    given_up: list[int] = []

    def start(room_id: int) -> RoomServer:
        kind = FaultyServer if room_id == broken.id else RoomServer
        return kind(
            room_id,
            db=db,
            hub=hub,
            rate_limiter=rate_limiter,
            uploads_dir=Path(tempfile.gettempdir()) / "livechat-room-tests",
            idle_check_seconds=None,
            clock=clock,
        )

    async def give_up(room_id: int) -> None:
        given_up.append(room_id)

    supervisor = Supervisor("rooms", clock=clock)
    background.start(supervisor.run())
    async with asyncio.timeout(2):
        await supervisor.wait_started()
    return RoomSupervisor(supervisor, start, on_give_up=give_up, clock=clock), broken, given_up


async def crash_until_given_up(room_supervisor: RoomSupervisor, room: Room, alice: User) -> int:
    """Send requests to the room until its server is given up on; how many crashed."""
    crashes = 0
    while room.id in room_supervisor.running() or crashes == 0:
        with pytest.raises((Fault, ActorStopped)):
            async with asyncio.timeout(2):
                await room_supervisor.server_for(room.id).recent(alice)
        crashes += 1
    return crashes


async def test_a_room_that_keeps_crashing_is_given_up_on_alone(
    alice: User, room: Room, faulty: tuple[RoomSupervisor, Room, list[int]]
) -> None:
    room_supervisor, broken, given_up = faulty
    healthy = room_supervisor.server_for(room.id)

    crashes = await crash_until_given_up(room_supervisor, broken, alice)

    assert crashes == 4  # the first run and three restarts
    assert given_up == [broken.id]
    assert room_supervisor.running() == [room.id]
    assert room_supervisor.resting() == [broken.id]
    async with asyncio.timeout(2):
        assert (await healthy.recent(alice)).messages == []  # untouched: same server, running
    assert room_supervisor.server_for(room.id) is healthy


async def test_a_resting_room_refuses_with_the_wait_then_gets_a_new_server(
    alice: User, clock: FakeClock, faulty: tuple[RoomSupervisor, Room, list[int]]
) -> None:
    room_supervisor, broken, _given_up = faulty
    await crash_until_given_up(room_supervisor, broken, alice)

    with pytest.raises(Unavailable, match="restarting; try again in 1 s") as refused:
        room_supervisor.server_for(broken.id)
    assert refused.value.retry_after_seconds == 1

    clock.advance(FIRST_REST_SECONDS)
    assert room_supervisor.server_for(broken.id).room_id == broken.id
    assert room_supervisor.running() == [broken.id]


async def test_each_give_up_soon_after_the_last_doubles_the_rest_until_forgiven(
    alice: User, clock: FakeClock, faulty: tuple[RoomSupervisor, Room, list[int]]
) -> None:
    room_supervisor, broken, _given_up = faulty
    rests = []
    for _ in range(7):
        await crash_until_given_up(room_supervisor, broken, alice)
        with pytest.raises(Unavailable) as refused:
            room_supervisor.server_for(broken.id)
        rests.append(refused.value.retry_after_seconds)
        clock.advance(refused.value.retry_after_seconds)

    assert rests == [1, 2, 4, 8, 16, 30, 30]

    clock.advance(FORGIVE_SECONDS)
    await crash_until_given_up(room_supervisor, broken, alice)
    with pytest.raises(Unavailable, match="in 1 s"):
        room_supervisor.server_for(broken.id)
