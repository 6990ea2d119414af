"""Mentions over real sockets: suggestions as a handle is typed, the link and the
highlight, and the notification reaching every page of the person mentioned."""

from __future__ import annotations

from starlette.status import WS_1008_POLICY_VIOLATION

from livechat.accounts.models import User
from livechat.chat import rooms
from livechat.chat.models import Room
from livechat.db import Database
from tests.live import LiveServer, get_in, room_page, session_cookie, socket_client, submit_in


async def test_typing_an_at_offers_the_members_it_may_mean(
    server: LiveServer, general: Room, alice: User, bob: User
) -> None:
    async with room_page(server, bob, general) as bob_page:
        await bob_page.send("draft-paused", body="thanks @Ali")

        offered = await bob_page.expect('id="mention-suggestions"')
        assert f'data-mention="{alice.handle}"' in offered
        assert "Alice Martin" in offered

        await bob_page.send("draft-paused", body="thanks @Alice_Martin for it")
        withdrawn = await bob_page.expect('id="mention-suggestions"')
        assert "data-mention" not in withdrawn


async def test_no_one_is_offered_for_a_handle_no_member_has(
    server: LiveServer, general: Room, bob: User, carol: User
) -> None:
    async with room_page(server, bob, general) as bob_page:
        await bob_page.send("draft-paused", body=f"@{carol.handle}")  # Carol is not a member

        offered = await bob_page.expect('id="mention-suggestions"')
        assert "data-mention" not in offered


async def test_a_mention_links_the_person_and_counts_on_their_pages_elsewhere(
    server: LiveServer, db: Database, general: Room, alice: User, bob: User
) -> None:
    elsewhere = await rooms.create_room(db, bob, name="Elsewhere")
    bob_session = await session_cookie(server, bob.email)
    async with (
        room_page(server, alice, general) as alice_page,
        room_page(server, bob, elsewhere, session=bob_session) as bob_elsewhere,
        socket_client(server, "/lobby/ws", bob_session) as bob_lobby,
    ):
        await bob_lobby.expect("Rooms · livechat")
        await alice_page.say(f"@{bob.handle} have a look")

        shown = await alice_page.expect("have a look")
        assert f'<a class="mention" href="/people/{bob.id}" data-person="{bob.id}">' in shown
        counted = await bob_elsewhere.expect('id="alert-count"')
        assert ">1<" in counted
        await bob_elsewhere.expect("(1) Elsewhere · livechat")
        badge = await bob_lobby.expect(f'id="room-{general.id}-alerts"')
        assert "@ 1" in badge
        assert "(1) Rooms · livechat" in "".join(bob_lobby.seen)

        # Opening the room reads it, on every page of Bob's.
        assert (await get_in(server, bob_session, f"/rooms/{general.slug}")).status_code == 200
        await bob_lobby.expect(
            f'id="room-{general.id}-alerts" class="badge badge-alert" hx-swap-oob="true"></span>'
        )
        assert 'title">Rooms · livechat' in "".join(bob_lobby.seen)
        await bob_elsewhere.expect('title">Elsewhere · livechat')


async def test_a_mention_in_the_room_a_page_shows_is_read_as_it_arrives(
    server: LiveServer, general: Room, alice: User, bob: User
) -> None:
    async with (
        room_page(server, alice, general) as alice_page,
        room_page(server, bob, general) as bob_page,
    ):
        await alice_page.say(f"@{bob.handle} right here")

        await bob_page.expect("(1) General · livechat")
        await bob_page.expect('title">General · livechat')


async def test_the_mentions_page_lists_them_and_reads_them_everywhere(
    server: LiveServer, db: Database, general: Room, alice: User, bob: User
) -> None:
    bob_session = await session_cookie(server, bob.email)
    async with (
        room_page(server, alice, general) as alice_page,
        socket_client(server, "/lobby/ws", bob_session) as bob_lobby,
    ):
        await bob_lobby.expect("Rooms · livechat")
        await alice_page.say(f"Lunch, @{bob.handle}? <b>now</b>")
        await bob_lobby.expect("(1) Rooms · livechat")

        page = await get_in(server, bob_session, "/mentions")

        assert page.status_code == 200
        assert "Lunch, @bob_okafor? &lt;b&gt;now&lt;/b&gt;" in page.text
        assert "#General" in page.text
        await bob_lobby.expect('title">Rooms · livechat')


async def test_a_persons_page_is_for_those_who_may_know_of_them(
    server: LiveServer, db: Database, general: Room, alice: User, bob: User, carol: User
) -> None:
    alice_session = await session_cookie(server, alice.email)

    shown = await get_in(server, alice_session, f"/people/{bob.id}")
    hidden = await get_in(server, alice_session, f"/people/{carol.id}")  # shares no room

    assert shown.status_code == 200
    assert f"@{bob.handle}" in shown.text
    assert hidden.status_code == 404
    assert "Carol" not in hidden.text


async def test_a_page_with_no_socket_of_its_own_counts_in_its_title_through_one_for_that(
    server: LiveServer, general: Room, alice: User, bob: User
) -> None:
    bob_session = await session_cookie(server, bob.email)
    path = "/alerts/ws?title=%3Cb%3EMy%20%26%20search%3C%2Fb%3E"
    async with (
        room_page(server, alice, general) as alice_page,
        socket_client(server, path, bob_session) as bob_search,
    ):
        await bob_search.expect("&lt;b&gt;My &amp; search&lt;/b&gt; · livechat")
        await alice_page.say(f"@{bob.handle} found it")

        counted = await bob_search.expect('id="alert-count"')
        assert ">1<" in counted
        await bob_search.expect("(1) &lt;b&gt;My &amp; search&lt;/b&gt; · livechat")


async def test_signing_out_closes_the_pages_that_only_count_notifications(
    server: LiveServer, alice: User
) -> None:
    session = await session_cookie(server, alice.email)
    async with socket_client(server, "/alerts/ws?title=Profile", session) as profile:
        await profile.expect("Profile · livechat")
        assert (await submit_in(server, session, "/users/log_out", {})).status_code == 303

        code, _ = await profile.expect_closed()

    assert code == WS_1008_POLICY_VIOLATION
