"""Faults inside the server, seen from real pages on a real uvicorn: a crash stays in its
room, a crashed Presence forgets no one, and the pages are told what is going on."""

from __future__ import annotations

import asyncio
import logging
import uuid

import pytest
from starlette.status import WS_1013_TRY_AGAIN_LATER

from livechat.accounts.auth import Accounts
from livechat.accounts.models import User
from livechat.chat import messages, rooms
from livechat.chat.models import Message, Room
from livechat.db import BUSY, Database
from livechat.errors import Unavailable
from livechat.realtime import broadcasts
from livechat.realtime.actor import ActorBusy
from livechat.realtime.hub import Broadcast
from livechat.realtime.presence import Presence, PresenceRequest, StoppedTyping
from livechat.realtime.rooms import RoomRequest, RoomServer
from livechat.web import room_socket
from tests.live import FRAME_TIMEOUT_S, LiveServer, room_page, session_cookie, socket_client


class Fault(RuntimeError):
    """A bug, as far as the server can tell."""


def break_room(monkeypatch: pytest.MonkeyPatch, room: Room) -> None:
    """Every server of ``room`` crashes at every request, from now on."""
    handle = RoomServer.handle

    async def faulty(server: RoomServer, request: RoomRequest) -> object:
        if server.room_id == room.id:
            raise Fault(f"room {room.id} is broken")
        return await handle(server, request)

    monkeypatch.setattr(RoomServer, "handle", faulty)


