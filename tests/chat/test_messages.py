"""Messages: posting (idempotently), paging through history, editing and deleting."""

from __future__ import annotations

import asyncio
from itertools import pairwise

import pytest
from sqlalchemy import delete, func, select

from livechat.accounts.models import User
from livechat.chat import messages, rooms
from livechat.chat.messages import MESSAGE_MAX_LENGTH, PAGE_SIZE
from livechat.chat.models import CLIENT_MSG_ID_MAX_LENGTH, Message, Room
from livechat.db import Database
from livechat.errors import BadRequest, Forbidden, NotFound
from livechat.inputs import MAX_ID
from livechat.realtime.events import MessageCreated
from livechat.web import rendered
from tests.helpers import only_on_sqlite


async def general(db: Database, admin: User, *members: User) -> str:
    """A public room created by ``admin`` that ``members`` have joined; returns its slug."""
    room = await rooms.create_room(db, admin, name="General")
    for member in members:
        await rooms.join_room(db, member, room.slug)
    return room.slug


async def post(db: Database, user: User, slug: str, body: str) -> Message:
    posted = await messages.create_message(db, user, slug, body)
    assert posted.created
    return posted.message


async def post_many(db: Database, user: User, slug: str, count: int) -> list[Message]:
    return [await post(db, user, slug, f"message {n}") for n in range(count)]


async def last_seq(db: Database, user: User, slug: str) -> int:
    return (await rooms.get_room(db, user, slug)).room.last_seq


async def stored_count(db: Database) -> int:
    async with db.read() as session:
        count = await session.scalar(select(func.count()).select_from(Message))
    assert count is not None
    return count


# Who may post


async def test_a_member_can_post_a_message(db: Database, alice: User) -> None:
    slug = await general(db, alice)

    posted = await messages.create_message(db, alice, slug, "Hello, world")

    assert posted.created
    assert posted.message.body == "Hello, world"
    assert posted.message.user_id == alice.id
    assert posted.message.author.display_name == "Alice Martin"
    assert posted.message.edited_at is None
    assert not posted.message.is_deleted
    assert [m.id for m in (await messages.history(db, alice, slug)).messages] == [posted.message.id]


async def test_a_visitor_of_a_public_room_must_join_before_posting(
    db: Database, alice: User, bob: User
) -> None:
    slug = await general(db, alice)

    with pytest.raises(Forbidden, match="Join General"):
        await messages.create_message(db, bob, slug, "hi")

    assert await stored_count(db) == 0
    assert await last_seq(db, alice, slug) == 0


async def test_posting_to_a_private_room_one_is_not_in_is_not_found(
    db: Database, alice: User, bob: User
) -> None:
    room = await rooms.create_room(db, alice, name="Secret Plans", is_private=True)

    with pytest.raises(NotFound):
        await messages.create_message(db, bob, room.slug, "hi")

    assert await stored_count(db) == 0


async def test_posting_to_an_unknown_room_is_not_found(db: Database, alice: User) -> None:
    with pytest.raises(NotFound):
        await messages.create_message(db, alice, "nowhere", "hi")


async def test_posting_by_room_id_refuses_visitors_and_strangers_as_by_name(
    db: Database, alice: User, bob: User
) -> None:
    public = await rooms.create_room(db, alice, name="General")
    private = await rooms.create_room(db, alice, name="Secret Plans", is_private=True)

    with pytest.raises(Forbidden, match="Join General"):
        await messages.create_message(db, bob, public.id, "hi", "abc-123")
    with pytest.raises(NotFound, match="does not exist"):
        await messages.create_message(db, bob, private.id, "hi", "abc-123")

    assert await stored_count(db) == 0
    assert await last_seq(db, alice, public.slug) == 0
    assert await last_seq(db, alice, private.slug) == 0


async def test_posting_to_a_room_deleted_meanwhile_is_not_found_as_a_private_one_would_be(
    db: Database, alice: User
) -> None:
    room = await rooms.create_room(db, alice, name="General")
    await rooms.delete_room(db, alice, room.slug)

    with pytest.raises(NotFound, match="does not exist, or you are not a member"):
        await messages.create_message(db, alice, room.id, "anyone here?", "abc-123")

    assert await stored_count(db) == 0


@pytest.mark.parametrize("room_ref", [0, MAX_ID + 1, "\ud800"])
async def test_a_room_reference_no_room_can_have_is_not_found(
    db: Database, alice: User, room_ref: int | str
) -> None:
    with pytest.raises(NotFound):
        await messages.create_message(db, alice, room_ref, "hi", "abc-123")


