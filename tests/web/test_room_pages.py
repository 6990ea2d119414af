"""The room list and room pages, driven through HTTP like a browser without JavaScript."""

from __future__ import annotations

import asyncio
import re
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi import FastAPI

from livechat.accounts.models import User
from livechat.chat import messages, rooms
from livechat.chat.models import Room
from livechat.db import Database
from livechat.realtime.actor import ActorBusy
from livechat.realtime.events import OnlineCounted
from livechat.realtime.hub import LOBBY_TOPIC, Broadcast, Subscription
from livechat.realtime.presence import Person, Sidebar
from livechat.realtime.tree import Realtime
from tests.helpers import csrf_token, eventually, log_in, next_batch, submit
from tests.live import FRAME_TIMEOUT_S


async def test_the_room_list_shows_rooms_with_member_counts_and_the_callers_role(
    client: httpx.AsyncClient, db: Database, alice: User, bob: User
) -> None:
    general = await rooms.create_room(db, alice, name="General", description="Everything")
    await rooms.join_room(db, bob, general.slug)
    await log_in(client, bob)

    page = (await client.get("/rooms")).text

    assert f'id="room-{general.id}"' in page
    assert "Everything" in page
    assert "2 members" in page
    assert "joined" in page


async def test_creating_a_room_opens_it_and_makes_the_creator_its_admin(
    client: httpx.AsyncClient, db: Database, alice: User
) -> None:
    await log_in(client, alice)

    response = await submit(
        client, "/rooms", {"name": "Design Reviews", "description": "Crits"}, page="/rooms"
    )

    assert response.status_code == 303
    assert response.headers["location"] == "/rooms/design-reviews"
    room = (await client.get("/rooms/design-reviews")).text
    assert "Design Reviews" in room
    assert "Room settings" in room  # only admins see it


async def test_a_room_without_a_name_is_refused_with_the_form_kept(
    client: httpx.AsyncClient, alice: User
) -> None:
    await log_in(client, alice)

    response = await submit(client, "/rooms", {"name": "  ", "description": "kept"}, page="/rooms")

    assert response.status_code == 400
    assert "A room needs a name" in response.text
    assert ">kept</textarea>" in response.text


async def test_room_names_and_messages_are_escaped_on_every_page(
    client: httpx.AsyncClient, db: Database, alice: User
) -> None:
    room = await rooms.create_room(db, alice, name="<b>bold</b>")
    await messages.create_message(db, alice, room.slug, '<img src=x onerror="alert(1)">')
    await log_in(client, alice)

    listing = (await client.get("/rooms")).text
    page = (await client.get(f"/rooms/{room.slug}")).text

    for html in (listing, page):
        assert "<b>bold</b>" not in html
        assert "&lt;b&gt;bold&lt;/b&gt;" in html
    assert "<img src=x" not in page
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in page


async def test_a_private_room_is_invisible_to_non_members_on_every_path(
    client: httpx.AsyncClient, db: Database, alice: User, bob: User
) -> None:
    secret = await rooms.create_room(db, alice, name="Secret plans", is_private=True)
    posted = await messages.create_message(db, alice, secret.slug, "the launch date")
    await log_in(client, bob)

    assert "Secret plans" not in (await client.get("/rooms")).text
    for path in (
        f"/rooms/{secret.slug}",
        f"/rooms/{secret.slug}/messages?before={posted.message.id + 1}",
    ):
        response = await client.get(path)
        assert response.status_code == 404
        assert "the launch date" not in response.text
        assert "Secret plans" not in response.text
    joined = await submit(client, f"/rooms/{secret.slug}/join", {}, page="/rooms")
    assert joined.status_code == 404


async def test_an_invited_member_can_open_a_private_room(
    client: httpx.AsyncClient, db: Database, alice: User, bob: User
) -> None:
    secret = await rooms.create_room(db, alice, name="Secret plans", is_private=True)
    await log_in(client, alice)

    invited = await submit(
        client, f"/rooms/{secret.slug}/members", {"email": bob.email}, page="/rooms"
    )

    assert invited.status_code == 303
    assert (await rooms.get_room(db, bob, secret.slug)).is_member


