"""CSRF protection, security headers and error pages, seen from a client."""

from __future__ import annotations

import httpx
import pytest

from livechat.accounts.models import User
from livechat.chat import rooms
from livechat.db import Database
from livechat.web.csrf import CSRF_COOKIE
from tests.helpers import PASSWORD, csrf_token, log_in


async def test_every_response_carries_a_strict_content_security_policy(
    client: httpx.AsyncClient,
) -> None:
    for path in ("/users/log_in", "/static/app.js", "/no/such/page"):
        response = await client.get(path)
        policy = response.headers["content-security-policy"]
        assert "script-src 'self'" in policy
        assert "unsafe-inline" not in policy
        assert "unsafe-eval" not in policy
        assert "frame-ancestors 'none'" in policy
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "same-origin"


async def test_pages_have_no_inline_script(client: httpx.AsyncClient, alice: User) -> None:
    await log_in(client, alice)
    for path in ("/users/register", "/rooms", "/profile"):
        page = (await client.get(path)).text
        assert "<script>" not in page
        assert "hx-on" not in page


async def test_a_post_without_a_csrf_token_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, db: Database, alice: User
) -> None:
    await log_in(client, alice)

    response = await client.post("/rooms", data={"name": "Forged"})

    assert response.status_code == 403
    assert "did not come from this site" in response.text
    assert await rooms.list_rooms(db, alice.id) == []


async def test_a_token_from_another_browser_is_refused(
    client: httpx.AsyncClient, other_client: httpx.AsyncClient, alice: User
) -> None:
    foreign_token = await csrf_token(other_client)

    response = await client.post(
        "/users/log_in",
        data={"email": alice.email, "password": PASSWORD, "csrf_token": foreign_token},
    )

    assert response.status_code == 403


async def test_a_forged_token_is_refused_even_with_a_matching_looking_cookie(
    client: httpx.AsyncClient, alice: User
) -> None:
    client.cookies.set(CSRF_COOKIE, "a" * 43)

    response = await client.post(
        "/users/log_in",
        data={"email": alice.email, "password": PASSWORD, "csrf_token": "a" * 64},
    )

    assert response.status_code == 403


@pytest.mark.parametrize("where", ["form", "header"])
async def test_a_token_that_is_not_ascii_is_refused_not_a_crash(
    client: httpx.AsyncClient, alice: User, where: str
) -> None:
    await csrf_token(client, "/users/log_in")
    forged = "é" * 64
    fields = {"email": alice.email, "password": PASSWORD}

    if where == "form":
        response = await client.post("/users/log_in", data={**fields, "csrf_token": forged})
    else:
        headers = {b"X-CSRF-Token": forged.encode()}
        response = await client.post("/users/log_in", data=fields, headers=headers)

    assert response.status_code == 403


async def test_htmx_requests_may_send_the_token_as_a_header(
    client: httpx.AsyncClient, db: Database, alice: User
) -> None:
    await log_in(client, alice)
    token = await csrf_token(client, "/rooms")

    response = await client.post(
        "/rooms", data={"name": "Via htmx"}, headers={"X-CSRF-Token": token, "HX-Request": "true"}
    )

    assert response.status_code == 204
    assert response.headers["hx-redirect"] == "/rooms/via-htmx"
    assert [listing.room.name for listing in await rooms.list_rooms(db, alice.id)] == ["Via htmx"]


async def test_an_oversized_form_is_refused_before_it_is_parsed(
    client: httpx.AsyncClient,
) -> None:
    await csrf_token(client)

    response = await client.post("/users/log_in", data={"email": "x" * 100_000})

    assert response.status_code == 413


async def test_an_unknown_page_gets_a_friendly_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/no/such/page")

    assert response.status_code == 404
    assert "There is nothing at this address" in response.text


async def test_errors_for_htmx_requests_are_swapped_into_the_flash_region(
    client: httpx.AsyncClient, alice: User
) -> None:
    await log_in(client, alice)

    response = await client.get("/rooms/nowhere", headers={"HX-Request": "true"})

    assert response.status_code == 404
    assert response.headers["hx-retarget"] == "#flash"
    assert 'class="flash flash-error"' in response.text


@pytest.mark.parametrize("path", ["/rooms/general/messages?before=abc", "/rooms/x?around=1e9"])
async def test_malformed_query_parameters_are_a_400_not_a_crash(
    client: httpx.AsyncClient, alice: User, path: str
) -> None:
    await log_in(client, alice)

    response = await client.get(path)

    assert response.status_code == 400
