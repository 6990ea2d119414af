"""Unread messages: how far each member has read, and what the room list counts."""

from __future__ import annotations

import pytest

from livechat.accounts.models import User
from livechat.chat import messages, notifications, rooms
from livechat.chat.models import Room
from livechat.db import Database


async def unread_in(db: Database, user: User, room: Room) -> int:
    return (await notifications.unread_of(db, user.id))[room.id].count


async def test_what_others_post_after_one_joins_is_unread(
    db: Database, alice: User, bob: User
) -> None:
    room = await rooms.create_room(db, alice, name="General")
    await messages.create_message(db, alice, room.slug, "before Bob came")
    await rooms.join_room(db, bob, room.slug)

    await messages.create_message(db, alice, room.slug, "one")
    await messages.create_message(db, bob, room.slug, "his own")
    await messages.create_message(db, alice, room.slug, "two")

    assert await unread_in(db, bob, room) == 2
    assert await unread_in(db, alice, room) == 1


async def test_someone_invited_starts_with_the_history_read(
    db: Database, alice: User, carol: User
) -> None:
    room = await rooms.create_room(db, alice, name="Secret", is_private=True)
    await messages.create_message(db, alice, room.slug, "old news")

    await rooms.add_member(db, alice, room.slug, carol.email)

    assert await unread_in(db, carol, room) == 0


async def test_reading_up_to_a_message_leaves_only_what_came_after_it_unread(
    db: Database, general: Room, alice: User, bob: User
) -> None:
    first = await messages.create_message(db, alice, general.slug, "one")
    await messages.create_message(db, alice, general.slug, "two")

    assert await notifications.read_room(db, bob.id, general.id, first.message.id)

    assert await unread_in(db, bob, general) == 1
    # Reading is never undone by a page that had read less.
    assert not await notifications.read_room(db, bob.id, general.id, first.message.id - 1)
    assert await unread_in(db, bob, general) == 1


async def test_deleted_messages_are_not_counted(
    db: Database, general: Room, alice: User, bob: User
) -> None:
    posted = await messages.create_message(db, alice, general.slug, "oops")

    await messages.delete_message(db, alice, posted.message.id)

    assert await unread_in(db, bob, general) == 0


async def test_counting_stops_where_a_badge_says_99_plus(
    db: Database, general: Room, alice: User, bob: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(notifications, "UNREAD_COUNTED", 3)
    for number in range(5):
        await messages.create_message(db, alice, general.slug, f"message {number}")

    unread = (await notifications.unread_of(db, bob.id))[general.id]

    assert unread.count == 3
    assert unread.counted_to == (await messages.history(db, bob, general.slug)).messages[-1].id


async def test_the_room_list_shows_members_what_they_have_not_read(
    db: Database, general: Room, alice: User, bob: User, carol: User
) -> None:
    await messages.create_message(db, alice, general.slug, "hello")

    bobs = {listing.room.id: listing.unread for listing in await rooms.list_rooms(db, bob.id)}
    carols = {listing.room.id: listing.unread for listing in await rooms.list_rooms(db, carol.id)}

    assert bobs == {general.id: 1}
    assert carols == {general.id: 0}  # a visitor of a public room reads nothing unread
