"""The profile page: display name, handle, email and password."""

from __future__ import annotations

import itertools

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from livechat.accounts import auth
from livechat.accounts.models import User
from livechat.chat import messages, rooms
from livechat.db import Database
from tests.helpers import PASSWORD, log_in, submit

NEW_PASSWORD = "an entirely new passphrase"


async def test_changing_the_display_name_and_email(client: httpx.AsyncClient, alice: User) -> None:
    await log_in(client, alice)

    response = await submit(
        client,
        "/profile",
        {"display_name": "Alice M.", "email": "alice.m@example.com"},
        page="/profile",
    )

    assert response.headers["location"] == "/profile?saved=profile"
    page = (await client.get("/profile?saved=profile")).text
    assert "Your profile is saved" in page
    assert 'value="Alice M."' in page
    assert 'value="alice.m@example.com"' in page


async def test_an_email_someone_else_has_is_refused(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    await log_in(client, alice)

    response = await submit(
        client, "/profile", {"display_name": "Alice", "email": bob.email}, page="/profile"
    )

    assert response.status_code == 400
    assert "already exists" in response.text


async def test_changing_the_handle_shows_the_new_one_in_the_heading(
    client: httpx.AsyncClient, alice: User
) -> None:
    await log_in(client, alice)
    assert '<p class="profile-handle">@alice_martin</p>' in (await client.get("/profile")).text

    response = await submit(
        client,
        "/profile",
        {"display_name": alice.display_name, "handle": "@Ally", "email": alice.email},
        page="/profile",
    )

    assert response.headers["location"] == "/profile?saved=profile"
    page = (await client.get("/profile")).text
    assert '<p class="profile-handle">@ally</p>' in page
    assert 'value="ally"' in page


async def test_keeping_ones_own_handle_is_fine(client: httpx.AsyncClient, alice: User) -> None:
    await log_in(client, alice)

    response = await submit(
        client,
        "/profile",
        {"display_name": "Alice M.", "handle": alice.handle.upper(), "email": alice.email},
        page="/profile",
    )

    assert response.status_code == 303
    assert '<p class="profile-handle">@alice_martin</p>' in (await client.get("/profile")).text


async def test_a_handle_someone_else_has_is_refused_and_what_was_typed_kept(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    await log_in(client, alice)

    response = await submit(
        client,
        "/profile",
        {"display_name": "Alice", "handle": f"@{bob.handle}", "email": alice.email},
        page="/profile",
    )

    assert response.status_code == 400
    assert f"@{bob.handle} is taken; try another." in response.text
    assert f'value="@{bob.handle}"' in response.text
    assert '<p class="profile-handle">@alice_martin</p>' in response.text


@pytest.mark.parametrize(
    ("handle", "complaint"),
    [
        ("a", "Handles are 2 to 30 letters, digits or underscores"),
        ("alice martin", "Handles are 2 to 30 letters, digits or underscores"),
        ("alicé", "Handles are 2 to 30 letters, digits or underscores"),
        ("@here", "@here is kept for mentioning a whole group"),
    ],
)
async def test_a_malformed_or_reserved_handle_is_refused_and_the_old_one_kept(
    client: httpx.AsyncClient, alice: User, handle: str, complaint: str
) -> None:
    await log_in(client, alice)

    response = await submit(
        client,
        "/profile",
        {"display_name": "Alice", "handle": handle, "email": alice.email},
        page="/profile",
    )

    assert response.status_code == 400
    assert complaint in response.text
    assert '<p class="profile-handle">@alice_martin</p>' in (await client.get("/profile")).text


async def test_a_profile_saved_without_a_handle_keeps_the_one_it_had(
    client: httpx.AsyncClient, alice: User
) -> None:
    await log_in(client, alice)

    response = await submit(
        client,
        "/profile",
        {"display_name": "Alice Renamed", "handle": "", "email": alice.email},
        page="/profile",
    )

    assert response.status_code == 303
    assert '<p class="profile-handle">@alice_martin</p>' in (await client.get("/profile")).text


async def test_a_handle_taken_meanwhile_is_refused_by_the_database_in_the_same_words(
    client: httpx.AsyncClient, alice: User, bob: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    await log_in(client, alice)
    check = auth._require_free
    calls = itertools.count()

    async def blind_once(
        session: AsyncSession, email: str, handle: str | None, owner: int | None = None
    ) -> None:
        # As on PostgreSQL, where Bob's change may commit just after Alice's write checked.
        await check(session, email, None if next(calls) == 0 else handle, owner)

    monkeypatch.setattr(auth, "_require_free", blind_once)

    response = await submit(
        client,
        "/profile",
        {"display_name": "Alice", "handle": bob.handle, "email": alice.email},
        page="/profile",
    )

    assert response.status_code == 400
    assert f"@{bob.handle} is taken; try another." in response.text


async def test_changing_the_password_needs_the_current_one(
    client: httpx.AsyncClient, alice: User
) -> None:
    await log_in(client, alice)

    response = await submit(
        client,
        "/profile/password",
        {"current_password": "wrong", "new_password": NEW_PASSWORD},
        page="/profile",
    )

    assert response.status_code == 400
    assert "current password is not right" in response.text


async def test_a_new_password_works_and_signs_out_other_sessions(
    client: httpx.AsyncClient, other_client: httpx.AsyncClient, alice: User
) -> None:
    await log_in(client, alice)
    await log_in(other_client, alice)

    response = await submit(
        client,
        "/profile/password",
        {"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        page="/profile",
    )

    assert response.headers["location"] == "/profile?saved=password"
    assert (await client.get("/rooms")).status_code == 200
    assert (await other_client.get("/rooms")).status_code == 303
    await log_in(other_client, alice, NEW_PASSWORD)


async def test_a_new_display_name_shows_on_older_messages_in_rooms_opened_afterwards(
    client: httpx.AsyncClient, db: Database, alice: User
) -> None:
    room = await rooms.create_room(db, alice, name="General")
    await messages.create_message(db, alice, room.slug, "said before the change")
    await log_in(client, alice)
    assert "Alice Martin" in (await client.get(f"/rooms/{room.slug}")).text  # now cached

    await submit(
        client,
        "/profile",
        {"display_name": "Alice Renamed", "email": alice.email},
        page="/profile",
    )

    page = (await client.get(f"/rooms/{room.slug}")).text
    assert ">Alice Renamed</a>" in page
    assert ">Alice Martin</a>" not in page


async def test_deactivating_needs_the_password_and_keeps_the_account_otherwise(
    client: httpx.AsyncClient, alice: User
) -> None:
    await log_in(client, alice)

    response = await submit(
        client, "/profile/deactivate", {"current_password": "wrong"}, page="/profile"
    )

    assert response.status_code == 400
    assert "That password is not right" in response.text
    assert (await client.get("/rooms")).status_code == 200


async def test_a_deactivated_account_is_signed_out_and_cannot_log_in_but_its_messages_stay(
    client: httpx.AsyncClient, other_client: httpx.AsyncClient, db: Database, alice: User
) -> None:
    room = await rooms.create_room(db, alice, name="General")
    await messages.create_message(db, alice, room.slug, "I was here")
    await log_in(client, alice)
    await log_in(other_client, alice)

    response = await submit(
        client, "/profile/deactivate", {"current_password": PASSWORD}, page="/profile"
    )

    assert response.headers["location"] == "/users/log_in"
    for browser in (client, other_client):
        assert (await browser.get("/rooms")).headers["location"] == "/users/log_in"
    refused = await submit(client, "/users/log_in", {"email": alice.email, "password": PASSWORD})
    assert refused.status_code == 401
    assert [m.body for m in (await messages.history(db, alice, room.slug)).messages] == [
        "I was here"
    ]


async def test_a_chosen_time_zone_is_kept_and_one_not_on_the_list_is_refused(
    client: httpx.AsyncClient, alice: User
) -> None:
    await log_in(client, alice)
    client.cookies.set("tz", "Europe/Paris")
    assert "Your browser's (Europe/Paris)" in (await client.get("/profile")).text

    fields = {"display_name": alice.display_name, "email": alice.email}
    saved = await submit(client, "/profile", {**fields, "time_zone": "Asia/Tokyo"}, page="/profile")
    refused = await submit(
        client, "/profile", {**fields, "time_zone": "Mars/Olympus"}, page="/profile"
    )

    assert saved.status_code == 303
    assert refused.status_code == 400
    assert "Choose a time zone from the list." in refused.text
    assert "<option selected>Asia/Tokyo</option>" in (await client.get("/profile")).text