# What a body may be


async def test_a_body_is_trimmed(db: Database, alice: User) -> None:
    slug = await general(db, alice)

    message = await post(db, alice, slug, "  \n\t hello there \n  ")

    assert message.body == "hello there"


async def test_control_characters_are_stripped_but_tabs_and_newlines_kept(
    db: Database, alice: User
) -> None:
    slug = await general(db, alice)

    message = await post(db, alice, slug, "he\x00l\x02l\x03o\x1b\x7f\tthere\r\nnext\rline")

    assert message.body == "hello\tthere\nnext\nline"


@pytest.mark.parametrize("body", ["", " ", "   \n\t  ", "\x00\x01\x02", "\r\n\r\n"])
async def test_an_empty_or_blank_message_is_rejected(db: Database, alice: User, body: str) -> None:
    slug = await general(db, alice)

    with pytest.raises(BadRequest, match="empty"):
        await messages.create_message(db, alice, slug, body)

    assert await stored_count(db) == 0


async def test_a_message_of_exactly_the_maximum_length_is_accepted(
    db: Database, alice: User
) -> None:
    slug = await general(db, alice)
    assert MESSAGE_MAX_LENGTH == 4000

    message = await post(db, alice, slug, "  " + "x" * 4000 + "  ")

    assert message.body == "x" * 4000


async def test_a_message_one_character_too_long_is_rejected(db: Database, alice: User) -> None:
    slug = await general(db, alice)

    with pytest.raises(BadRequest, match="4,000"):
        await messages.create_message(db, alice, slug, "x" * 4001)

    assert await stored_count(db) == 0


def test_clean_body_is_what_posting_and_editing_store() -> None:
    assert messages.clean_body("  a\x00b\r\nc  ") == "ab\nc"
    with pytest.raises(BadRequest):
        messages.clean_body(" \x07 ")


@pytest.mark.parametrize("client_msg_id", ["", "x" * (CLIENT_MSG_ID_MAX_LENGTH + 1)])
async def test_a_malformed_client_message_id_is_rejected(
    db: Database, alice: User, client_msg_id: str
) -> None:
    slug = await general(db, alice)

    with pytest.raises(BadRequest):
        await messages.create_message(db, alice, slug, "hi", client_msg_id)

    assert await stored_count(db) == 0


# What a post hands back, and what it costs


async def test_a_new_message_renders_whole_without_going_back_to_the_store(
    db: Database, alice: User
) -> None:
    slug = await general(db, alice)

    posted = await messages.create_message(db, alice, slug, "Hello, <world>", "abc-123")

    html = rendered.html(MessageCreated(posted.message))
    assert "could not be shown" not in html
    assert f'id="message-{posted.message.id}"' in html
    assert "Alice Martin" in html
    assert "Hello, &lt;world&gt;" in html
    assert f'value="{posted.message.seq}"' in html


async def test_a_posted_message_is_handed_on_as_the_store_holds_it(
    db: Database, alice: User
) -> None:
    slug = await general(db, alice)
    async with db.read() as session:
        room = (await session.scalars(select(Room).where(Room.slug == slug))).one()

    posted = (await messages.create_message(db, alice, slug, "hello", "abc-123")).message

    async with db.read() as session:
        stored = await session.get(Message, posted.id)
        touched = await session.get(Room, room.id)
    assert stored is not None
    assert touched is not None
    handed_on = (posted.room_id, posted.seq, posted.body, posted.inserted_at)
    assert handed_on == (stored.room_id, stored.seq, stored.body, stored.inserted_at)
    assert posted.client_msg_id == stored.client_msg_id == "abc-123"
    assert touched.last_seq == posted.seq
    assert touched.updated_at == posted.inserted_at  # the room's clock moved with the post


@only_on_sqlite("the statements its driver runs")
async def test_a_post_is_one_statement_that_is_a_transaction_of_its_own(
    db: Database, alice: User
) -> None:
    """The writer is shared by every room: a post's statements are what all posts queue on.
    Counted by SQLite itself, as they run on the driver without SQLAlchemy seeing them."""
    slug = await general(db, alice)
    async with db.write() as session:
        connection = await session.connection()
        writer = (await connection.get_raw_connection()).driver_connection
    assert writer is not None
    statements: list[str] = []
    await writer.set_trace_callback(statements.append)
    try:
        await messages.create_message(db, alice, slug, "hello", "abc-123")
    finally:
        await writer.set_trace_callback(None)

    # SQLite reports a statement again as each trigger it fires starts (the search index
    # is kept by one), the trigger's own as comments, and what FTS5 runs on its tables,
    # always naming their schema.
    sent = [
        statement.split()[0]
        for statement in dict.fromkeys(statements)
        if not statement.startswith("--") and "'main'." not in statement
    ]
    assert sent == ["INSERT"], "\n".join(statements)