async def test_joining_and_leaving_a_public_room(
    client: httpx.AsyncClient, db: Database, alice: User, bob: User
) -> None:
    room = await rooms.create_room(db, alice, name="General")
    await log_in(client, bob)

    assert "Join room" in (await client.get(f"/rooms/{room.slug}")).text
    joined = await submit(client, f"/rooms/{room.slug}/join", {}, page="/rooms")
    assert joined.headers["location"] == f"/rooms/{room.slug}"
    assert (await rooms.get_room(db, bob, room.slug)).is_member

    left = await submit(client, f"/rooms/{room.slug}/leave", {}, page="/rooms")
    assert left.headers["location"] == "/rooms"
    assert not (await rooms.get_room(db, bob, room.slug)).is_member


async def test_the_room_page_shows_the_newest_fifty_and_loads_older_ones_on_scroll(
    client: httpx.AsyncClient, db: Database, alice: User
) -> None:
    room = await rooms.create_room(db, alice, name="General")
    for number in range(1, 61):
        await messages.create_message(db, alice, room.slug, f"message number {number}")
    await log_in(client, alice)

    page = (await client.get(f"/rooms/{room.slug}")).text
    assert page.count('<article id="message-') == 50
    assert "message number 60" in page
    assert "message number 10<" not in page
    oldest_shown = page.split('<article id="message-')[1].split('"')[0]
    assert f"messages?before={oldest_shown}" in page

    older = (await client.get(f"/rooms/{room.slug}/messages?before={oldest_shown}")).text
    assert older.count('<article id="message-') == 10
    assert "message number 1<" in older
    assert "very beginning" in older


async def test_a_room_opened_at_an_old_message_says_how_many_newer_ones_follow_and_loads_them(
    client: httpx.AsyncClient, db: Database, alice: User
) -> None:
    room = await rooms.create_room(db, alice, name="General")
    posted = [
        (await messages.create_message(db, alice, room.slug, f"message number {n}")).message
        for n in range(1, 91)
    ]
    await log_in(client, alice)

    page = (await client.get(f"/rooms/{room.slug}?around={posted[4].id}")).text
    assert page.count('<article id="message-') == 30  # five before it, 25 after
    assert "60 newer messages · loading as you scroll" in page
    gap = f"messages?after={posted[29].id}&amp;until={posted[-1].id}"
    assert gap in page
    newer = (await client.get(f"/rooms/{room.slug}/{gap.replace('&amp;', '&')}")).text

    assert newer.count('<article id="message-') == 50
    assert "10 newer messages" in newer
    assert "very beginning" not in newer
    rest = (await client.get(f"/rooms/{room.slug}/messages?after={posted[79].id}")).text
    assert rest.count('<article id="message-') == 10
    assert "history-gap" not in rest


async def test_a_room_opened_at_its_newest_message_shows_no_gap(
    client: httpx.AsyncClient, db: Database, alice: User
) -> None:
    room = await rooms.create_room(db, alice, name="General")
    for n in range(1, 4):
        last = await messages.create_message(db, alice, room.slug, f"message number {n}")
    await log_in(client, alice)

    page = (await client.get(f"/rooms/{room.slug}?around={last.message.id}")).text

    assert "history-gap" not in page
    assert "very beginning" in page


async def test_a_room_page_shows_times_in_the_zone_the_browser_reported(
    client: httpx.AsyncClient, db: Database, alice: User
) -> None:
    room = await rooms.create_room(db, alice, name="General")
    posted = (await messages.create_message(db, alice, room.slug, "hello")).message
    await log_in(client, alice)
    client.cookies.set("tz", "America/New_York")

    page = (await client.get(f"/rooms/{room.slug}")).text

    local = posted.inserted_at.astimezone(ZoneInfo("America/New_York"))
    assert f">{local:%H:%M}</time>" in page
    assert f'id="day-{local.date().isoformat()}"' in page


async def test_older_messages_that_end_on_the_day_the_list_begins_with_take_its_divider(
    client: httpx.AsyncClient, db: Database, alice: User
) -> None:
    room = await rooms.create_room(db, alice, name="General")
    posted = [
        (await messages.create_message(db, alice, room.slug, f"message number {n}")).message
        for n in range(1, 53)
    ]
    await log_in(client, alice)

    older = (await client.get(f"/rooms/{room.slug}/messages?before={posted[2].id}")).text

    today = posted[0].inserted_at.date().isoformat()
    assert older.count(f'id="day-{today}"') == 2
    assert f'<h2 id="day-{today}" hx-swap-oob="delete"></h2>' in older


@pytest.mark.parametrize("query", ["", "?before=1&after=1", "?until=5"])
async def test_history_asks_for_one_direction(
    client: httpx.AsyncClient, db: Database, alice: User, query: str
) -> None:
    room = await rooms.create_room(db, alice, name="General")
    await log_in(client, alice)

    response = await client.get(f"/rooms/{room.slug}/messages{query}")

    assert response.status_code == 400