async def test_a_room_that_keeps_crashing_restarts_alone_and_its_pages_reconnect(
    server: LiveServer,
    db: Database,
    general: Room,
    alice: User,
    bob: User,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    elsewhere = await rooms.create_room(db, bob, name="Elsewhere")
    async with (
        room_page(server, alice, general) as alice_page,
        room_page(server, bob, general) as bob_page,
        room_page(server, bob, elsewhere) as bob_elsewhere,
    ):
        break_room(monkeypatch, general)
        for attempt in range(4):  # the first run and three restarts
            await alice_page.say(f"attempt {attempt}")
            await alice_page.expect("Something went wrong on our side")

        for general_page in (alice_page, bob_page):
            restarting = await general_page.expect("restarting")
            assert "Reconnecting" in restarting
            code, _ = await general_page.expect_closed()
            assert code == WS_1013_TRY_AGAIN_LATER  # htmx reconnects by itself

        await bob_elsewhere.say("unaffected")
        await bob_elsewhere.expect("unaffected")
        assert server.realtime.rooms.running() == [elsewhere.id]
        assert server.realtime.rooms.resting() == [general.id]
        assert server.fatal == []

    # Reconnecting works while the room rests; sending says how long to wait.
    async with room_page(server, alice, general) as alice_page:
        await alice_page.say("too soon")
        await alice_page.expect("restarting; try again in 1 s")


async def test_a_crashed_presence_forgets_no_one_and_resends_every_sidebar(
    server: LiveServer, general: Room, alice: User, bob: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with room_page(server, alice, general) as alice_page:
        async with room_page(server, bob, general) as bob_page:
            await alice_page.expect("2 online")
            typing = Presence._typing

            def crash_once(presence: Presence, room_id: int, user_id: int) -> None:
                monkeypatch.setattr(Presence, "_typing", typing)
                raise Fault("a bug in typing")

            monkeypatch.setattr(Presence, "_typing", crash_once)
            await bob_page.send("message-body", body="Hel")

            resent = await alice_page.expect(lambda html: 'id="presence"' in html)
            assert f'id="presence-user-{alice.id}"' in resent
            assert f'id="presence-user-{bob.id}"' in resent
            assert "2 online" in resent
        await alice_page.expect("1 online")  # the restarted Presence saw Bob go
    assert server.fatal == []


async def test_a_message_stored_by_a_server_that_crashed_before_publishing_still_arrives(
    server: LiveServer,
    db: Database,
    general: Room,
    alice: User,
    bob: User,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with (
        room_page(server, alice, general) as alice_page,
        room_page(server, bob, general) as bob_page,
    ):
        render = broadcasts.message_created

        def crash_once(message: Message) -> Broadcast:
            monkeypatch.setattr(broadcasts, "message_created", render)
            raise Fault("publishing failed after the message was stored")

        monkeypatch.setattr(broadcasts, "message_created", crash_once)
        key = uuid.uuid4().hex
        await alice_page.say("stored, then the crash", key)
        await alice_page.expect("Something went wrong on our side")

        # The restarted server tells the pages where the room stands; Bob's catches up.
        await bob_page.expect("stored, then the crash")
        # Alice's page sends it again, as she would: the same message, acknowledged.
        await alice_page.say("stored, then the crash", key)
        await alice_page.expect('id="message-form"')
        await alice_page.say("and the room goes on")
        for page in (alice_page, bob_page):
            await page.expect("and the room goes on")

    stored = [m.id for m in (await messages.history(db, bob, general.slug)).messages]
    for page in (alice_page, bob_page):
        shown = page.messages()
        assert shown.doubled == []
        assert shown.ids == stored
    assert server.fatal == []


async def test_a_stored_message_is_acknowledged_even_when_presence_cannot_take_the_typing_stop(
    server: LiveServer,
    general: Room,
    alice: User,
    bob: User,
    db: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    presence = server.realtime.presence
    cast = presence.cast

    def overloaded(request: PresenceRequest) -> None:
        if isinstance(request, StoppedTyping):
            raise ActorBusy("presence is overloaded")
        cast(request)

    async with (
        room_page(server, alice, general) as alice_page,
        room_page(server, bob, general) as bob_page,
    ):
        monkeypatch.setattr(presence, "cast", overloaded)
        await alice_page.say("stored all the same")

        await alice_page.expect('id="message-form"')
        await bob_page.expect("stored all the same")
        assert not any("went wrong" in frame for frame in alice_page.seen)

    assert [m.body for m in (await messages.history(db, alice, general.slug)).messages] == [
        "stored all the same"
    ]


async def test_a_send_to_a_saturated_room_is_refused_with_when_to_try_again_and_nothing_stored(
    server: LiveServer,
    general: Room,
    alice: User,
    db: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def saturated(server: RoomServer, request: RoomRequest) -> object:
        raise ActorBusy(f"room-{server.room_id} is overloaded", retry_after_s=3)

    async with room_page(server, alice, general) as alice_page:
        monkeypatch.setattr(RoomServer, "call", saturated)
        await alice_page.say("come back later")

        refusal = await alice_page.expect("flash-error")
        assert "busy right now; try again in 3 s" in refusal
        # The composer is not reset: the text stays in it, to send again.
        assert not any('id="message-form"' in frame for frame in alice_page.seen)

    assert (await messages.history(db, alice, general.slug)).messages == []


async def test_a_send_to_a_saturated_room_is_refused_before_its_session_is_read(
    server: LiveServer, general: Room, alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Shedding is only worth it if a refusal costs less than the work it refuses."""

    def saturated(server: RoomServer) -> None:
        raise ActorBusy(f"room-{server.room_id} is overloaded", retry_after_s=2)

    async with room_page(server, alice, general) as alice_page:
        reads: list[str | None] = []
        user_for_token = Accounts.user_for_token

        async def counted(accounts: Accounts, token: str | None) -> User | None:
            reads.append(token)
            return await user_for_token(accounts, token)

        monkeypatch.setattr(Accounts, "user_for_token", counted)
        monkeypatch.setattr(RoomServer, "refuse_if_busy", saturated)
        await alice_page.say("come back later")

        refusal = await alice_page.expect("flash-error")
        assert "busy right now; try again in 2 s" in refusal
    assert reads == []


async def test_a_bug_in_showing_a_message_to_one_page_closes_that_page_alone(
    server: LiveServer,
    general: Room,
    alice: User,
    bob: User,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A page is sent a broadcast right in the publisher's call: a bug there must end
    # that page's connection, not the delivery to the rest of the room.
    apply = room_socket._apply

    def failing_for_bob(
        connection: room_socket.Connection, event: Broadcast, out: list[str | Broadcast]
    ) -> tuple[int, str] | bool:
        if connection.user_id == bob.id and event.message_id is not None:
            raise RuntimeError("a bug in showing a message")
        return apply(connection, event, out)

    async with (
        room_page(server, alice, general) as alice_page,
        room_page(server, bob, general) as bob_page,
    ):
        monkeypatch.setattr(room_socket, "_apply", failing_for_bob)
        await alice_page.say("Before the bug bites")

        # uvicorn drops the connection of an app that failed, as it would for any other.
        await asyncio.wait_for(bob_page.connection.wait_closed(), FRAME_TIMEOUT_S)
        await alice_page.expect("Before the bug bites")
        await alice_page.say("And after")
        await alice_page.expect("And after")

    assert "a bug in showing a message" in caplog.text


async def test_a_page_that_finds_the_store_too_busy_is_sent_to_reconnect_not_turned_away(
    server: LiveServer,
    general: Room,
    alice: User,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cookie = await session_cookie(server, alice.email)

    async def busy(_accounts: Accounts, _token: str | None) -> User | None:
        raise Unavailable(BUSY, retry_after_seconds=1)

    monkeypatch.setattr(Accounts, "user_for_token", busy)
    async with socket_client(server, f"/rooms/{general.slug}/ws", cookie) as page:
        code, reason = await page.expect_closed()

    assert code == WS_1013_TRY_AGAIN_LATER  # htmx reconnects after 1013; 1008 would end it
    assert "busy" in reason


async def test_a_page_that_leaves_while_it_is_let_in_is_no_error_and_frees_its_place(
    server: LiveServer,
    general: Room,
    alice: User,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    cookie = await session_cookie(server, alice.email)
    asked, gone = asyncio.Event(), asyncio.Event()

    async def busy_once_the_page_is_gone(*_args: object) -> None:
        asked.set()
        await gone.wait()
        raise Unavailable(BUSY, retry_after_seconds=1)

    monkeypatch.setattr(rooms, "room_of_member", busy_once_the_page_is_gone)
    async with socket_client(server, f"/rooms/{general.slug}/ws", cookie):
        await asyncio.wait_for(asked.wait(), timeout=5)
    gone.set()  # the server now closes a socket whose page has left
    sockets = set(server.server.server_state.tasks)  # each socket's task on the server
    _, still_running = await asyncio.wait(sockets, timeout=5)

    assert not still_running
    assert server.app.state.sockets.count(alice.id) == 0
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]