async def test_a_message_stored_under_a_number_the_room_has_passed_leaves_the_room_as_it_is(
    db: Database, alice: User
) -> None:
    """As ``livechat seed`` stores a room's history after giving the room its last number."""
    slug = await general(db, alice)
    posted = (await messages.create_message(db, alice, slug, "the newest")).message
    async with db.write() as session:
        session.add(Message(room_id=posted.room_id, user_id=alice.id, body="from the past", seq=0))
    async with db.read() as session:
        room = await session.get(Room, posted.room_id)
    assert room is not None
    assert (room.last_seq, room.updated_at) == (posted.seq, posted.inserted_at)


# The room's event sequence


async def test_every_create_edit_and_delete_bumps_the_rooms_sequence(
    db: Database, alice: User
) -> None:
    slug = await general(db, alice)
    seqs: list[int] = []

    first = await post(db, alice, slug, "one")
    seqs.append(first.seq)
    second = await post(db, alice, slug, "two")
    seqs.append(second.seq)
    seqs.append((await messages.edit_message(db, alice, first.id, "one, edited")).message.seq)
    seqs.append((await messages.delete_message(db, alice, second.id)).message.seq)
    seqs.append((await post(db, alice, slug, "three")).seq)

    assert all(earlier < later for earlier, later in pairwise(seqs))
    assert await last_seq(db, alice, slug) == seqs[-1]


async def test_a_rooms_sequence_starts_at_zero_and_matches_its_latest_change(
    db: Database, alice: User
) -> None:
    slug = await general(db, alice)
    assert await last_seq(db, alice, slug) == 0

    message = await post(db, alice, slug, "hello")
    assert await last_seq(db, alice, slug) == message.seq

    edited = (await messages.edit_message(db, alice, message.id, "hello again")).message
    assert edited.seq > message.seq
    assert await last_seq(db, alice, slug) == edited.seq


async def test_rooms_have_separate_sequences(db: Database, alice: User) -> None:
    general_slug = await general(db, alice)
    other = await rooms.create_room(db, alice, name="Other")
    await post_many(db, alice, general_slug, 3)

    message = await post(db, alice, other.slug, "first in other")

    assert message.seq == 1
    assert await last_seq(db, alice, other.slug) == 1
    assert await last_seq(db, alice, general_slug) == 3


async def test_processes_posting_to_one_room_at_once_share_one_gapless_sequence(
    db: Database, database_url: str, alice: User, bob: User
) -> None:
    slug = await general(db, alice, bob)
    # Each Database stands for a process of its own: its own pool, its own writers.
    processes = [Database(database_url) for _ in range(3)]
    try:
        posted = await asyncio.gather(
            *(
                messages.create_message(process, person, slug, f"{n} from {person.id}")
                for n in range(20)
                for process in processes
                for person in (alice, bob)
            )
        )
    finally:
        for process in processes:
            await process.dispose()

    seqs = sorted(result.message.seq for result in posted)
    assert seqs == list(range(1, len(posted) + 1))
    assert await last_seq(db, alice, slug) == len(posted)


async def test_the_same_send_racing_through_processes_is_stored_once(
    db: Database, database_url: str, alice: User
) -> None:
    slug = await general(db, alice)
    processes = [Database(database_url) for _ in range(4)]
    try:
        posted = await asyncio.gather(
            *(
                messages.create_message(process, alice, slug, "only once", "same-key")
                for process in processes
            )
        )
    finally:
        for process in processes:
            await process.dispose()

    assert sum(result.created for result in posted) == 1
    assert len({result.message.id for result in posted}) == 1
    assert await last_seq(db, alice, slug) == 1


# Idempotent posting


