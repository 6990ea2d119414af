"""The search page and its as-you-type results fragment."""

from __future__ import annotations

import httpx
import pytest

from livechat.accounts.models import User
from livechat.chat import messages, rooms
from livechat.chat.models import Room
from livechat.db import Database
from tests.helpers import log_in

HTMX = {"HX-Request": "true"}


async def test_an_empty_search_shows_a_hint_and_no_messages(
    client: httpx.AsyncClient, db: Database, general: Room, alice: User
) -> None:
    await messages.create_message(db, alice, general.slug, "visible to everyone")
    await log_in(client, alice)

    page = await client.get("/search")

    assert page.status_code == 200
    assert "Type a word or two" in page.text
    assert "visible to everyone" not in page.text


async def test_typing_returns_only_the_results_fragment_with_highlighted_escaped_matches(
    client: httpx.AsyncClient, db: Database, general: Room, alice: User
) -> None:
    posted = await messages.create_message(
        db, alice, general.slug, "<script>alert(1)</script> deploy tonight"
    )
    await log_in(client, alice)

    response = await client.get("/search?q=depl", headers=HTMX)

    assert response.status_code == 200
    assert response.text.lstrip().startswith('<section id="search-results"')
    assert "<mark>deploy</mark>" in response.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text
    assert "<script>" not in response.text
    target = f"/rooms/{general.slug}?around={posted.message.id}#message-{posted.message.id}"
    assert f'href="{target}"' in response.text


async def test_a_search_is_a_linkable_page_that_survives_a_reload(
    client: httpx.AsyncClient, db: Database, general: Room, alice: User
) -> None:
    await messages.create_message(db, alice, general.slug, "quarterly roadmap")
    await log_in(client, alice)

    page = await client.get("/search?q=roadmap")

    assert 'value="roadmap"' in page.text
    assert "<mark>roadmap</mark>" in page.text
    assert "<html" in page.text


async def test_no_match_says_so(client: httpx.AsyncClient, general: Room, alice: User) -> None:
    await log_in(client, alice)

    response = await client.get("/search?q=zebra", headers=HTMX)

    assert "No messages match <strong>zebra</strong>" in response.text


async def test_a_room_scope_searches_that_room_only(
    client: httpx.AsyncClient, db: Database, general: Room, alice: User
) -> None:
    other = await rooms.create_room(db, alice, name="Random")
    await messages.create_message(db, alice, general.slug, "launch in general")
    await messages.create_message(db, alice, other.slug, "launch in random")
    await log_in(client, alice)

    scoped = await client.get(f"/search?q=launch&room={general.slug}", headers=HTMX)
    everywhere = await client.get("/search?q=launch", headers=HTMX)

    assert "in general" in scoped.text
    assert "in random" not in scoped.text
    assert "in general" in everywhere.text
    assert "in random" in everywhere.text


async def test_the_scopes_search_my_rooms_or_every_public_room_as_they_say(
    client: httpx.AsyncClient, db: Database, alice: User, bob: User
) -> None:
    unjoined = await rooms.create_room(db, alice, name="Launches")
    await messages.create_message(db, alice, unjoined.slug, "launch plan")
    await log_in(client, bob)

    page = await client.get("/search?q=launch")
    mine = await client.get("/search?q=launch&scope=mine", headers=HTMX)
    public = await client.get("/search?q=launch&scope=public", headers=HTMX)

    assert "In my rooms and all public rooms" in page.text
    assert "No messages match" in page.text
    assert "No messages match" in mine.text
    assert "<mark>launch</mark> plan" in public.text


async def test_more_results_keep_the_scope_they_were_asked_for(
    client: httpx.AsyncClient, db: Database, alice: User, bob: User
) -> None:
    unjoined = await rooms.create_room(db, alice, name="Standups")
    for number in range(21):
        await messages.create_message(db, alice, unjoined.slug, f"standup notes {number}")
    await log_in(client, bob)

    first = await client.get("/search?q=standup&scope=public", headers=HTMX)

    assert "scope=public" in first.text
    assert first.text.count('class="search-result"') == 20


async def test_the_room_scope_is_offered_only_with_a_room(
    client: httpx.AsyncClient, db: Database, general: Room, alice: User
) -> None:
    await log_in(client, alice)

    with_room = await client.get(f"/search?room={general.slug}")
    without = await client.get("/search?scope=room&q=anything")

    assert '<option value="room" selected>In General</option>' in with_room.text
    assert 'value="room"' not in without.text
    assert '<option value="mine" selected>' in without.text


async def test_an_unknown_scope_is_refused_without_a_server_error(
    client: httpx.AsyncClient, general: Room, alice: User
) -> None:
    await log_in(client, alice)

    response = await client.get("/search?q=x&scope=everything", headers=HTMX)

    assert response.status_code == 400


async def test_private_rooms_never_leak_into_results(
    client: httpx.AsyncClient, db: Database, alice: User, bob: User
) -> None:
    secret = await rooms.create_room(db, alice, name="Secret", is_private=True)
    await messages.create_message(db, alice, secret.slug, "acquisition target")
    await log_in(client, bob)

    found = await client.get("/search?q=acquisition", headers=HTMX)
    scoped = await client.get(f"/search?q=acquisition&room={secret.slug}", headers=HTMX)

    assert "No messages match" in found.text
    assert "acquisition target" not in found.text
    assert scoped.status_code == 404
    assert "acquisition target" not in scoped.text


async def test_a_deleted_message_disappears_from_results_at_once(
    client: httpx.AsyncClient, db: Database, general: Room, alice: User
) -> None:
    posted = await messages.create_message(db, alice, general.slug, "temporary secret")
    await log_in(client, alice)
    assert "temporary" in (await client.get("/search?q=temporary", headers=HTMX)).text

    await messages.delete_message(db, alice, posted.message.id)

    assert "No messages match" in (await client.get("/search?q=temporary", headers=HTMX)).text


async def test_more_results_load_as_the_list_is_scrolled(
    client: httpx.AsyncClient, db: Database, general: Room, alice: User
) -> None:
    for number in range(25):
        await messages.create_message(db, alice, general.slug, f"standup notes {number}")
    await log_in(client, alice)

    first = await client.get("/search?q=standup", headers=HTMX)
    assert first.text.count('class="search-result"') == 20
    assert 'hx-trigger="revealed"' in first.text
    more = await client.get("/search?q=standup&offset=20", headers=HTMX)

    assert more.text.count('class="search-result"') == 5
    assert 'hx-trigger="revealed"' not in more.text


@pytest.mark.parametrize(
    "query",
    ['"', "AND (", "*", "NEAR(", "body:", "-", "a\x00b", "😀", ")(", "x" * 10_240, "' OR 1=1 --"],
)
async def test_any_input_gives_results_or_no_match_never_an_error(
    client: httpx.AsyncClient, db: Database, general: Room, alice: User, query: str
) -> None:
    await messages.create_message(db, alice, general.slug, "and near body")
    await log_in(client, alice)

    response = await client.get("/search", params={"q": query}, headers=HTMX)

    assert response.status_code == 200
    assert 'id="search-results"' in response.text
