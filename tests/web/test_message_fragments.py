"""Rendered messages kept for reuse: served again while nothing they show has changed, and
never once it has."""

from __future__ import annotations

import io
import logging
from datetime import UTC, datetime

import httpx
import pytest
from jinja2 import meta
from PIL import Image

from livechat.accounts.models import User
from livechat.chat import messages, rooms
from livechat.chat.models import Message
from livechat.db import Database
from livechat.web.fragments import MessageFragments
from livechat.web.templating import templates
from tests.helpers import csrf_token, log_in, submit

STORED_AT = datetime(2026, 11, 30, 9, 15, tzinfo=UTC)


def _message(message_id: int = 1, body: str = "hello", author: User | None = None) -> Message:
    author = author or User(id=7, display_name="Alice Martin", avatar_url=None)
    return Message(
        id=message_id,
        room_id=1,
        user_id=author.id,
        body=body,
        seq=message_id,
        inserted_at=STORED_AT,
        author=author,
        attachments=[],
    )


def test_the_message_partial_depends_on_nothing_but_the_message() -> None:
    assert templates.env.loader is not None
    source, _, _ = templates.env.loader.get_source(templates.env, "partials/message.html")

    # Anything else (the viewer, their CSRF token, the time of the request) would make
    # one viewer's fragment wrong for the next.
    assert meta.find_undeclared_variables(templates.env.parse(source)) == {"message", "oob"}


def test_a_message_is_served_again_while_its_sequence_number_stays_the_same() -> None:
    fragments = MessageFragments(templates.env)
    message = _message(body="first words")
    fragments.html(message)

    message.body = "a change that did not come with a new sequence number"

    assert "first words" in fragments.html(message)


def test_an_edited_message_is_rendered_anew_under_its_new_sequence_number() -> None:
    fragments = MessageFragments(templates.env)
    message = _message(body="first draft")
    fragments.html(message)

    message.body, message.seq, message.edited_at = "final version", 9, STORED_AT

    html = fragments.html(message)
    assert "final version" in html
    assert "(edited)" in html
    assert "first draft" not in html


def test_a_new_name_or_picture_of_the_author_shows_on_a_message_that_did_not_change() -> None:
    fragments = MessageFragments(templates.env)
    author = User(id=7, display_name="Alice Martin", avatar_url=None)
    message = _message(author=author)
    fragments.html(message)

    author.display_name = "Alice Renamed"
    renamed = fragments.html(message)
    author.avatar_url = "/avatars/new.webp"
    pictured = fragments.html(message)

    assert ">Alice Renamed</a>" in renamed
    assert 'src="/avatars/new.webp"' in pictured


def test_a_message_by_someone_whose_picture_was_never_set_shows_their_initials() -> None:
    fragments = MessageFragments(templates.env)
    author = User(id=8, display_name="Nadia Ali")  # as made in this process: no picture

    html = fragments.html(_message(author=author))

    assert ">Nadia Ali</a>" in html
    assert ">NA</span>" in html


def test_the_out_of_band_copy_of_a_message_is_kept_apart_from_the_plain_one() -> None:
    fragments = MessageFragments(templates.env)
    message = _message()

    plain, swapped = fragments.html(message), fragments.html(message, oob=True)

    assert 'hx-swap-oob="innerHTML"' not in plain
    assert 'hx-swap-oob="innerHTML"' in swapped


def test_a_list_of_messages_is_their_fragments_one_after_another() -> None:
    fragments = MessageFragments(templates.env)
    first, second = _message(1, "first"), _message(2, "second")

    listed = fragments.list_html([first, second])

    assert listed == fragments.html(first) + fragments.html(second)
    assert listed.index("first") < listed.index("second")


