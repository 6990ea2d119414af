"""Unread markers over real sockets: room lists count what is posted, opening a room
marks where the new messages begin and reads them, and a message costs the same however
many members are not looking."""

from __future__ import annotations

import pytest

from livechat.accounts.models import User
from livechat.chat import rooms
from livechat.chat.models import Membership, Room
from livechat.db import Database
from livechat.realtime.hub import Broadcast, Topic
from tests.live import (
    LiveServer,
    get_in,
    room_page,
    session_cookie,
    socket_client,
    submit_in,
)


def badge(room: Room, text: str = "") -> str:
    opening = f'<span id="room-{room.id}-unread" class="badge" hx-swap-oob="true">'
    return opening + text if text else opening + "</span>"


def listed(room: Room, text: str = "") -> str:
    """The room's unread badge as the list shows it when its socket connects."""
    opening = f'<span id="room-{room.id}-unread" class="badge">'
    return opening + text if text else opening + "</span>"


async def test_room_lists_count_what_others_post_as_it_is_posted(
    server: LiveServer, general: Room, alice: User, bob: User
) -> None:
    bob_session = await session_cookie(server, bob.email)
    async with (
        room_page(server, alice, general) as alice_page,
        room_page(server, bob, general, session=bob_session) as bob_page,
        socket_client(server, "/lobby/ws", bob_session) as bob_lobby,
    ):
        await bob_lobby.expect(listed(general))
        await alice_page.say("one")
        await bob_lobby.expect(badge(general, "1<"))
        await bob_page.say("my own, not unread")
        await alice_page.say("two")

        await bob_lobby.expect(badge(general, "2<"))
        assert not any(badge(general, "3<") in frame for frame in bob_lobby.seen)


async def test_rooms_joined_while_a_room_list_is_open_are_counted_without_a_reload(
    server: LiveServer, db: Database, general: Room, alice: User, bob: User
) -> None:
    lounge = await rooms.create_room(db, alice, name="Lounge")
    bob_session = await session_cookie(server, bob.email)
    alice_session = await session_cookie(server, alice.email)
    async with socket_client(server, "/lobby/ws", bob_session) as bob_lobby:
        await bob_lobby.expect(listed(general))
        # Alice starts a conversation with Bob; Bob joins a room in another tab.
        started = await submit_in(server, alice_session, f"/people/{bob.id}/message", {})
        assert started.status_code == 303
        joined = await submit_in(server, bob_session, f"/rooms/{lounge.slug}/join", {})
        assert joined.status_code == 303
        direct = (await rooms.direct_room(db, alice, bob.id)).room

        async with (
            room_page(server, alice, direct) as in_direct,
            room_page(server, alice, lounge) as in_lounge,
        ):
            await in_direct.say("Got a minute?")
            await in_lounge.say("Hello, Lounge")

            await bob_lobby.expect_times(badge(direct, "1<"), 1)
            await bob_lobby.expect_times(badge(lounge, "1<"), 1)


async def test_opening_a_room_marks_where_the_new_messages_begin_and_reads_them(
    server: LiveServer, general: Room, alice: User, bob: User
) -> None:
    bob_session = await session_cookie(server, bob.email)
    async with room_page(server, alice, general) as alice_page:
        await alice_page.say("seen before")
        await alice_page.expect("seen before")
        await get_in(server, bob_session, f"/rooms/{general.slug}")
        await alice_page.say("the first new one")
        await alice_page.say("the second new one")
        await alice_page.expect("the second new one")

    async with socket_client(server, "/lobby/ws", bob_session) as bob_lobby:
        await bob_lobby.expect(listed(general, "2<"))
        page = (await get_in(server, bob_session, f"/rooms/{general.slug}")).text

        await bob_lobby.expect(badge(general))
    divider = page.index('id="new-messages"')
    assert page.index("seen before") < divider < page.index("the first new one")
    again = (await get_in(server, bob_session, f"/rooms/{general.slug}")).text
    assert 'id="new-messages"' not in again


async def test_what_an_open_room_page_showed_is_read_once_it_closes(
    server: LiveServer, general: Room, alice: User, bob: User
) -> None:
    bob_session = await session_cookie(server, bob.email)
    async with (
        room_page(server, alice, general) as alice_page,
        socket_client(server, "/lobby/ws", bob_session) as bob_lobby,
    ):
        await bob_lobby.expect(listed(general))
        async with room_page(server, bob, general, session=bob_session) as bob_page:
            await alice_page.say("seen as it came")
            await bob_page.expect("seen as it came")
            await bob_lobby.expect(badge(general, "1<"))

        await bob_lobby.expect(badge(general))


@pytest.mark.parametrize("bystanders", [0, 200])
async def test_a_message_is_published_the_same_whatever_the_members_not_looking(
    server: LiveServer,
    db: Database,
    general: Room,
    alice: User,
    bob: User,
    bystanders: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Members who are not connected: the room list counts their unread messages when they
    # next look, so a message needs no event, nor any write, for any of them.
    async with db.write() as session:
        for number in range(bystanders):
            person = User(
                email=f"bystander{number}@example.com",
                display_name=f"Bystander {number}",
                handle=f"bystander{number}",
                hashed_password="-",
            )
            session.add(person)
            await session.flush()
            session.add(Membership(user_id=person.id, room_id=general.id))
    published: list[Topic] = []
    publish = server.realtime.hub.publish

    async def recorded(topic: Topic, broadcast: Broadcast) -> None:
        published.append(topic)
        await publish(topic, broadcast)

    async with room_page(server, alice, general) as alice_page:
        monkeypatch.setattr(server.realtime.hub, "publish", recorded)
        await alice_page.say("to everyone")
        await alice_page.expect('id="message-form"')  # acknowledged: all is published
        for_the_message = sorted(published)

    assert await rooms.member_count(db, general) == 2 + bystanders
    assert for_the_message == [f"room:{general.id}", f"room:{general.id}:activity"]