async def test_posting_twice_with_the_same_client_msg_id_stores_one_message(
    db: Database, alice: User
) -> None:
    slug = await general(db, alice)

    first = await messages.create_message(db, alice, slug, "hello", "abc-123")
    seq_after_first = await last_seq(db, alice, slug)
    second = await messages.create_message(db, alice, slug, "  hello\r\n", "abc-123")

    assert first.created
    assert not second.created
    assert second.message.id == first.message.id
    assert second.message.body == "hello"
    assert second.message.author.id == alice.id
    assert await stored_count(db) == 1
    assert await last_seq(db, alice, slug) == seq_after_first
    assert [m.body for m in (await messages.history(db, alice, slug)).messages] == ["hello"]


async def test_the_same_key_with_other_text_is_a_new_message_never_a_dropped_one(
    db: Database, alice: User
) -> None:
    """The page keeps its key until a send is acknowledged: text sent while the socket was
    down, then edited and sent again, arrives as two sends under one key."""
    slug = await general(db, alice)

    first = await messages.create_message(db, alice, slug, "see you at 3", "abc-123")
    edited = await messages.create_message(db, alice, slug, "see you at 4", "abc-123")
    edited_again = await messages.create_message(db, alice, slug, "see you at 4", "abc-123")

    assert first.created
    assert edited.created
    assert not edited_again.created
    assert edited_again.message.id == edited.message.id
    assert [m.body for m in (await messages.history(db, alice, slug)).messages] == [
        "see you at 3",
        "see you at 4",
    ]


async def test_the_same_key_in_another_room_is_another_message(db: Database, alice: User) -> None:
    general_slug = await general(db, alice)
    other_slug = (await rooms.create_room(db, alice, name="Other")).slug

    here = await messages.create_message(db, alice, general_slug, "hello", "abc-123")
    there = await messages.create_message(db, alice, other_slug, "hello", "abc-123")

    assert here.created
    assert there.created
    assert [m.body for m in (await messages.history(db, alice, other_slug)).messages] == ["hello"]


async def test_two_people_using_the_same_client_msg_id_post_two_messages(
    db: Database, alice: User, bob: User
) -> None:
    slug = await general(db, alice, bob)

    from_alice = await messages.create_message(db, alice, slug, "from alice", "same-id")
    from_bob = await messages.create_message(db, bob, slug, "from bob", "same-id")

    assert from_alice.created
    assert from_bob.created
    assert from_alice.message.id != from_bob.message.id
    assert [m.body for m in (await messages.history(db, alice, slug)).messages] == [
        "from alice",
        "from bob",
    ]


async def test_a_resend_after_leaving_the_room_is_refused_not_acknowledged(
    db: Database, alice: User, bob: User
) -> None:
    slug = await general(db, alice, bob)
    await messages.create_message(db, bob, slug, "hello", "abc-123")
    await rooms.leave_room(db, bob, slug)

    with pytest.raises(Forbidden, match="Join General"):
        await messages.create_message(db, bob, slug, "hello", "abc-123")


async def test_messages_without_a_client_msg_id_are_all_stored(db: Database, alice: User) -> None:
    slug = await general(db, alice)

    first = await messages.create_message(db, alice, slug, "same words")
    second = await messages.create_message(db, alice, slug, "same words")

    assert first.created
    assert second.created
    assert first.message.id != second.message.id
    assert await stored_count(db) == 2


# History


async def test_history_is_the_newest_page_oldest_first(db: Database, alice: User) -> None:
    slug = await general(db, alice)
    posted = await post_many(db, alice, slug, PAGE_SIZE + 10)

    page = (await messages.history(db, alice, slug)).messages

    assert PAGE_SIZE == 50
    assert [m.id for m in page] == [m.id for m in posted[-PAGE_SIZE:]]
    assert page[0].body == "message 10"
    assert page[-1].body == f"message {PAGE_SIZE + 9}"


async def test_paging_back_with_before_covers_the_whole_history_without_gaps_or_overlaps(
    db: Database, alice: User
) -> None:
    slug = await general(db, alice)
    posted = await post_many(db, alice, slug, 2 * PAGE_SIZE + 17)

    pages = [(await messages.history(db, alice, slug)).messages]
    while True:
        older = (await messages.history(db, alice, slug, before=pages[-1][0].id)).messages
        if not older:
            break
        pages.append(older)

    assert [len(page) for page in pages] == [PAGE_SIZE, PAGE_SIZE, 17]
    seen = [m.id for page in reversed(pages) for m in page]
    assert seen == [m.id for m in posted]
    assert len(set(seen)) == len(seen)


async def test_before_with_a_limit_returns_the_messages_just_before(
    db: Database, alice: User
) -> None:
    slug = await general(db, alice)
    posted = await post_many(db, alice, slug, 10)

    page = (await messages.history(db, alice, slug, before=posted[6].id, limit=3)).messages

    assert [m.body for m in page] == ["message 3", "message 4", "message 5"]


