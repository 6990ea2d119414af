"""Direct conversations over real sockets: started from a person's page, listed apart in
both room lists, and every message in one notifying the other person."""

from __future__ import annotations

from livechat.accounts.models import User
from livechat.chat import rooms
from livechat.chat.models import Room
from livechat.db import Database
from tests.live import LiveServer, get_in, room_page, session_cookie, socket_client, submit_in


async def test_a_conversation_started_from_a_persons_page_appears_in_both_room_lists(
    server: LiveServer, db: Database, general: Room, alice: User, bob: User
) -> None:
    alice_session = await session_cookie(server, alice.email)
    bob_session = await session_cookie(server, bob.email)
    assert 'action="/people/' in (await get_in(server, alice_session, f"/people/{bob.id}")).text
    async with (
        socket_client(server, "/lobby/ws", alice_session) as alice_lobby,
        socket_client(server, "/lobby/ws", bob_session) as bob_lobby,
    ):
        await alice_lobby.expect("Rooms · livechat")
        await bob_lobby.expect("Rooms · livechat")

        started = await submit_in(server, alice_session, f"/people/{bob.id}/message", {})

        room = (await rooms.direct_room(db, alice, bob.id)).room
        assert started.status_code == 303
        assert started.headers["location"] == f"/rooms/{room.slug}"
        in_alices = await alice_lobby.expect('id="direct-rooms"')
        in_bobs = await bob_lobby.expect('id="direct-rooms"')
        assert "Bob Okafor" in in_alices
        assert "Alice Martin" in in_bobs
        again = await submit_in(server, bob_session, f"/people/{alice.id}/message", {})
        assert again.headers["location"] == f"/rooms/{room.slug}"

    page = (await get_in(server, bob_session, f"/rooms/{room.slug}")).text
    assert f'<a href="/people/{alice.id}">Alice Martin</a>' in page
    assert "/leave" not in page
    listed = (await get_in(server, bob_session, "/rooms")).text
    assert listed.index('id="direct-rooms"') < listed.index(f'id="room-{room.id}"')


async def test_a_direct_message_reaches_the_other_persons_pages_as_a_notification(
    server: LiveServer, db: Database, general: Room, alice: User, bob: User
) -> None:
    room = (await rooms.direct_room(db, alice, bob.id)).room
    bob_session = await session_cookie(server, bob.email)
    async with (
        room_page(server, alice, room) as alice_page,
        room_page(server, bob, general, session=bob_session) as bob_elsewhere,
        socket_client(server, "/lobby/ws", bob_session) as bob_lobby,
    ):
        await bob_lobby.expect("Rooms · livechat")
        await alice_page.say("Got a minute?")

        await bob_elsewhere.expect("(1) General · livechat")
        badge = await bob_lobby.expect(f'id="room-{room.id}-alerts"')
        assert "@ 1" in badge

    mentions = (await get_in(server, bob_session, "/mentions")).text
    assert "Direct message" in mentions
    assert "Got a minute?" in mentions


async def test_someone_outside_a_conversation_cannot_open_its_socket(
    server: LiveServer, db: Database, general: Room, alice: User, bob: User, carol: User
) -> None:
    room = (await rooms.direct_room(db, alice, bob.id)).room
    carol_session = await session_cookie(server, carol.email)

    async with socket_client(server, f"/rooms/{room.slug}/ws", carol_session) as carol_page:
        refused = await carol_page.expect("not a member")
        code, _ = await carol_page.expect_closed()

    assert "Alice" not in refused
    assert code == 1008
    assert (await get_in(server, carol_session, f"/rooms/{room.slug}")).status_code == 404
