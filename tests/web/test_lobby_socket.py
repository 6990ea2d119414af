"""The room list's socket: public rooms appear, change and vanish live."""

from __future__ import annotations

import re

from starlette.status import WS_1008_POLICY_VIOLATION

from livechat.accounts.models import User
from livechat.chat import rooms
from livechat.db import Database
from tests.live import (
    ROOM_LISTS,
    LiveServer,
    room_page,
    session_cookie,
    socket_client,
    submit_as,
)


async def test_a_room_created_in_one_browser_appears_in_another(
    server: LiveServer, alice: User, bob: User
) -> None:
    cookie = await session_cookie(server, bob.email)
    async with socket_client(server, "/lobby/ws", cookie) as bob_lobby:
        assert await submit_as(server, alice.email, "/rooms", {"name": "Launch <party>"}) == 303

        created = await bob_lobby.expect("Launch")
        assert 'id="rooms" hx-swap-oob="beforeend"' in created
        assert "Launch &lt;party&gt;" in created
        assert 'href="/rooms/launch-party"' in created


async def test_a_private_room_is_never_announced(
    server: LiveServer, db: Database, alice: User, bob: User
) -> None:
    cookie = await session_cookie(server, bob.email)
    async with socket_client(server, "/lobby/ws", cookie) as bob_lobby:
        form = {"name": "Secret plans", "is_private": "true"}
        assert await submit_as(server, alice.email, "/rooms", form) == 303
        assert await submit_as(server, alice.email, "/rooms", {"name": "Public"}) == 303

        await bob_lobby.expect("Public")
    assert not any("Secret" in frame for frame in bob_lobby.seen)


async def test_renames_member_counts_and_deletions_reach_open_room_lists(
    server: LiveServer, db: Database, alice: User, bob: User
) -> None:
    room = await rooms.create_room(db, alice, name="General")
    cookie = await session_cookie(server, alice.email)
    async with socket_client(server, "/lobby/ws", cookie) as alice_lobby:
        assert "1 member<" in await alice_lobby.expect(ROOM_LISTS)
        assert await submit_as(server, bob.email, f"/rooms/{room.slug}/join", {}) == 303
        joined = await alice_lobby.expect(f'id="room-{room.id}-members"')
        assert "2 members" in joined

        rename = {"name": "Town square", "description": "Everyone"}
        assert await submit_as(server, alice.email, f"/rooms/{room.slug}/settings", rename) == 303
        renamed = await alice_lobby.expect("Town square")
        assert 'href="/rooms/town-square"' in renamed

        delete = {"confirm": "yes"}
        assert await submit_as(server, alice.email, "/rooms/town-square/delete", delete) == 303
        await alice_lobby.expect(f'id="room-{room.id}" hx-swap-oob="delete"')


async def test_the_room_list_socket_is_for_signed_in_people_on_this_site(
    server: LiveServer, alice: User
) -> None:
    async with socket_client(server, "/lobby/ws", None) as stranger:
        code, _ = await stranger.expect_closed()
    assert code == WS_1008_POLICY_VIOLATION

    cookie = await session_cookie(server, alice.email)
    async with socket_client(server, "/lobby/ws", cookie, origin="https://evil.example") as other:
        code, _ = await other.expect_closed()
    assert code == WS_1008_POLICY_VIOLATION


async def test_a_private_room_reaches_only_its_members_lists(
    server: LiveServer, alice: User, bob: User, carol: User
) -> None:
    bob_cookie = await session_cookie(server, bob.email)
    carol_cookie = await session_cookie(server, carol.email)
    async with (
        socket_client(server, "/lobby/ws", bob_cookie) as bob_lobby,
        socket_client(server, "/lobby/ws", carol_cookie) as carol_lobby,
    ):
        form = {"name": "Board", "is_private": "true"}
        assert await submit_as(server, alice.email, "/rooms", form) == 303
        invite = {"email": bob.email}
        assert await submit_as(server, alice.email, "/rooms/board/members", invite) == 303
        added = await bob_lobby.expect("Board")
        assert 'hx-swap-oob="beforeend"' in added

        delete = {"confirm": "yes"}
        assert await submit_as(server, alice.email, "/rooms/board/delete", delete) == 303
        await bob_lobby.expect('hx-swap-oob="delete"')
        assert await submit_as(server, alice.email, "/rooms", {"name": "Public"}) == 303
        await carol_lobby.expect("Public")
    assert not any("Board" in frame for frame in carol_lobby.seen)