async def test_around_returns_messages_on_both_sides_of_the_target(
    db: Database, alice: User
) -> None:
    slug = await general(db, alice)
    posted = await post_many(db, alice, slug, 100)
    target = posted[40]
    limit = 10

    page = (await messages.history(db, alice, slug, around=target.id, limit=limit)).messages

    ids = [m.id for m in page]
    all_ids = [m.id for m in posted]
    assert target.id in ids
    position = ids.index(target.id)
    assert position >= limit // 2 - 1  # older messages before it
    assert len(ids) - position - 1 >= limit // 2 - 1  # newer messages after it
    assert len(ids) == limit
    start = all_ids.index(ids[0])
    assert ids == all_ids[start : start + len(ids)]  # one contiguous stretch, oldest first


async def test_around_the_first_message_returns_it_with_newer_ones(
    db: Database, alice: User
) -> None:
    slug = await general(db, alice)
    posted = await post_many(db, alice, slug, 20)

    page = (await messages.history(db, alice, slug, around=posted[0].id, limit=10)).messages

    assert page[0].id == posted[0].id
    assert [m.id for m in page] == [m.id for m in posted[: len(page)]]
    assert len(page) > 1


async def test_a_window_says_whether_older_messages_exist(db: Database, alice: User) -> None:
    slug = await general(db, alice)
    posted = await post_many(db, alice, slug, 12)

    newest = await messages.history(db, alice, slug, limit=10)
    whole = await messages.history(db, alice, slug, limit=12)
    early = await messages.history(db, alice, slug, around=posted[3].id, limit=10)
    late = await messages.history(db, alice, slug, around=posted[8].id, limit=10)

    assert (newest.older, whole.older) == (True, False)
    assert (early.older, late.older) == (False, True)


async def test_a_window_around_an_old_message_counts_the_newer_ones_up_to_its_bound(
    db: Database, alice: User
) -> None:
    slug = await general(db, alice)
    posted = await post_many(db, alice, slug, 40)

    window = await messages.history(
        db, alice, slug, around=posted[5].id, until=posted[29].id, limit=10
    )

    assert [m.id for m in window.messages] == [m.id for m in posted[1:11]]
    assert window.newer == 19  # messages 11 to 29; those after the bound are the socket's


async def test_paging_forward_with_after_fills_a_gap_exactly_up_to_its_bound(
    db: Database, alice: User
) -> None:
    slug = await general(db, alice)
    posted = await post_many(db, alice, slug, 2 * PAGE_SIZE + 30)
    until = posted[-10].id
    start = await messages.history(db, alice, slug, around=posted[0].id, until=until)

    windows = [start]
    while windows[-1].newer:
        last = windows[-1].messages[-1].id
        windows.append(await messages.history(db, alice, slug, after=last, until=until))

    seen = [m.id for window in windows for m in window.messages]
    assert seen == [m.id for m in posted[:-9]]
    assert [window.newer for window in windows] == [95, 45, 0]