def test_only_the_most_recently_used_fragments_are_kept() -> None:
    fragments = MessageFragments(templates.env, max_size=2)
    oldest, used_again, newest = _message(1, "one"), _message(2, "two"), _message(3, "three")
    for message in (oldest, used_again):
        fragments.html(message)
    fragments.html(oldest)  # now the most recently used of the two

    fragments.html(newest)
    oldest.body = used_again.body = "changed without a new sequence number"

    assert len(fragments) == 2
    assert "one" in fragments.html(oldest)
    assert "changed without" in fragments.html(used_again)


def test_a_message_that_fails_to_render_becomes_a_placeholder_and_is_tried_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fragments = MessageFragments(templates.env)
    broken = Message(id=5, seq=5, body="who said this?", inserted_at=STORED_AT)  # no author

    with caplog.at_level(logging.ERROR):
        html = fragments.html(broken)

    assert 'id="message-5" class="message message-unavailable"' in html
    assert "message 5 failed to render" in caplog.text
    assert len(fragments) == 0


async def test_every_viewer_of_a_room_gets_the_same_message_fragments(
    client: httpx.AsyncClient,
    other_client: httpx.AsyncClient,
    db: Database,
    alice: User,
    bob: User,
) -> None:
    room = await rooms.create_room(db, alice, name="General")
    await rooms.join_room(db, bob, room.slug)
    posted = (await messages.create_message(db, alice, room.slug, "for everyone")).message
    await log_in(client, alice)
    await log_in(other_client, bob)

    pages = [(await browser.get(f"/rooms/{room.slug}")).text for browser in (client, other_client)]

    starts = [page[page.index(f'<article id="message-{posted.id}"') :] for page in pages]
    alices, bobs = (html[: html.index("</article>")] for html in starts)
    assert alices == bobs
    assert "for everyone" in alices


async def test_an_edited_message_shows_its_new_text_in_the_history_loaded_on_scroll(
    client: httpx.AsyncClient, db: Database, alice: User
) -> None:
    room = await rooms.create_room(db, alice, name="General")
    posted = (await messages.create_message(db, alice, room.slug, "first draft")).message
    await log_in(client, alice)
    history = f"/rooms/{room.slug}/messages?before={posted.id + 1}"
    assert "first draft" in (await client.get(history)).text

    await messages.edit_message(db, alice, posted.id, "final version")

    page = (await client.get(history)).text
    assert "final version" in page
    assert "(edited)" in page
    assert "first draft" not in page


async def test_a_new_picture_shows_on_older_messages_in_rooms_opened_afterwards(
    client: httpx.AsyncClient, db: Database, alice: User
) -> None:
    room = await rooms.create_room(db, alice, name="General")
    await messages.create_message(db, alice, room.slug, "said before the new picture")
    await log_in(client, alice)
    assert "said before the new picture" in (await client.get(f"/rooms/{room.slug}")).text
    picture = io.BytesIO()
    Image.new("RGB", (64, 64), "teal").save(picture, format="PNG")

    uploaded = await client.post(
        "/profile/avatar",
        files={"avatar": ("me.png", picture.getvalue(), "image/png")},
        headers={"X-CSRF-Token": await csrf_token(client, "/profile")},
    )

    assert uploaded.status_code == 204
    page = (await client.get(f"/rooms/{room.slug}")).text
    article = page[page.index('<article id="message-') :]
    assert article.index('<img class="avatar avatar-md" src="/avatars/') < article.index(
        "said before the new picture"
    )
    assert "avatar-initials" not in article


async def test_a_new_name_shows_on_older_messages_loaded_on_scroll(
    client: httpx.AsyncClient, db: Database, alice: User
) -> None:
    room = await rooms.create_room(db, alice, name="General")
    posted = (await messages.create_message(db, alice, room.slug, "said before")).message
    await log_in(client, alice)
    history = f"/rooms/{room.slug}/messages?before={posted.id + 1}"
    assert "Alice Martin" in (await client.get(history)).text

    await submit(
        client, "/profile", {"display_name": "Alice Renamed", "email": alice.email}, page="/profile"
    )

    page = (await client.get(history)).text
    assert ">Alice Renamed</a>" in page
    assert "Alice Martin" not in page