@pytest.mark.parametrize(
    "query",
    [
        "/messages?before=99999999999999999999999",
        "/messages?before=-3",
        "/messages?before=soon",
        "/messages?after=0",
        "/messages?after=1&until=-1",
        "?around=99999999999999999999999",
        "?around=0",
    ],
)
async def test_a_message_id_out_of_range_is_a_clear_400_not_a_crash(
    client: httpx.AsyncClient, db: Database, alice: User, query: str
) -> None:
    room = await rooms.create_room(db, alice, name="General")
    await log_in(client, alice)

    response = await client.get(f"/rooms/{room.slug}{query}")

    assert response.status_code == 400
    assert "malformed" in response.text


async def test_only_an_admin_can_rename_a_room(
    client: httpx.AsyncClient, db: Database, alice: User, bob: User
) -> None:
    room = await rooms.create_room(db, alice, name="General")
    await rooms.join_room(db, bob, room.slug)
    await log_in(client, bob)

    refused = await submit(
        client, f"/rooms/{room.slug}/settings", {"name": "Mine now"}, page="/rooms"
    )

    assert refused.status_code == 403
    assert "Only an admin" in refused.text
    assert (await rooms.get_room(db, alice, room.slug)).room.name == "General"


async def test_deleting_a_room_needs_an_admin_and_a_confirmation(
    client: httpx.AsyncClient, db: Database, alice: User
) -> None:
    room = await rooms.create_room(db, alice, name="General")
    await log_in(client, alice)

    unconfirmed = await submit(client, f"/rooms/{room.slug}/delete", {}, page="/rooms")
    assert unconfirmed.status_code == 400
    assert len(await rooms.list_rooms(db, alice.id)) == 1

    confirmed = await submit(
        client, f"/rooms/{room.slug}/delete", {"confirm": "yes"}, page="/rooms"
    )
    assert confirmed.headers["location"] == "/rooms"
    assert await rooms.list_rooms(db, alice.id) == []


async def test_the_create_room_form_shows_errors_in_place_for_htmx(
    client: httpx.AsyncClient, alice: User
) -> None:
    await log_in(client, alice)
    token = await csrf_token(client, "/rooms")

    response = await client.post(
        "/rooms", data={"name": ""}, headers={"HX-Request": "true", "X-CSRF-Token": token}
    )

    assert response.status_code == 400
    assert response.text.lstrip().startswith('<form id="create-room-form"')
    assert "A room needs a name" in response.text


async def test_an_admin_sees_the_members_and_can_remove_one(
    client: httpx.AsyncClient, other_client: httpx.AsyncClient, db: Database, alice: User, bob: User
) -> None:
    room = await rooms.create_room(db, alice, name="General")
    await rooms.join_room(db, bob, room.slug)
    await log_in(client, alice)
    await log_in(other_client, bob)

    page = (await client.get(f"/rooms/{room.slug}")).text
    remove = f"/rooms/{room.slug}/members/{bob.id}/remove"
    assert f'action="{remove}"' in page
    assert f'action="/rooms/{room.slug}/members/{alice.id}/remove"' not in page
    assert "Members" not in (await other_client.get(f"/rooms/{room.slug}")).text

    response = await submit(client, remove, {}, page=f"/rooms/{room.slug}")

    assert response.status_code == 303
    assert not (await rooms.get_room(db, bob, room.slug)).is_member


async def test_a_member_cannot_remove_anyone(
    client: httpx.AsyncClient, db: Database, alice: User, bob: User
) -> None:
    room = await rooms.create_room(db, alice, name="General")
    await rooms.join_room(db, bob, room.slug)
    await log_in(client, bob)

    remove = f"/rooms/{room.slug}/members/{alice.id}/remove"
    response = await submit(client, remove, {}, page=f"/rooms/{room.slug}")

    assert response.status_code == 403
    assert len(await rooms.members(db, room)) == 2


