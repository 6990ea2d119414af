"""One-shot notices: after a form redirects, the next page says what it did, once, and
nobody else can make a page say anything."""

from __future__ import annotations

import base64
import json
import re

import httpx
import pytest

from livechat.accounts.auth import SESSION_COOKIE
from livechat.accounts.models import User
from livechat.chat import rooms
from livechat.chat.models import Room
from livechat.db import Database
from livechat.web.notices import NOTICE_COOKIE
from tests.helpers import log_in, submit

_NOTICE = re.compile(r'<p id="notice" class="flash flash-info">(.*?)</p>')


def notice_on(page: httpx.Response) -> str | None:
    """The notice a page shows in its #flash region, as the browser would read it."""
    assert page.status_code == 200, page.text
    found = _NOTICE.search(page.text)
    return None if found is None else found.group(1)


async def test_leaving_a_room_says_so_on_the_room_list_once(
    client: httpx.AsyncClient, general: Room, bob: User
) -> None:
    await log_in(client, bob)

    left = await submit(client, "/rooms/general/leave", {}, page="/rooms/general")
    assert left.headers["location"] == "/rooms"
    shown = await client.get("/rooms")

    assert notice_on(shown) == "You left General."
    assert NOTICE_COOKIE not in client.cookies  # cleared by the page that showed it
    assert notice_on(await client.get("/rooms")) is None


async def test_inviting_someone_says_who_joined_on_the_room_page(
    client: httpx.AsyncClient, db: Database, alice: User, bob: User
) -> None:
    await rooms.create_room(db, alice, name="Design", is_private=True)
    await log_in(client, alice)

    invited = await submit(client, "/rooms/design/members", {"email": bob.email}, page="/rooms")
    assert invited.headers["location"] == "/rooms/design"
    assert notice_on(await client.get("/rooms/design")) == "Bob Okafor is now a member of Design."

    again = await submit(client, "/rooms/design/members", {"email": bob.email}, page="/rooms")
    assert again.status_code == 303
    shown = await client.get("/rooms/design")
    assert notice_on(shown) == "Bob Okafor is already a member of Design."


async def test_removing_a_member_says_who_is_out(
    client: httpx.AsyncClient, general: Room, alice: User, bob: User
) -> None:
    await log_in(client, alice)

    await submit(client, f"/rooms/general/members/{bob.id}/remove", {}, page="/rooms")

    shown = await client.get("/rooms/general")
    assert notice_on(shown) == "Bob Okafor is no longer a member of General."


async def test_saving_the_settings_says_so_on_the_page_at_the_rooms_new_address(
    client: httpx.AsyncClient, general: Room, alice: User
) -> None:
    await log_in(client, alice)

    saved = await submit(
        client, "/rooms/general/settings", {"name": "Town square"}, page="/rooms/general"
    )

    assert saved.headers["location"] == "/rooms/town-square"
    shown = await client.get("/rooms/town-square")
    assert notice_on(shown) == "Saved the settings of Town square."


async def test_deleting_a_room_says_so_on_the_room_list(
    client: httpx.AsyncClient, general: Room, alice: User
) -> None:
    await log_in(client, alice)

    await submit(client, "/rooms/general/delete", {"confirm": "yes"}, page="/rooms/general")

    assert notice_on(await client.get("/rooms")) == "General was deleted, with all its messages."


async def test_a_refused_form_leaves_no_notice(
    client: httpx.AsyncClient, general: Room, alice: User
) -> None:
    await log_in(client, alice)

    refused = await submit(
        client, "/rooms/general/members", {"email": "nobody@example.com"}, page="/rooms"
    )

    assert refused.status_code == 400
    assert NOTICE_COOKIE not in client.cookies


async def test_names_in_a_notice_are_escaped(
    client: httpx.AsyncClient, db: Database, alice: User
) -> None:
    await rooms.create_room(db, alice, name='<img src=x hx-get="/x">')
    await log_in(client, alice)

    await submit(client, "/rooms/img-src-x-hx-get-x/leave", {}, page="/rooms")
    page = await client.get("/rooms")

    assert notice_on(page) == "You left &lt;img src=x hx-get=&#34;/x&#34;&gt;."
    assert '<img src=x hx-get="/x">' not in page.text


async def test_a_fragment_does_not_use_up_the_notice_for_the_page_that_follows(
    client: httpx.AsyncClient, general: Room, bob: User
) -> None:
    await log_in(client, bob)
    await submit(client, "/rooms/general/leave", {}, page="/rooms/general")

    fragment = await client.get("/search?q=anything", headers={"HX-Request": "true"})

    assert fragment.status_code == 200
    assert "notice" not in fragment.text
    assert notice_on(await client.get("/rooms")) == "You left General."


def _payload(sentence: str, **names: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([sentence, names]).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cookie",
    [
        pytest.param(_payload("LEFT", room="<b>anything</b>"), id="unsigned"),
        pytest.param(f"{_payload('LEFT', room='anything')}.{'0' * 64}", id="badly-signed"),
        pytest.param("é.é", id="not-ascii"),
        pytest.param("...", id="dots"),
        pytest.param("", id="empty"),
    ],
)
async def test_a_notice_cookie_not_signed_by_the_server_shows_nothing(
    client: httpx.AsyncClient, alice: User, cookie: str
) -> None:
    await log_in(client, alice)
    # By hand: a browser sends whatever bytes it was given, where httpx's jar wants ASCII.
    cookies = f"{SESSION_COOKIE}={client.cookies[SESSION_COOKIE]}; {NOTICE_COOKIE}={cookie}"

    page = await client.get("/rooms", headers={b"cookie": cookies.encode()})

    assert notice_on(page) is None
    assert "anything" not in page.text
    assert 'class="flash-region" role="alert" aria-live="assertive"></div>' in page.text


async def test_a_genuine_notice_changed_on_its_way_shows_nothing(
    client: httpx.AsyncClient, general: Room, bob: User
) -> None:
    await log_in(client, bob)
    left = await submit(client, "/rooms/general/leave", {}, page="/rooms/general")
    genuine = left.cookies[NOTICE_COOKIE]
    _, signature = genuine.split(".")

    client.cookies.set(NOTICE_COOKIE, f"{_payload('LEFT', room='Somewhere else')}.{signature}")
    page = await client.get("/rooms")

    assert notice_on(page) is None
    assert "Somewhere else" not in page.text
