"""Registering, logging in and out through the HTML pages."""

from __future__ import annotations

import asyncio
import itertools
import re

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from livechat.accounts import auth, handles
from livechat.accounts.auth import SESSION_COOKIE
from livechat.accounts.models import User
from tests.helpers import PASSWORD, log_in, submit


async def register(client: httpx.AsyncClient, **fields: str) -> httpx.Response:
    form = {"email": "dana@example.com", "password": PASSWORD, "display_name": "Dana"}
    return await submit(client, "/users/register", {**form, **fields}, page="/users/register")


async def test_registering_signs_the_new_user_in_and_lands_on_the_room_list(
    client: httpx.AsyncClient,
) -> None:
    response = await register(client)

    assert response.status_code == 303
    assert response.headers["location"] == "/rooms"
    rooms = await client.get("/rooms")
    assert rooms.status_code == 200
    assert "Dana" in rooms.text


async def test_the_session_cookie_is_http_only_and_same_site_lax(
    client: httpx.AsyncClient,
) -> None:
    response = await register(client)

    cookie = next(
        header
        for header in response.headers.get_list("set-cookie")
        if header.startswith(f"{SESSION_COOKIE}=")
    )
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie or "SameSite=Lax" in cookie


async def test_registering_an_email_twice_explains_and_keeps_the_first_account(
    client: httpx.AsyncClient, alice: User
) -> None:
    response = await register(client, email=alice.email.upper(), display_name="Impostor")

    assert response.status_code == 400
    assert "already exists" in response.text
    assert 'value="Impostor"' in response.text  # what was typed is kept


async def _own_handle(client: httpx.AsyncClient) -> str:
    """The handle the signed-in person's profile heading shows."""
    match = re.search(r'<p class="profile-handle">(@\w+)</p>', (await client.get("/profile")).text)
    assert match is not None
    return match.group(1)


async def test_registering_with_a_handle_gives_the_new_account_that_handle(
    client: httpx.AsyncClient,
) -> None:
    response = await register(client, handle="dana_s")

    assert response.status_code == 303
    assert await _own_handle(client) == "@dana_s"


async def test_a_handle_typed_with_its_at_and_capitals_is_stored_plain_and_lowercase(
    client: httpx.AsyncClient,
) -> None:
    await register(client, handle="  @Dana_S ")

    assert await _own_handle(client) == "@dana_s"


async def test_registering_without_a_handle_makes_one_from_the_display_name(
    client: httpx.AsyncClient,
) -> None:
    await register(client, display_name="Dana Scully-Mulder", handle="")

    assert await _own_handle(client) == "@dana_scully_mulder"


async def test_a_handle_made_from_a_name_someone_has_is_numbered(
    client: httpx.AsyncClient, alice: User
) -> None:
    await register(client, display_name=alice.display_name)

    assert alice.handle == "alice_martin"
    assert await _own_handle(client) == "@alice_martin2"


async def test_a_handle_someone_has_is_refused_whatever_its_case_and_the_form_kept(
    client: httpx.AsyncClient, alice: User
) -> None:
    response = await register(client, handle="@Alice_Martin")

    assert response.status_code == 400
    assert "@alice_martin is taken; try another." in response.text
    assert 'value="Dana"' in response.text
    assert 'value="@Alice_Martin"' in response.text
    assert SESSION_COOKIE not in response.cookies


@pytest.mark.parametrize(
    ("handle", "complaint"),
    [
        ("d", "Handles are 2 to 30 letters, digits or underscores"),
        ("dana scully", "Handles are 2 to 30 letters, digits or underscores"),
        ("dana-scully", "Handles are 2 to 30 letters, digits or underscores"),
        ("d" * 31, "Handles are 2 to 30 letters, digits or underscores"),
        ("@everyone", "@everyone is kept for mentioning a whole group"),
    ],
)
async def test_malformed_or_reserved_handles_are_refused_with_the_reason(
    client: httpx.AsyncClient, handle: str, complaint: str
) -> None:
    response = await register(client, handle=handle)

    assert response.status_code == 400
    assert complaint in response.text
    assert SESSION_COOKIE not in response.cookies


async def test_two_people_registering_one_handle_at_once_get_it_and_are_told_it_is_taken(
    client: httpx.AsyncClient, other_client: httpx.AsyncClient
) -> None:
    first, second = await asyncio.gather(
        register(client, handle="dana"),
        register(
            other_client, email="danielle@example.com", display_name="Danielle", handle="dana"
        ),
    )

    assert sorted([first.status_code, second.status_code]) == [303, 400]
    refused = first if first.status_code == 400 else second
    assert "@dana is taken; try another." in refused.text


