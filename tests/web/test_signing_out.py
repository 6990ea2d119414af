"""Open pages obey the end of their session at once: signing out, a password changed
elsewhere, a deactivated account, and being removed from a room close them (1008) within
a second, and a session ended where the server could not hear of it cannot post."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from sqlalchemy import delete
from starlette.status import WS_1008_POLICY_VIOLATION

from livechat.accounts.models import AccessToken, User
from livechat.chat import rooms
from livechat.chat.models import Room
from livechat.db import Database
from tests.helpers import PASSWORD
from tests.live import (
    Client,
    LiveServer,
    room_page,
    session_cookie,
    socket_client,
    submit_in,
)

NEW_PASSWORD = "an entirely new passphrase"
# Published, dispatched and written out: well under this on any machine.
WITHIN_S = 1.0


async def two_sessions(server: LiveServer, user: User) -> tuple[str, str]:
    """Two browsers signed in as ``user``: two session cookies."""
    return await session_cookie(server, user.email), await session_cookie(server, user.email)


@asynccontextmanager
async def lobby_page(server: LiveServer, session: str) -> AsyncIterator[Client]:
    async with socket_client(server, "/lobby/ws", session) as client:
        yield client


async def closed_within_a_second(
    pages: list[Client], act: Callable[[], Awaitable[object]], reason: str
) -> None:
    """Do ``act``, then see each page told ``reason`` and closed with 1008 in time."""
    started = time.monotonic()
    await act()
    for page in pages:
        code, _ = await page.expect_closed()
        assert code == WS_1008_POLICY_VIOLATION
        assert any(reason in frame for frame in page.seen)
    assert time.monotonic() - started < WITHIN_S


async def still_live(page: Client, text: str) -> None:
    await page.say(text)
    await page.expect(text)


async def test_logging_out_closes_that_sessions_pages_and_no_others(
    server: LiveServer, general: Room, alice: User
) -> None:
    leaving, staying = await two_sessions(server, alice)
    async with (
        room_page(server, alice, general, session=leaving) as room_tab,
        lobby_page(server, leaving) as lobby_tab,
        room_page(server, alice, general, session=staying) as other_browser,
    ):
        await closed_within_a_second(
            [room_tab, lobby_tab],
            lambda: submit_in(server, leaving, "/users/log_out", {}),
            "You have been signed out",
        )
        await still_live(other_browser, "still signed in over here")


async def test_a_password_change_closes_the_other_sessions_pages_and_keeps_its_own(
    server: LiveServer, general: Room, alice: User
) -> None:
    changing, elsewhere = await two_sessions(server, alice)
    change = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    async with (
        room_page(server, alice, general, session=changing) as own_tab,
        room_page(server, alice, general, session=elsewhere) as other_room_tab,
        lobby_page(server, elsewhere) as other_lobby_tab,
    ):
        await closed_within_a_second(
            [other_room_tab, other_lobby_tab],
            lambda: submit_in(server, changing, "/profile/password", change),
            "Your password was changed in another browser",
        )
        await still_live(own_tab, "only I am signed in now")


async def test_deactivating_the_account_closes_every_page_and_it_can_no_longer_log_in(
    server: LiveServer, db: Database, general: Room, alice: User
) -> None:
    deciding, elsewhere = await two_sessions(server, alice)
    confirm = {"current_password": PASSWORD}
    async with (
        room_page(server, alice, general, session=deciding) as own_tab,
        room_page(server, alice, general, session=elsewhere) as other_tab,
    ):
        response = None

        async def deactivate() -> None:
            nonlocal response
            response = await submit_in(server, deciding, "/profile/deactivate", confirm)

        await closed_within_a_second(
            [own_tab, other_tab], deactivate, "This account has been deactivated"
        )
    assert response is not None
    assert response.status_code == 303
    assert response.headers["location"] == "/users/log_in"
    async with socket_client(server, f"/rooms/{general.slug}/ws", elsewhere) as again:
        code, _ = await again.expect_closed()
    assert code == WS_1008_POLICY_VIOLATION


async def test_a_session_ended_where_the_server_could_not_hear_cannot_post(
    server: LiveServer, db: Database, general: Room, alice: User, bob: User
) -> None:
    async with (
        room_page(server, alice, general) as alice_tab,
        room_page(server, bob, general) as bob_tab,
    ):
        # Signed out from somewhere that publishes nothing here, such as another worker.
        async with db.write() as session:
            tokens = AccessToken.__table__.c
            await session.execute(delete(AccessToken).where(tokens.user_id == alice.id))

        await alice_tab.say("one last word")
        code, _ = await alice_tab.expect_closed()
        assert code == WS_1008_POLICY_VIOLATION
        assert any("You have been signed out" in frame for frame in alice_tab.seen)
        await still_live(bob_tab, "the room carries on")
    assert not any("one last word" in frame for frame in bob_tab.seen)


async def test_removing_a_member_closes_their_pages_of_that_room_only(
    server: LiveServer, db: Database, general: Room, alice: User, bob: User
) -> None:
    elsewhere = await rooms.create_room(db, alice, name="Elsewhere")
    await rooms.join_room(db, bob, elsewhere.slug)
    admin = await session_cookie(server, alice.email)
    async with (
        room_page(server, bob, general) as removed_tab,
        room_page(server, bob, elsewhere) as other_room_tab,
    ):
        await closed_within_a_second(
            [removed_tab],
            lambda: submit_in(server, admin, f"/rooms/{general.slug}/members/{bob.id}/remove", {}),
            "An admin removed you from General",
        )
        await still_live(other_room_tab, "still here")
    assert not (await rooms.get_room(db, bob, general.slug)).is_member
