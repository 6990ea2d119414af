"""The room socket against a real uvicorn, with real WebSocket clients."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from starlette.status import (
    WS_1008_POLICY_VIOLATION,
    WS_1012_SERVICE_RESTART,
    WS_1013_TRY_AGAIN_LATER,
)

from livechat.accounts.models import User
from livechat.chat import messages, rooms
from livechat.chat.models import Message, Room
from livechat.db import Database
from livechat.realtime.events import RoomClosed
from livechat.realtime.hub import Broadcast, room_topic
from livechat.settings import Settings
from livechat.web import sockets
from livechat.web.sockets import OpenSockets
from tests.live import (
    FRAME_TIMEOUT_S,
    Client,
    LiveServer,
    room_page,
    serving,
    session_cookie,
    socket_client,
    submit_as,
)


async def stored(db: Database, user: User, room: Room) -> list[Message]:
    return (await messages.history(db, user, room.slug)).messages


async def test_two_members_exchange_messages_live(
    server: LiveServer, general: Room, alice: User, bob: User
) -> None:
    async with (
        room_page(server, alice, general) as alice_page,
        room_page(server, bob, general) as bob_page,
    ):
        await alice_page.say("Hello <b>Bob</b>")

        frame = await bob_page.expect("Hello")
        assert "Hello &lt;b&gt;Bob&lt;/b&gt;" in frame
        assert 'hx-swap-oob="beforeend"' in frame
        acknowledgement = await alice_page.expect('id="message-form"')
        assert 'name="client_msg_id"' in acknowledgement

        await bob_page.say("Hi Alice")
        await alice_page.expect("Hi Alice")


async def test_a_broadcast_is_encoded_once_for_every_page_of_the_room(
    server: LiveServer, general: Room, alice: User, bob: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    encoded: list[str] = []
    encode = sockets._text_frame

    def counting(html: str) -> bytes:
        encoded.append(html)
        return encode(html)

    monkeypatch.setattr(sockets, "_text_frame", counting)
    async with (
        room_page(server, alice, general) as alice_page,
        room_page(server, bob, general) as bob_page,
        room_page(server, bob, general) as bobs_other_tab,
    ):
        await alice_page.say("Said once, framed once")

        for page in (alice_page, bob_page, bobs_other_tab):
            await page.expect("Said once, framed once")
        assert len([html for html in encoded if "Said once, framed once" in html]) == 1


async def test_pages_that_asked_for_compression_get_each_broadcast_compressed_for_them(
    settings: Settings, general: Room, alice: User, bob: User
) -> None:
    # Compressed per socket, a broadcast cannot be encoded once for all: it takes the
    # server's own path to each page.
    async with (
        serving(settings, ws_per_message_deflate=True) as deflating,
        room_page(deflating, alice, general) as alice_page,
        room_page(deflating, bob, general) as bob_page,
    ):
        assert bob_page.connection.protocol.extensions  # permessage-deflate
        await alice_page.say("Squeezed <i>per page</i>")

        frame = await bob_page.expect("Squeezed")
        assert "Squeezed &lt;i&gt;per page&lt;/i&gt;" in frame
        await alice_page.expect("Squeezed")


async def test_a_message_sent_after_a_rename_carries_the_new_name(
    server: LiveServer, general: Room, alice: User, bob: User
) -> None:
    async with (
        room_page(server, alice, general) as alice_page,
        room_page(server, bob, general) as bob_page,
    ):
        renamed = {"display_name": "Alice Renamed", "email": alice.email}
        assert await submit_as(server, alice.email, "/profile", renamed) == 303

        await alice_page.say("hello again")
        frame = await bob_page.expect("hello again")
    assert ">Alice Renamed</a>" in frame


async def test_a_new_name_reaches_the_earlier_messages_of_every_open_page_of_their_rooms(
    server: LiveServer, db: Database, general: Room, alice: User, bob: User
) -> None:
    elsewhere = await rooms.create_room(db, bob, name="Elsewhere")
    async with (
        room_page(server, bob, general) as in_general,
        room_page(server, bob, elsewhere) as in_elsewhere,
    ):
        renamed = {"display_name": "Alice <Renamed>", "email": alice.email}
        assert await submit_as(server, alice.email, "/profile", renamed) == 303

        frame = await in_general.expect("Alice &lt;Renamed&gt;")
        assert f".message[data-author-id=&#34;{alice.id}&#34;] .message-author" in frame
        assert f"outerHTML:.message[data-author-id=&#34;{alice.id}&#34;] &gt; .avatar" in frame
        await in_elsewhere.say("nothing of Alice here")
        await in_elsewhere.expect("nothing of Alice here")
    assert not any("Renamed" in seen for seen in in_elsewhere.seen)


async def test_each_page_is_sent_times_in_its_readers_zone_with_days_and_runs_marked(
    server: LiveServer, db: Database, general: Room, alice: User, bob: User
) -> None:
    async with db.write() as session:
        stored = await session.get(User, bob.id)
        assert stored is not None
        stored.time_zone = "Asia/Tokyo"
    async with (
        room_page(server, alice, general) as alice_page,
        room_page(server, bob, general) as bob_page,
    ):
        await alice_page.say("first of a run")
        seen_by_bob = await bob_page.expect("first of a run")
        seen_by_alice = await alice_page.expect("first of a run")
        await alice_page.say("second of the run")
        second = await bob_page.expect("second of the run")

    at = datetime.fromisoformat(re.findall(r'data-at="([^"]+)"', seen_by_bob)[0])
    assert f">{at.astimezone(ZoneInfo('Asia/Tokyo')):%H:%M}</time>" in seen_by_bob
    assert f">{at.astimezone(UTC):%H:%M}</time>" in seen_by_alice
    assert 'class="day-divider"' in seen_by_bob  # the first message the room has
    assert 'class="message message-continued"' in second
    assert 'class="day-divider"' not in second


async def test_presence_sends_only_the_entry_of_who_arrives_and_who_leaves(
    server: LiveServer, general: Room, alice: User, bob: User
) -> None:
    async with room_page(server, alice, general) as alice_page:
        await alice_page.expect("1 online")  # her own arrival
        async with room_page(server, bob, general):
            arrived = await alice_page.expect(f'id="presence-user-{bob.id}" class')
            assert 'hx-swap-oob="beforeend:#presence"' in arrived
            assert "2 online" in arrived
            assert f'id="presence-user-{alice.id}" class' not in arrived  # not the whole list
        left = await alice_page.expect("1 online")
    assert f'<li id="presence-user-{bob.id}" hx-swap-oob="delete"></li>' in left
    assert f'id="presence-user-{alice.id}"' not in left


async def test_two_tabs_of_one_person_are_one_presence_entry(
    server: LiveServer, general: Room, alice: User, bob: User
) -> None:
    async with room_page(server, alice, general) as alice_page:
        async with room_page(server, bob, general), room_page(server, bob, general):
            await alice_page.expect(f'id="presence-user-{bob.id}"')
        await alice_page.expect("1 online")
        assert not any("3 online" in frame for frame in alice_page.seen)


async def test_typing_is_shown_to_others_and_cleared_when_the_message_is_sent(
    server: LiveServer, general: Room, alice: User, bob: User
) -> None:
    async with (
        room_page(server, alice, general) as alice_page,
        room_page(server, bob, general) as bob_page,
    ):
        await alice_page.send("message-body", body="Hel")
        typing = await bob_page.expect("is typing")
        assert "Alice Martin is typing…" in typing
        assert f'data-viewer="{alice.id}"' in typing  # the line Alice's own page shows

        await alice_page.say("Hello")
        cleared = await bob_page.expect(lambda html: 'id="typing"' in html)
        assert "typing…" not in cleared


async def test_sending_too_fast_is_refused_with_the_wait_and_nothing_stored(
    server: LiveServer, db: Database, general: Room, alice: User
) -> None:
    async with room_page(server, alice, general) as alice_page:
        for number in range(10):
            await alice_page.say(f"burst {number}")
            await alice_page.expect('id="message-form"')
        await alice_page.say("one too many")

        refusal = await alice_page.expect("too fast")
        assert re.search(r"try again in \d+ s", refusal)
    bodies = [message.body for message in await stored(db, alice, general)]
    assert len(bodies) == 10
    assert "one too many" not in bodies


async def test_a_message_sent_twice_is_stored_once(
    server: LiveServer, db: Database, general: Room, alice: User, bob: User
) -> None:
    async with (
        room_page(server, alice, general) as alice_page,
        room_page(server, bob, general) as bob_page,
    ):
        client_msg_id = uuid.uuid4().hex
        await alice_page.say("only once", client_msg_id)
        await alice_page.say("only once", client_msg_id)
        await alice_page.expect('id="message-form"')
        await alice_page.expect('id="message-form"')
        await bob_page.say("after")
        await bob_page.expect("after")

    assert [m.body for m in await stored(db, alice, general)] == ["only once", "after"]
    assert sum("only once" in frame for frame in bob_page.seen) == 1


async def test_text_edited_and_sent_again_under_the_same_key_is_stored_not_dropped(
    server: LiveServer, db: Database, general: Room, alice: User, bob: User
) -> None:
    """As when the socket was down: the composer keeps its key until an acknowledgement."""
    async with (
        room_page(server, alice, general) as alice_page,
        room_page(server, bob, general) as bob_page,
    ):
        client_msg_id = uuid.uuid4().hex
        await alice_page.say("see you at 3", client_msg_id)
        await alice_page.say("see you at 4", client_msg_id)
        await bob_page.expect("see you at 3")
        await bob_page.expect("see you at 4")

    assert [m.body for m in await stored(db, alice, general)] == ["see you at 3", "see you at 4"]


async def test_asking_to_catch_up_again_on_one_connection_costs_a_token(
    server: LiveServer, general: Room, alice: User
) -> None:
    async with room_page(server, alice, general) as alice_page:  # the first catch-up is free
        answers = [await _catch_up_again(alice_page) for _ in range(30)]
        refused = [n for n, answer in enumerate(answers) if "too fast" in answer]
        assert refused, "thirty catch-ups in a row were all answered"
        assert refused[0] >= 10  # a full bucket, and whatever refilled meanwhile
        assert "reconnecting too fast, try again in 1 s" in answers[refused[0]]


async def _catch_up_again(page: Client) -> str:
    await page.catch_up(0, 0)
    return await page.expect(lambda html: 'id="presence"' in html or "too fast" in html)


async def test_an_empty_or_oversized_message_is_refused_and_the_socket_stays_open(
    server: LiveServer, db: Database, general: Room, alice: User
) -> None:
    async with room_page(server, alice, general) as alice_page:
        await alice_page.say("   ")
        await alice_page.expect("can&#39;t be empty")
        await alice_page.say("x" * 4001)
        await alice_page.expect("at most 4,000 characters")
        await alice_page.connection.send("x" * 50_000)
        await alice_page.expect("too large")
        await alice_page.connection.send("{not json")
        await alice_page.expect("not understood")
        await alice_page.connection.send(b"\x00binary")
        await alice_page.expect("not understood")
        await alice_page.send("drop-database")
        await alice_page.expect("not understood")

        await alice_page.say("still here")
        await alice_page.expect("still here")
    assert [m.body for m in await stored(db, alice, general)] == ["still here"]


async def test_hostile_frames_are_refused_and_no_one_else_notices(
    server: LiveServer, db: Database, general: Room, alice: User, bob: User
) -> None:
    """The frames that once crashed a room server, wedged the writer or killed a socket."""
    elsewhere = await rooms.create_room(db, bob, name="Elsewhere")
    async with (
        room_page(server, alice, general) as alice_page,
        room_page(server, bob, general) as bob_page,
        room_page(server, bob, elsewhere) as bob_elsewhere,
    ):
        for _ in range(20):
            await alice_page.send("delete-message-9999999999999999999999999")
        for body in ("x\ud800", "\udfff", "ok\udc00\udbff?"):  # a pair reversed is two lone ones
            await alice_page.say(body)
        await alice_page.catch_up(10**30, 10**30)
        await alice_page.send("catch-up", seq="999999999999999999999999999999", last_id="1")
        await alice_page.expect_times("not understood", 20)
        await alice_page.expect_times("not valid text", 3)

        await alice_page.say("still here")
        await bob_page.expect("still here")
        await bob_elsewhere.say("and here")
        await bob_elsewhere.expect("and here")
    assert [m.body for m in await stored(db, alice, general)] == ["still here"]


async def test_an_author_edits_in_place_and_every_page_sees_the_new_text_marked_edited(
    server: LiveServer, db: Database, general: Room, alice: User, bob: User
) -> None:
    posted = (await messages.create_message(db, bob, general.slug, "teh plan")).message
    async with (
        room_page(server, alice, general) as alice_page,
        room_page(server, bob, general) as bob_page,
    ):
        await bob_page.send(f"edit-message-{posted.id}")
        editor = await bob_page.expect(f'id="edit-form-{posted.id}"')
        assert ">teh plan</textarea>" in editor
        await bob_page.send(f"edit-form-{posted.id}", body="the <b>plan</b>")

        for page in (alice_page, bob_page):
            changed = await page.expect("the &lt;b&gt;plan&lt;/b&gt;")
            assert f'id="message-{posted.id}"' in changed
            assert 'hx-swap-oob="innerHTML"' in changed
            assert '<span class="message-edited">(edited)</span>' in changed
    [stored_message] = await stored(db, alice, general)
    assert stored_message.body == "the <b>plan</b>"
    assert stored_message.edited_at is not None


async def test_no_one_opens_an_editor_on_someone_elses_message_or_edits_it(
    server: LiveServer, db: Database, general: Room, alice: User, bob: User
) -> None:
    posted = (await messages.create_message(db, bob, general.slug, "mine alone")).message
    async with room_page(server, alice, general) as alice_page:  # the room's admin, even
        await alice_page.send(f"edit-message-{posted.id}")
        await alice_page.expect("You can only edit your own messages.")
        await alice_page.send(f"edit-form-{posted.id}", body="tampered")
        await alice_page.expect_times("You can only edit your own messages.", 2)
        await alice_page.send(f"edit-form-{posted.id}", body=["not", "text"])
        await alice_page.expect("not understood")
    assert [m.body for m in await stored(db, alice, general)] == ["mine alone"]
    assert not any("edit-form" in frame for frame in alice_page.seen)


async def test_cancelling_an_edit_puts_the_message_back_on_that_page_alone(
    server: LiveServer, db: Database, general: Room, alice: User, bob: User
) -> None:
    posted = (await messages.create_message(db, bob, general.slug, "as it was")).message
    async with (
        room_page(server, alice, general) as alice_page,
        room_page(server, bob, general) as bob_page,
    ):
        await bob_page.send(f"edit-message-{posted.id}")
        await bob_page.expect(f'id="edit-form-{posted.id}"')
        await bob_page.send(f"cancel-edit-{posted.id}")

        put_back = await bob_page.expect(f'id="message-{posted.id}"')
        assert 'hx-swap-oob="innerHTML"' in put_back
        assert "as it was" in put_back
        await bob_page.say("after the cancel")
        await alice_page.expect("after the cancel")
    assert not any(
        "edit-form" in frame or 'hx-swap-oob="innerHTML"' in frame for frame in alice_page.seen
    )


async def test_a_reaction_reaches_every_page_with_who_gave_it_and_a_second_click_takes_it_back(
    server: LiveServer, db: Database, general: Room, alice: User, bob: User
) -> None:
    posted = (await messages.create_message(db, alice, general.slug, "shipped!")).message
    async with (
        room_page(server, alice, general) as alice_page,
        room_page(server, bob, general) as bob_page,
    ):
        await bob_page.send(f"pick-{posted.id}-3")  # 🎉, from the picker
        given = await alice_page.expect('class="reaction"')
        assert f'data-reactors=" {bob.id} "' in given
        assert 'aria-label="🎉 1: Bob Okafor"' in given
        assert 'hx-swap-oob="innerHTML"' in given

        await bob_page.send(f"react-{posted.id}-3")  # the same, from the row
        taken_back = await alice_page.expect(
            lambda frame: f'id="message-{posted.id}"' in frame and 'class="reaction"' not in frame
        )
        assert "shipped!" in taken_back

        for hostile in (f"pick-{posted.id}-6", f"pick-{posted.id}-12", "pick-0-1"):
            await bob_page.send(hostile)
        await bob_page.expect_times("not understood", 3)
    [stored_message] = await stored(db, alice, general)
    assert stored_message.reactions == []


async def test_a_reply_quotes_what_it_answers_on_every_page_and_links_to_it(
    server: LiveServer, db: Database, general: Room, alice: User, bob: User
) -> None:
    question = (await messages.create_message(db, alice, general.slug, "Lunch <at> one?")).message
    async with (
        room_page(server, alice, general) as alice_page,
        room_page(server, bob, general) as bob_page,
    ):
        await bob_page.send(f"reply-to-{question.id}")
        composing = await bob_page.expect('id="replying-to"')
        assert f'name="reply_to" value="{question.id}"' in composing
        assert "Lunch &lt;at&gt; one?" in composing
        await bob_page.send(
            "message-form",
            body="Sounds good",
            client_msg_id=uuid.uuid4().hex,
            reply_to=str(question.id),
        )

        reply = await alice_page.expect("Sounds good")
        assert f'<a class="message-quote" href="/messages/{question.id}">' in reply
        assert "Lunch &lt;at&gt; one?" in reply
        await bob_page.send("cancel-reply")
        cleared = await bob_page.expect(
            lambda frame: 'id="replying-to"' in frame and "reply_to" not in frame
        )
        assert "Replying to" not in cleared

        await bob_page.send(
            "message-form", body="x", client_msg_id=uuid.uuid4().hex, reply_to="soon"
        )
        await bob_page.expect("not understood")


async def test_deleting_a_message_removes_it_from_every_page(
    server: LiveServer, db: Database, general: Room, alice: User, bob: User
) -> None:
    posted = await messages.create_message(db, bob, general.slug, "regrettable")
    message_id = posted.message.id
    async with (
        room_page(server, alice, general) as alice_page,
        room_page(server, bob, general) as bob_page,
    ):
        await alice_page.send(f"delete-message-{message_id}", message_id=str(message_id))

        removal = f'id="message-{message_id}" class="message-gone" hidden'
        await alice_page.expect(removal)  # Alice is the room's admin
        await bob_page.expect(removal)
    assert await stored(db, alice, general) == []


async def test_a_member_cannot_delete_someone_elses_message(
    server: LiveServer, db: Database, general: Room, alice: User, bob: User
) -> None:
    posted = await messages.create_message(db, alice, general.slug, "mine")
    async with room_page(server, bob, general) as bob_page:
        await bob_page.send(f"delete-message-{posted.message.id}")
        await bob_page.expect("only change your own messages")
    assert [m.body for m in await stored(db, alice, general)] == ["mine"]


async def test_a_page_that_reconnects_gets_exactly_what_it_missed(
    server: LiveServer, db: Database, general: Room, alice: User, bob: User
) -> None:
    kept = (await messages.create_message(db, alice, general.slug, "kept")).message
    edited = (await messages.create_message(db, alice, general.slug, "first draft")).message
    doomed = (await messages.create_message(db, alice, general.slug, "doomed")).message
    room = (await rooms.get_room(db, bob, general.slug)).room
    cursor = (room.last_seq, doomed.id)  # what Bob's page was rendered with

    # While Bob's page is away: one new message, one edit, one reaction, one deletion.
    await messages.create_message(db, alice, general.slug, "while you were away")
    await messages.edit_message(db, alice, edited.id, "final version")
    await messages.toggle_reaction(db, alice, edited.id, "👀", room_id=general.id)
    await messages.delete_message(db, alice, doomed.id)

    async with room_page(server, bob, general, seq=cursor[0], last_id=cursor[1]) as bob_page:
        await bob_page.say("I'm back")
        await bob_page.expect("I&#39;m back")
    replay = "".join(bob_page.seen)
    assert replay.count("while you were away") == 1
    assert f'id="message-{edited.id}" class="message"' in replay
    assert "final version" in replay
    assert 'aria-label="👀 1: Alice Martin"' in replay
    assert f'id="message-{doomed.id}" class="message-gone" hidden' in replay
    assert f'id="message-{kept.id}"' not in replay  # unchanged: not sent again
    assert replay.count("I&#39;m back") == 1


async def test_a_cursor_sent_twice_or_stale_never_brings_a_message_twice(
    server: LiveServer, db: Database, general: Room, alice: User, bob: User
) -> None:
    async with room_page(server, bob, general) as bob_page:
        for number in range(3):
            await bob_page.say(f"message {number}")
            await bob_page.expect(f"message {number}")
        for _ in range(2):  # the page's own cursor, from before those three, twice
            await bob_page.catch_up(0, 0)
            await bob_page.expect('id="presence"')
        await bob_page.say("after")
        await bob_page.expect("after")

    shown = bob_page.messages()
    assert shown.doubled == []
    assert shown.ids == [m.id for m in await stored(db, bob, general)]


async def test_a_page_that_sees_a_gap_in_the_sequence_fills_it_from_the_store(
    server: LiveServer, db: Database, general: Room, alice: User, bob: User
) -> None:
    async with (
        room_page(server, alice, general) as alice_page,
        room_page(server, bob, general) as bob_page,
    ):
        # Stored but never published, as by a server that crashed in between.
        unpublished = await messages.create_message(db, alice, general.slug, "never published")
        await alice_page.say("published")
        await bob_page.expect("published")

    shown = bob_page.messages()
    assert shown.doubled == []
    assert shown.ids == [m.id for m in await stored(db, bob, general)]
    assert shown.ids[0] == unpublished.message.id


async def test_a_page_too_far_behind_gets_its_list_anew(
    server: LiveServer, db: Database, general: Room, alice: User, bob: User
) -> None:
    for number in range(messages.REPLAY_LIMIT + 1):
        await messages.create_message(db, alice, general.slug, f"message {number}")

    async with room_page(server, bob, general) as bob_page:
        pass
    replay = "".join(bob_page.seen)
    assert 'id="messages" class="messages"' in replay
    assert f"message {messages.REPLAY_LIMIT}" in replay
    assert replay.count('<article id="message-') == messages.PAGE_SIZE


async def test_events_racing_the_catch_up_are_delivered_once(
    server: LiveServer, db: Database, general: Room, alice: User, bob: User
) -> None:
    async with room_page(server, alice, general) as alice_page:
        cookie = await session_cookie(server, bob.email)
        async with socket_client(server, f"/rooms/{general.slug}/ws", cookie) as bob_page:
            for number in range(5):  # sent before, during and after Bob's catch-up
                await alice_page.say(f"race {number}")
                if number == 2:
                    await bob_page.catch_up(0, 0)
            await bob_page.expect("race 4")
            await alice_page.say("done")
            await bob_page.expect("done")
    received = "".join(bob_page.seen)
    for number in range(5):
        assert received.count(f"race {number}") == 1


async def test_a_slow_consumer_is_closed_with_1013_while_others_keep_up(
    settings: Settings, general: Room, alice: User, bob: User
) -> None:
    async with (
        serving(settings.model_copy(update={"subscriber_queue_size": 4})) as live,
        room_page(live, alice, general) as alice_page,
        room_page(live, bob, general, sluggish=True) as bob_page,
    ):
        bulky = "x" * 200_000
        started = time.monotonic()
        flood = Broadcast(RoomClosed(general.id, bulky))  # a notice, shown in the page's flash
        for _ in range(200):  # Bob's page reads nothing while this floods in
            await live.realtime.hub.publish(room_topic(general.id), flood)
            await alice_page.expect(bulky[:100])
        alice_latency = (time.monotonic() - started) / 200

        code, _reason = await bob_page.expect_closed()
    assert code == WS_1013_TRY_AGAIN_LATER
    assert alice_latency < 0.5


@pytest.mark.parametrize(
    ("who", "origin", "reason"),
    [
        ("carol", None, "not a member"),
        ("nobody", None, "signed out"),
        ("bob", "https://evil.example", "not allowed"),
    ],
)
async def test_strangers_and_other_sites_get_no_room_data_and_a_1008(
    server: LiveServer,
    db: Database,
    general: Room,
    bob: User,
    carol: User,
    who: str,
    origin: str | None,
    reason: str,
) -> None:
    await messages.create_message(db, bob, general.slug, "members only")
    cookie = None if who == "nobody" else await session_cookie(server, f"{who}@example.com")

    async with socket_client(server, f"/rooms/{general.slug}/ws", cookie, origin=origin) as client:
        code, _ = await client.expect_closed()

    assert code == WS_1008_POLICY_VIOLATION
    received = "".join(client.seen)
    assert reason in received
    assert "members only" not in received


@pytest.mark.parametrize(
    ("origin", "forwarded_proto", "accepted"),
    [
        ("http://{host}", None, True),
        ("https://{host}", "https", True),  # TLS ended by a proxy in front
        ("https://{host}", None, False),
        ("http://{host}", "https", False),
        ("http://{hostname}:1", None, False),
        ("http://{hostname}", None, False),
        ("null", None, False),
        ("http://{host}:80:80", None, False),
    ],
)
async def test_only_a_page_of_this_scheme_host_and_port_may_connect(
    server: LiveServer,
    general: Room,
    bob: User,
    origin: str,
    forwarded_proto: str | None,
    accepted: bool,
) -> None:
    host = server.url.removeprefix("http://")
    sent_origin = origin.format(host=host, hostname=host.split(":")[0])
    cookie = await session_cookie(server, bob.email)
    path = f"/rooms/{general.slug}/ws"

    async with socket_client(
        server, path, cookie, origin=sent_origin, forwarded_proto=forwarded_proto
    ) as page:
        if accepted:
            await page.catch_up(0, 0)
            await page.expect('id="presence"')
        else:
            code, _ = await page.expect_closed()
            assert code == WS_1008_POLICY_VIOLATION
            assert "not allowed to connect here" in "".join(page.seen)


async def test_sockets_past_a_persons_cap_are_refused_with_the_reason_until_one_closes(
    settings: Settings, general: Room, bob: User
) -> None:
    async with serving(settings.model_copy(update={"sockets_per_user": 2})) as live:
        cookie = await session_cookie(live, bob.email)
        path = f"/rooms/{general.slug}/ws"
        sockets: OpenSockets = live.app.state.sockets

        async def counted(expected: int) -> None:
            # A socket takes its place once its handler runs, a moment after the client's
            # handshake, and gives it back once the handler ends: wait for the count.
            async with asyncio.timeout(FRAME_TIMEOUT_S):
                while sockets.count(bob.id) != expected:  # noqa: ASYNC110  (no event)
                    await asyncio.sleep(0.01)

        async with socket_client(live, path, cookie) as first:
            await counted(1)
            async with socket_client(live, "/lobby/ws", cookie):
                await counted(2)
                async with socket_client(live, path, cookie) as excess:
                    code, _ = await excess.expect_closed()
                assert code == WS_1008_POLICY_VIOLATION
                assert "too many livechat pages open" in "".join(excess.seen)
            await counted(1)
            async with socket_client(live, path, cookie) as later:
                await later.catch_up(0, 0)
                await later.expect('id="presence"')
            await first.catch_up(0, 0)
            await first.expect('id="presence"')


async def test_deleting_the_room_closes_its_pages_with_a_message(
    server: LiveServer, general: Room, alice: User, bob: User
) -> None:
    async with room_page(server, bob, general) as bob_page:
        path = f"/rooms/{general.slug}/delete"
        assert await submit_as(server, alice.email, path, {"confirm": "yes"}) == 303
        code, _ = await bob_page.expect_closed()
    assert code == WS_1008_POLICY_VIOLATION
    assert any("General was deleted by an admin" in frame for frame in bob_page.seen)


async def test_leaving_the_room_in_one_tab_stops_the_others_at_once(
    server: LiveServer, general: Room, alice: User, bob: User
) -> None:
    async with (
        room_page(server, alice, general) as alice_page,
        room_page(server, bob, general) as bob_page,
    ):
        assert await submit_as(server, bob.email, f"/rooms/{general.slug}/leave", {}) == 303
        code, _ = await bob_page.expect_closed()
        await alice_page.say("are you there?")
        await alice_page.expect("are you there?")
    assert code == WS_1008_POLICY_VIOLATION
    assert any("You left this room" in frame for frame in bob_page.seen)
    assert not any("are you there?" in frame for frame in bob_page.seen)


async def test_shutting_down_closes_sockets_with_1012_so_pages_reconnect(
    settings: Settings, general: Room, alice: User
) -> None:
    async with serving(settings) as live, room_page(live, alice, general) as alice_page:
        live.server.should_exit = True
        code, _ = await alice_page.expect_closed()
    assert code == WS_1012_SERVICE_RESTART


async def test_a_page_open_through_a_rename_is_told_the_new_name_and_keeps_chatting(
    server: LiveServer, general: Room, alice: User, bob: User
) -> None:
    async with (
        room_page(server, alice, general) as alice_page,
        room_page(server, bob, general) as bob_page,
    ):
        rename = {"name": "Town square", "description": "Everyone"}
        assert (
            await submit_as(server, alice.email, f"/rooms/{general.slug}/settings", rename) == 303
        )

        told = await bob_page.expect("This room is now called")
        assert "<strong>Town square</strong>" in told
        assert 'id="room-heading"' in told
        assert "Everyone" in told
        await bob_page.say("still here after the rename")
        await alice_page.expect("still here after the rename")
        await bob_page.expect("still here after the rename")


async def test_a_page_reconnecting_to_its_rooms_old_address_finds_the_room(
    server: LiveServer, db: Database, general: Room, alice: User, bob: User
) -> None:
    renamed = await rooms.update_room(db, alice, general.slug, name="Town square", description="")
    cookie = await session_cookie(server, bob.email)

    async with (
        room_page(server, alice, renamed) as alice_page,
        socket_client(server, f"/rooms/{general.slug}/ws", cookie) as bob_page,
    ):
        await bob_page.catch_up(0, 0)
        await bob_page.expect('id="presence"')
        await bob_page.say("back, by the old address")

        await alice_page.expect("back, by the old address")


async def test_a_reconnect_to_a_private_rooms_old_address_is_refused_to_a_non_member(
    server: LiveServer, db: Database, alice: User, bob: User
) -> None:
    secret = await rooms.create_room(db, alice, name="Secret plans", is_private=True)
    await rooms.update_room(db, alice, secret.slug, name="Launch date", description="")
    cookie = await session_cookie(server, bob.email)

    async with socket_client(server, f"/rooms/{secret.slug}/ws", cookie) as bob_page:
        code, _ = await bob_page.expect_closed()

    assert code == WS_1008_POLICY_VIOLATION
    assert not any("Launch" in frame or "launch-date" in frame for frame in bob_page.seen)