async def test_the_newer_count_stops_at_its_cap(
    db: Database, alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    slug = await general(db, alice)
    posted = await post_many(db, alice, slug, 5)
    monkeypatch.setattr(messages, "MAX_COUNTED", 2)

    window = await messages.history(db, alice, slug, around=posted[0].id, limit=2)

    assert window.newer == 2  # of 3


async def test_deleted_messages_in_a_gap_are_neither_counted_nor_loaded(
    db: Database, alice: User
) -> None:
    slug = await general(db, alice)
    posted = await post_many(db, alice, slug, 6)
    await messages.delete_message(db, alice, posted[3].id)

    start = await messages.history(db, alice, slug, around=posted[0].id, limit=2)
    rest = await messages.history(db, alice, slug, after=posted[0].id)

    assert start.newer == 3  # messages 2, 4 and 5
    assert [m.body for m in rest.messages] == [f"message {n}" for n in (1, 2, 4, 5)]


async def test_deleted_messages_are_left_out_of_history(db: Database, alice: User) -> None:
    slug = await general(db, alice)
    first, second, third = await post_many(db, alice, slug, 3)

    await messages.delete_message(db, alice, second.id)

    history = (await messages.history(db, alice, slug)).messages
    assert [m.id for m in history] == [first.id, third.id]
    around = (await messages.history(db, alice, slug, around=first.id)).messages
    assert second.id not in [m.id for m in around]


async def test_deleted_messages_do_not_shorten_a_page(db: Database, alice: User) -> None:
    slug = await general(db, alice)
    posted = await post_many(db, alice, slug, 12)
    for message in posted[-3:]:
        await messages.delete_message(db, alice, message.id)

    page = (await messages.history(db, alice, slug, limit=5)).messages

    assert [m.body for m in page] == [f"message {n}" for n in range(4, 9)]


async def test_a_visitor_can_read_a_public_rooms_history(
    db: Database, alice: User, bob: User
) -> None:
    slug = await general(db, alice)
    await post(db, alice, slug, "welcome")

    assert [m.body for m in (await messages.history(db, bob, slug)).messages] == ["welcome"]


async def test_a_private_rooms_history_is_not_found_by_non_members(
    db: Database, alice: User, bob: User
) -> None:
    room = await rooms.create_room(db, alice, name="Secret Plans", is_private=True)
    await post(db, alice, room.slug, "the plan")

    with pytest.raises(NotFound):
        await messages.history(db, bob, room.slug)


async def test_what_a_page_missed_is_told_to_members_only(
    db: Database, alice: User, bob: User, carol: User
) -> None:
    public = await rooms.create_room(db, alice, name="General")
    private = await rooms.create_room(db, alice, name="Secret Plans", is_private=True)
    await rooms.join_room(db, carol, public.slug)
    welcome = await post(db, alice, public.slug, "welcome")

    missed = await messages.changes_since(db, carol.id, public.id, 0)

    assert [message.body for message in missed.messages] == ["welcome"]
    assert missed.cursor.last_id == welcome.id
    with pytest.raises(Forbidden, match="Join General"):
        await messages.changes_since(db, bob.id, public.id, 0)  # a visitor reads the page instead
    with pytest.raises(NotFound):
        await messages.changes_since(db, bob.id, private.id, 0)


# Deleting


async def test_a_member_can_delete_their_own_message(db: Database, alice: User, bob: User) -> None:
    slug = await general(db, alice, bob)
    message = await post(db, bob, slug, "oops")

    tombstone = (await messages.delete_message(db, bob, message.id)).message

    assert tombstone.id == message.id
    assert tombstone.is_deleted
    assert tombstone.body == ""
    assert (await messages.history(db, alice, slug)).messages == []


async def test_an_admin_can_delete_anyones_message(db: Database, alice: User, bob: User) -> None:
    slug = await general(db, alice, bob)
    message = await post(db, bob, slug, "spam")

    tombstone = (await messages.delete_message(db, alice, message.id)).message

    assert tombstone.is_deleted
    assert (await messages.history(db, bob, slug)).messages == []


async def test_a_member_cannot_delete_someone_elses_message(
    db: Database, alice: User, bob: User, carol: User
) -> None:
    slug = await general(db, alice, bob, carol)
    message = await post(db, bob, slug, "mine")

    with pytest.raises(Forbidden):
        await messages.delete_message(db, carol, message.id)

    assert [m.body for m in (await messages.history(db, alice, slug)).messages] == ["mine"]


async def test_a_visitor_cannot_delete_a_message(db: Database, alice: User, bob: User) -> None:
    slug = await general(db, alice)
    message = await post(db, alice, slug, "hello")

    with pytest.raises(Forbidden):
        await messages.delete_message(db, bob, message.id)

    assert [m.body for m in (await messages.history(db, alice, slug)).messages] == ["hello"]


async def test_a_stranger_cannot_delete_a_message_in_a_private_room(
    db: Database, alice: User, bob: User
) -> None:
    room = await rooms.create_room(db, alice, name="Secret Plans", is_private=True)
    message = await post(db, alice, room.slug, "the plan")

    with pytest.raises(NotFound):
        await messages.delete_message(db, bob, message.id)

    assert [m.body for m in (await messages.history(db, alice, room.slug)).messages] == ["the plan"]


async def test_a_deleted_message_cannot_be_deleted_or_edited_again(
    db: Database, alice: User
) -> None:
    slug = await general(db, alice)
    message = await post(db, alice, slug, "gone soon")
    await messages.delete_message(db, alice, message.id)
    seq = await last_seq(db, alice, slug)

    with pytest.raises(NotFound):
        await messages.delete_message(db, alice, message.id)
    with pytest.raises(NotFound):
        await messages.edit_message(db, alice, message.id, "back again")

    assert await last_seq(db, alice, slug) == seq


async def test_an_unknown_message_is_not_found(db: Database, alice: User) -> None:
    await general(db, alice)

    with pytest.raises(NotFound):
        await messages.delete_message(db, alice, 12345)
    with pytest.raises(NotFound):
        await messages.edit_message(db, alice, 12345, "hi")


# Editing


async def test_the_author_can_edit_a_message(db: Database, alice: User, bob: User) -> None:
    slug = await general(db, alice, bob)
    message = await post(db, bob, slug, "helo")

    edited = (await messages.edit_message(db, bob, message.id, "  hello\x00  ")).message

    assert edited.id == message.id
    assert edited.body == "hello"
    assert edited.edited_at is not None
    assert edited.edited_at >= message.inserted_at
    [listed] = (await messages.history(db, alice, slug)).messages
    assert listed.body == "hello"
    assert listed.edited_at is not None


async def test_someone_else_cannot_edit_a_message(
    db: Database, alice: User, bob: User, carol: User
) -> None:
    slug = await general(db, alice, bob, carol)
    message = await post(db, bob, slug, "original")

    with pytest.raises(Forbidden):
        await messages.edit_message(db, carol, message.id, "tampered")

    [listed] = (await messages.history(db, alice, slug)).messages
    assert listed.body == "original"
    assert listed.edited_at is None


async def test_even_an_admin_cannot_edit_someone_elses_message(
    db: Database, alice: User, bob: User
) -> None:
    slug = await general(db, alice, bob)
    message = await post(db, bob, slug, "original")

    with pytest.raises(Forbidden):
        await messages.edit_message(db, alice, message.id, "put words in bob's mouth")

    [listed] = (await messages.history(db, alice, slug)).messages
    assert listed.body == "original"


async def test_an_edit_to_an_empty_body_is_rejected(db: Database, alice: User) -> None:
    slug = await general(db, alice)
    message = await post(db, alice, slug, "original")

    with pytest.raises(BadRequest):
        await messages.edit_message(db, alice, message.id, "  \x00 ")

    [listed] = (await messages.history(db, alice, slug)).messages
    assert listed.body == "original"
    assert listed.edited_at is None


async def test_an_author_who_left_the_room_can_no_longer_edit(
    db: Database, alice: User, bob: User
) -> None:
    slug = await general(db, alice, bob)
    message = await post(db, bob, slug, "original")
    await rooms.leave_room(db, bob, slug)

    with pytest.raises(Forbidden):
        await messages.edit_message(db, bob, message.id, "changed")


# Ids


async def test_message_ids_are_never_reused_after_the_newest_row_is_removed(
    db: Database, alice: User
) -> None:
    slug = await general(db, alice)
    *_, newest = await post_many(db, alice, slug, 3)
    async with db.write() as session:
        await session.execute(delete(Message).where(Message.id == newest.id))

    replacement = await post(db, alice, slug, "after the removal")

    assert replacement.id > newest.id


async def test_message_ids_increase_after_deleting_the_newest_message(
    db: Database, alice: User
) -> None:
    slug = await general(db, alice)
    *_, newest = await post_many(db, alice, slug, 3)
    await messages.delete_message(db, alice, newest.id)

    replacement = await post(db, alice, slug, "after the delete")

    assert replacement.id > newest.id


async def test_an_edit_made_in_a_room_finds_only_that_rooms_messages(
    db: Database, alice: User
) -> None:
    slug = await general(db, alice)
    other = await rooms.create_room(db, alice, name="Elsewhere")
    [message] = await post_many(db, alice, slug, 1)

    with pytest.raises(NotFound):
        await messages.edit_message(db, alice, message.id, "moved?", room_id=other.id)
    edited = (
        await messages.edit_message(db, alice, message.id, "kept here", room_id=message.room_id)
    ).message

    assert edited.body == "kept here"


async def test_a_deleted_message_cannot_be_edited_back_to_life(db: Database, alice: User) -> None:
    slug = await general(db, alice)
    [message] = await post_many(db, alice, slug, 1)
    await messages.delete_message(db, alice, message.id, room_id=message.room_id)

    with pytest.raises(NotFound):
        await messages.edit_message(db, alice, message.id, "back", room_id=message.room_id)
    with pytest.raises(NotFound):
        await messages.own_message(db, alice, message.id, message.room_id)


async def test_an_edit_and_a_delete_racing_leave_a_tombstone_and_no_text(
    db: Database, alice: User
) -> None:
    slug = await general(db, alice)
    [message] = await post_many(db, alice, slug, 1)
    room_id = message.room_id

    outcomes = await asyncio.gather(
        messages.edit_message(db, alice, message.id, "raced", room_id=room_id),
        messages.delete_message(db, alice, message.id, room_id=room_id),
        return_exceptions=True,
    )

    assert not any(
        isinstance(outcome, Exception) and not isinstance(outcome, NotFound) for outcome in outcomes
    )
    async with db.read() as session:
        stored = await session.get(Message, message.id)
    assert stored is not None
    assert stored.deleted_at is not None
    assert stored.body == ""


# Reactions


async def test_a_reaction_is_given_and_taken_back_each_time_as_the_rooms_next_event(
    db: Database, alice: User, bob: User
) -> None:
    slug = await general(db, alice)
    await rooms.join_room(db, bob, slug)
    [message] = await post_many(db, alice, slug, 1)
    room_id = message.room_id

    given = await messages.toggle_reaction(db, bob, message.id, "🎉", room_id=room_id)
    also = await messages.toggle_reaction(db, alice, message.id, "🎉", room_id=room_id)
    taken_back = await messages.toggle_reaction(db, bob, message.id, "🎉", room_id=room_id)

    assert [(r.emoji, r.person.display_name) for r in given.reactions] == [("🎉", "Bob Okafor")]
    assert [r.user_id for r in also.reactions] == [bob.id, alice.id]
    assert [r.user_id for r in taken_back.reactions] == [alice.id]
    assert message.seq < given.seq < also.seq < taken_back.seq
    [shown] = (await messages.history(db, bob, slug)).messages
    assert [r.emoji for r in shown.reactions] == ["🎉"]


async def test_only_members_react_only_with_what_is_on_offer_and_never_to_a_deleted_message(
    db: Database, alice: User, bob: User
) -> None:
    slug = await general(db, alice)
    [message, doomed] = await post_many(db, alice, slug, 2)
    room_id = message.room_id
    await messages.delete_message(db, alice, doomed.id, room_id=room_id)

    with pytest.raises(Forbidden):
        await messages.toggle_reaction(db, bob, message.id, "👍", room_id=room_id)
    with pytest.raises(BadRequest):
        await messages.toggle_reaction(db, alice, message.id, "💩", room_id=room_id)
    with pytest.raises(NotFound):
        await messages.toggle_reaction(db, alice, doomed.id, "👍", room_id=room_id)
    [shown] = (await messages.history(db, alice, slug)).messages
    assert shown.reactions == []


# Replies


async def test_a_reply_names_the_message_it_answers_and_history_shows_both(
    db: Database, alice: User, bob: User
) -> None:
    slug = await general(db, alice)
    await rooms.join_room(db, bob, slug)
    [question] = await post_many(db, alice, slug, 1)

    posted = await messages.create_message(db, bob, slug, "yes", reply_to=question.id)

    assert posted.message.reply_to is not None
    assert posted.message.reply_to.body == question.body
    [_, shown] = (await messages.history(db, alice, slug)).messages
    assert shown.reply_to_id == question.id
    assert shown.reply_to is not None
    assert shown.reply_to.author.display_name == "Alice Martin"


async def test_a_reply_answers_only_a_message_of_its_own_room_that_is_not_deleted(
    db: Database, alice: User
) -> None:
    slug = await general(db, alice)
    elsewhere = await rooms.create_room(db, alice, name="Elsewhere", is_private=True)
    [there] = await post_many(db, alice, elsewhere.slug, 1)
    [doomed] = await post_many(db, alice, slug, 1)
    await messages.delete_message(db, alice, doomed.id)

    for reply_to in (there.id, doomed.id, 10**12):
        with pytest.raises(NotFound):
            await messages.create_message(db, alice, slug, "re", reply_to=reply_to)
    assert [m.id for m in (await messages.history(db, alice, slug)).messages] == []


async def test_a_link_to_a_message_leads_to_its_room_for_those_who_may_read_it(
    db: Database, alice: User, bob: User
) -> None:
    slug = await general(db, alice)
    secret = await rooms.create_room(db, alice, name="Secret", is_private=True)
    [public] = await post_many(db, alice, slug, 1)
    [private] = await post_many(db, alice, secret.slug, 1)

    assert await messages.room_of(db, bob, public.id) == slug
    with pytest.raises(NotFound):
        await messages.room_of(db, bob, private.id)