async def test_a_handle_taken_after_the_checks_is_refused_by_the_database_in_the_same_words(
    client: httpx.AsyncClient, alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    check = auth._require_free
    calls = itertools.count()

    async def blind_twice(
        session: AsyncSession, email: str, handle: str | None, owner: int | None = None
    ) -> None:
        # The checks before hashing and in the write miss it, as on PostgreSQL they may
        # when someone else's sign-up commits it just after them.
        await check(session, email, None if next(calls) < 2 else handle, owner)

    monkeypatch.setattr(auth, "_require_free", blind_twice)

    response = await register(client, handle=alice.handle)

    assert response.status_code == 400
    assert f"@{alice.handle} is taken; try another." in response.text


async def test_a_handle_made_from_the_name_and_taken_meanwhile_is_made_afresh(
    client: httpx.AsyncClient, alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    offered = iter([alice.handle])

    async def late(session: AsyncSession, base: str, user_id: int | None = None) -> str:
        # As on PostgreSQL, where Alice's handle may be committed just after it looked free.
        return next(offered, None) or await handles.free_handle(session, base, user_id)

    monkeypatch.setattr(auth, "free_handle", late)

    response = await register(client, display_name=alice.display_name)

    assert response.status_code == 303
    assert await _own_handle(client) == "@alice_martin2"


@pytest.mark.parametrize(
    ("password", "complaint"),
    [
        ("short", "at least 10 characters"),
        ("1234567890", "too easy to guess"),
        ("aaaaaaaaaaaa", "too easy to guess"),
        ("dana@example.com-secret", "must not contain your email"),
    ],
)
async def test_weak_passwords_are_refused_with_the_reason(
    client: httpx.AsyncClient, password: str, complaint: str
) -> None:
    response = await register(client, password=password)

    assert response.status_code == 400
    assert complaint in response.text
    assert SESSION_COOKIE not in response.cookies


@pytest.mark.parametrize(
    ("field", "value", "complaint"),
    [
        ("email", "not-an-email", "Enter an email address"),
        ("display_name", "   ", "Tell us what to call you"),
        ("display_name", "x" * 41, "at most 40 characters"),
    ],
)
async def test_malformed_registration_fields_are_refused(
    client: httpx.AsyncClient, field: str, value: str, complaint: str
) -> None:
    response = await register(client, **{field: value})

    assert response.status_code == 400
    assert complaint in response.text


async def test_a_registration_form_with_missing_fields_is_a_400_not_a_crash(
    client: httpx.AsyncClient,
) -> None:
    response = await submit(client, "/users/register", {}, page="/users/register")

    assert response.status_code == 400


async def test_logging_in_with_the_right_password_opens_a_session(
    client: httpx.AsyncClient, alice: User
) -> None:
    await log_in(client, alice)

    response = await client.get("/rooms")
    assert response.status_code == 200
    assert alice.display_name in response.text


async def test_a_wrong_password_shows_the_form_again_with_an_error(
    client: httpx.AsyncClient, alice: User
) -> None:
    response = await submit(
        client, "/users/log_in", {"email": alice.email, "password": "not the password"}
    )

    assert response.status_code == 401
    assert "do not match" in response.text
    assert f'value="{alice.email}"' in response.text
    assert (await client.get("/rooms")).status_code == 303


async def test_an_unknown_email_gets_the_same_answer_as_a_wrong_password(
    client: httpx.AsyncClient,
) -> None:
    response = await submit(
        client, "/users/log_in", {"email": "nobody@example.com", "password": PASSWORD}
    )

    assert response.status_code == 401
    assert "do not match" in response.text


async def test_repeated_failures_lock_out_that_email_even_with_the_right_password(
    client: httpx.AsyncClient, alice: User
) -> None:
    for _ in range(5):
        failed = await submit(client, "/users/log_in", {"email": alice.email, "password": "guess"})
        assert failed.status_code == 401

    locked = await submit(client, "/users/log_in", {"email": alice.email, "password": PASSWORD})

    assert locked.status_code == 429
    assert "Too many failed attempts" in locked.text
    assert int(locked.headers["retry-after"]) > 0


async def test_a_lockout_for_one_email_leaves_other_accounts_alone(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    for _ in range(5):
        await submit(client, "/users/log_in", {"email": alice.email, "password": "guess"})

    await log_in(client, bob)


async def test_logging_out_ends_the_session_on_the_server(
    client: httpx.AsyncClient, alice: User
) -> None:
    await log_in(client, alice)
    token = client.cookies[SESSION_COOKIE]

    response = await submit(client, "/users/log_out", {}, page="/rooms")

    assert response.status_code == 303
    assert response.headers["location"] == "/users/log_in"
    client.cookies.set(SESSION_COOKIE, token)  # replaying the old cookie must not work
    assert (await client.get("/rooms")).status_code == 303


async def test_signed_out_visitors_are_sent_to_log_in(client: httpx.AsyncClient) -> None:
    for path in ("/", "/rooms", "/profile"):
        response = await client.get(path)
        assert response.status_code == 303
        assert response.headers["location"] == "/users/log_in"


async def test_signed_in_users_skip_the_log_in_page(client: httpx.AsyncClient, alice: User) -> None:
    await log_in(client, alice)

    for path in ("/", "/users/log_in", "/users/register"):
        response = await client.get(path)
        assert response.status_code == 303
        assert response.headers["location"] == "/rooms"