async def test_the_room_page_opens_while_presence_is_too_busy_to_say_who_is_online(
    app: FastAPI,
    client: httpx.AsyncClient,
    db: Database,
    alice: User,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    general = await rooms.create_room(db, alice, name="General")
    await log_in(client, alice)

    async def overloaded(_room_id: int) -> Sidebar:
        raise ActorBusy("presence is overloaded")

    monkeypatch.setattr(app.state.realtime.presence, "online", overloaded)
    response = await client.get(f"/rooms/{general.slug}")

    assert response.status_code == 200
    assert 'id="message-form"' in response.text
    assert 'id="presence"' in response.text  # empty, until the page's socket asks again


# Renamed rooms: their old addresses lead to them, for those who may read them


async def test_a_renamed_rooms_old_address_redirects_to_its_new_one_query_and_all(
    client: httpx.AsyncClient, db: Database, alice: User, bob: User
) -> None:
    room = await rooms.create_room(db, alice, name="General")
    posted = await messages.create_message(db, alice, room.slug, "said before the rename")
    await rooms.update_room(db, alice, room.slug, name="Town square", description="")
    await log_in(client, bob)
    message_id = posted.message.id

    for old, new in [
        ("/rooms/general", "/rooms/town-square"),
        (f"/rooms/general?around={message_id}", f"/rooms/town-square?around={message_id}"),
        (
            f"/rooms/general/messages?before={message_id + 1}",
            f"/rooms/town-square/messages?before={message_id + 1}",
        ),
    ]:
        response = await client.get(old)
        assert response.status_code == 308, old
        assert response.headers["location"] == new
        # The answer is this person's, until the room is renamed again: never kept.
        assert response.headers["cache-control"] == "no-store"

    page = await client.get("/rooms/general", follow_redirects=True)
    assert page.status_code == 200
    assert "said before the rename" in page.text


async def test_a_form_on_a_page_opened_before_a_rename_is_posted_again_to_the_new_address(
    client: httpx.AsyncClient, db: Database, alice: User, bob: User
) -> None:
    room = await rooms.create_room(db, alice, name="General")
    await rooms.join_room(db, bob, room.slug)
    await log_in(client, bob)
    token = await csrf_token(client, "/rooms/general")
    await rooms.update_room(db, alice, room.slug, name="Town square", description="")

    moved = await client.post("/rooms/general/leave", data={"csrf_token": token})
    assert moved.status_code == 308  # the same method and body, at the new address
    assert moved.headers["location"] == "/rooms/town-square/leave"
    assert (await rooms.get_room(db, bob, "town-square")).is_member  # nothing done yet

    left = await client.post(moved.headers["location"], data={"csrf_token": token})

    assert left.status_code == 303
    assert not (await rooms.get_room(db, bob, "town-square")).is_member


async def test_a_private_rooms_old_address_is_a_plain_404_for_a_non_member(
    client: httpx.AsyncClient, other_client: httpx.AsyncClient, db: Database, alice: User, bob: User
) -> None:
    secret = await rooms.create_room(db, alice, name="Secret plans", is_private=True)
    await rooms.update_room(db, alice, secret.slug, name="Launch date", description="")
    await log_in(client, bob)
    await log_in(other_client, alice)

    unknown = await client.get("/rooms/no-such-room")
    for path in ("/rooms/secret-plans", "/rooms/secret-plans/messages?before=1"):
        response = await client.get(path)
        assert response.status_code == 404
        assert response.text == unknown.text
        assert "launch" not in str(response.headers).lower()
    joined = await submit(client, "/rooms/secret-plans/join", {}, page="/rooms")
    assert joined.status_code == 404
    assert (await other_client.get("/rooms/secret-plans")).headers["location"] == (
        "/rooms/launch-date"
    )


async def test_a_room_renamed_back_answers_at_its_first_address_again(
    client: httpx.AsyncClient, db: Database, alice: User
) -> None:
    room = await rooms.create_room(db, alice, name="General")
    await log_in(client, alice)

    renamed = await submit(
        client, "/rooms/general/settings", {"name": "Town square"}, page="/rooms/general"
    )
    assert renamed.headers["location"] == "/rooms/town-square"
    back = await submit(
        client, "/rooms/town-square/settings", {"name": "General"}, page="/rooms/town-square"
    )
    assert back.headers["location"] == "/rooms/general"

    assert (await client.get("/rooms/general")).status_code == 200
    assert (await client.get("/rooms/town-square")).headers["location"] == "/rooms/general"
    assert (await rooms.get_room(db, alice, "general")).room.id == room.id


async def test_the_room_list_and_search_results_link_to_a_renamed_rooms_new_address(
    client: httpx.AsyncClient, db: Database, alice: User
) -> None:
    room = await rooms.create_room(db, alice, name="General")
    posted = await messages.create_message(db, alice, room.slug, "findable words")
    await rooms.update_room(db, alice, room.slug, name="Town square", description="")
    await log_in(client, alice)

    listing = (await client.get("/rooms")).text
    found = (await client.get("/search?q=findable")).text
    # A search box on a page opened before the rename still searches that room.
    in_room = await client.get("/search?q=findable&room=general")

    assert 'href="/rooms/town-square"' in listing
    assert 'href="/rooms/general"' not in listing
    assert f'href="/rooms/town-square?around={posted.message.id}' in found
    assert in_room.status_code == 200
    assert f'href="/rooms/town-square?around={posted.message.id}' in in_room.text
    assert 'name="room" value="town-square"' in in_room.text


async def test_a_deleted_rooms_old_address_is_gone_with_it(
    client: httpx.AsyncClient, db: Database, alice: User
) -> None:
    room = await rooms.create_room(db, alice, name="General")
    await rooms.update_room(db, alice, room.slug, name="Town square", description="")
    await rooms.delete_room(db, alice, "town-square")
    await log_in(client, alice)

    assert (await client.get("/rooms/general")).status_code == 404


# Whoever leaves is counted out of the room at once, though their page is still open


async def open_pages(realtime: Realtime, room: Room, *people: User) -> None:
    """Room pages of ``people`` whose sockets stay open until the test ends, as a page's
    does for a moment after its person left."""
    for person in people:
        page = Person(person.id, person.display_name)
        realtime.presence.track(room.id, page, f"page-of-{person.id}", public=not room.is_private)

    async def all_in() -> bool:
        return realtime.presence.online_count(room.id) == len(people)

    await eventually(all_in)


async def next_online_count(lobby: Subscription, room: Room) -> int:
    """The next online count for ``room`` that room lists are sent."""
    while True:
        batch = await next_batch(lobby)
        assert batch is not None, "the room lists fell behind"
        for item in batch:
            event = item.event if isinstance(item, Broadcast) else None
            if isinstance(event, OnlineCounted) and event.room_id == room.id:
                return event.count


async def test_right_after_leaving_the_room_list_no_longer_counts_you_in_the_room(
    app: FastAPI, client: httpx.AsyncClient, general: Room, alice: User, bob: User
) -> None:
    await open_pages(app.state.realtime, general, alice, bob)
    await log_in(client, bob)

    await submit(client, f"/rooms/{general.slug}/leave", {}, page="/rooms")
    listing = (await client.get("/rooms")).text

    assert re.search(rf'id="room-{general.id}-online"[^>]*>1 online<', listing)


async def test_someone_leaving_is_counted_out_of_everyone_elses_room_list(
    app: FastAPI, client: httpx.AsyncClient, general: Room, alice: User, bob: User
) -> None:
    realtime: Realtime = app.state.realtime
    await open_pages(realtime, general, alice, bob)
    await log_in(client, bob)

    async with realtime.hub.subscribe(LOBBY_TOPIC) as lobby:
        await submit(client, f"/rooms/{general.slug}/leave", {}, page="/rooms")
        async with asyncio.timeout(FRAME_TIMEOUT_S):
            while await next_online_count(lobby, general) != 1:
                pass  # the count from before, sent as the pages opened


async def test_someone_removed_is_counted_out_of_the_room_at_once(
    app: FastAPI, client: httpx.AsyncClient, general: Room, alice: User, bob: User
) -> None:
    await open_pages(app.state.realtime, general, alice, bob)
    await log_in(client, alice)

    await submit(client, f"/rooms/{general.slug}/members/{bob.id}/remove", {}, page="/rooms")
    listing = (await client.get("/rooms")).text

    assert re.search(rf'id="room-{general.id}-online"[^>]*>1 online<', listing)


async def test_a_message_link_opens_its_room_at_it_and_is_a_404_to_outsiders(
    client: httpx.AsyncClient, db: Database, alice: User, bob: User
) -> None:
    secret = await rooms.create_room(db, alice, name="Secret", is_private=True)
    posted = (await messages.create_message(db, alice, secret.slug, "hidden")).message
    await log_in(client, alice)

    found = await client.get(f"/messages/{posted.id}")
    assert found.status_code == 303
    assert found.headers["location"] == f"/rooms/secret?around={posted.id}#message-{posted.id}"

    client.cookies.clear()
    await log_in(client, bob)
    assert (await client.get(f"/messages/{posted.id}")).status_code == 404
    assert (await client.get("/messages/0")).status_code == 400