async def test_open_room_lists_follow_how_many_people_are_in_a_public_room(
    server: LiveServer, db: Database, alice: User, bob: User
) -> None:
    room = await rooms.create_room(db, alice, name="General")
    lobby_cookie = await session_cookie(server, bob.email)
    alice_cookie = await session_cookie(server, alice.email)
    async with socket_client(server, "/lobby/ws", lobby_cookie) as bob_lobby:
        await bob_lobby.expect(ROOM_LISTS)
        async with socket_client(server, f"/rooms/{room.slug}/ws", alice_cookie):
            arrived = await bob_lobby.expect(f'id="room-{room.id}-online"')
            assert "1 online" in arrived
        left = await bob_lobby.expect(f'id="room-{room.id}-online"')
    assert re.search(rf'id="room-{room.id}-online"[^>]*></span>', left)  # empty: hidden


async def test_how_many_are_in_a_private_room_never_reaches_the_lobby(
    server: LiveServer, db: Database, alice: User, bob: User
) -> None:
    secret = await rooms.create_room(db, alice, name="Secret", is_private=True)
    public = await rooms.create_room(db, alice, name="General")
    lobby_cookie = await session_cookie(server, bob.email)
    async with (
        socket_client(server, "/lobby/ws", lobby_cookie) as bob_lobby,
        room_page(server, alice, secret) as page,
    ):
        await page.expect("1 online")  # what the lobby would have heard by now
        async with room_page(server, alice, public):
            await bob_lobby.expect(f'id="room-{public.id}-online"')
    assert not any(f"room-{secret.id}-" in frame for frame in bob_lobby.seen)


async def test_a_private_rooms_new_name_reaches_its_members_room_lists_only(
    server: LiveServer, db: Database, alice: User, bob: User, carol: User
) -> None:
    secret = await rooms.create_room(db, alice, name="Secret plans", is_private=True)
    await rooms.add_member(db, alice, secret.slug, bob.email)
    bob_cookie = await session_cookie(server, bob.email)
    carol_cookie = await session_cookie(server, carol.email)
    async with (
        socket_client(server, "/lobby/ws", bob_cookie) as bob_lobby,
        socket_client(server, "/lobby/ws", carol_cookie) as carol_lobby,
    ):
        rename = {"name": "Launch date", "description": ""}
        assert await submit_as(server, alice.email, f"/rooms/{secret.slug}/settings", rename) == 303
        renamed = await bob_lobby.expect("Launch date")
        assert 'href="/rooms/launch-date"' in renamed

        assert await submit_as(server, alice.email, "/rooms", {"name": "Public"}) == 303
        await carol_lobby.expect("Public")
    assert not any("Launch" in frame for frame in carol_lobby.seen)


async def test_inviting_someone_already_in_the_room_does_not_list_it_for_them_twice(
    server: LiveServer, db: Database, alice: User, bob: User
) -> None:
    secret = await rooms.create_room(db, alice, name="Secret plans", is_private=True)
    cookie = await session_cookie(server, bob.email)
    async with socket_client(server, "/lobby/ws", cookie) as bob_lobby:
        invite = {"email": bob.email}
        for _ in range(2):
            assert (
                await submit_as(server, alice.email, f"/rooms/{secret.slug}/members", invite) == 303
            )
        assert await submit_as(server, alice.email, "/rooms", {"name": "Public"}) == 303
        await bob_lobby.expect("Public")  # everything sent before it has come

    added = [frame for frame in bob_lobby.seen if f'<li id="room-{secret.id}"' in frame]
    assert len(added) == 1


async def test_a_room_list_that_connects_late_shows_what_changed_since_its_page_was_read(
    server: LiveServer, db: Database, alice: User, bob: User
) -> None:
    # The page was read with "Old" in it; by the time its socket connects (or reconnects),
    # "Old" is gone and "New" and Alice's private "Hidden" exist.
    old = await rooms.create_room(db, alice, name="Old")
    await rooms.delete_room(db, alice, old.slug)
    await rooms.create_room(db, alice, name="New")
    await rooms.create_room(db, alice, name="Hidden", is_private=True)
    cookie = await session_cookie(server, bob.email)
    async with socket_client(server, "/lobby/ws", cookie) as bob_lobby:
        lists = await bob_lobby.expect(ROOM_LISTS)
    shared = lists[: lists.index('id="direct-rooms"')]
    assert 'href="/rooms/new"' in shared
    assert 'href="/rooms/old"' not in shared
    assert "Hidden" not in lists
    assert 'id="direct-rooms" hx-swap-oob="innerHTML"' in lists
