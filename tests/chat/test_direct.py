"""Direct conversations at the level of the chat service: one per pair, private by
construction, and every message in one notifies the other person."""

from __future__ import annotations

import asyncio

import pytest

from livechat.accounts.models import User
from livechat.chat import messages, notifications, rooms
from livechat.chat.models import Kind, Room
from livechat.db import Database
from livechat.errors import BadRequest, Forbidden, NotFound


async def test_starting_a_conversation_twice_from_either_side_opens_the_same_room(
    db: Database, general: Room, alice: User, bob: User
) -> None:
    started = await rooms.direct_room(db, alice, bob.id)
    again = await rooms.direct_room(db, bob, alice.id)

    assert started.started
    assert not again.started
    assert again.room.id == started.room.id
    assert started.partner.id == bob.id
    assert again.partner.id == alice.id
    assert started.room.is_private
    assert started.room.is_direct
    members = await rooms.members(db, started.room)
    assert sorted((user.id, role) for user, role in members) == [
        (alice.id, "member"),
        (bob.id, "member"),
    ]


async def test_no_one_starts_a_conversation_with_themselves_a_stranger_or_a_closed_account(
    db: Database, general: Room, alice: User, bob: User, carol: User
) -> None:
    with pytest.raises(BadRequest, match="someone else"):
        await rooms.direct_room(db, alice, alice.id)
    with pytest.raises(NotFound):
        await rooms.direct_room(db, carol, bob.id + 1000)
    async with db.write() as session:
        (await session.get_one(User, bob.id)).is_active = False
    with pytest.raises(BadRequest, match="closed their account"):
        await rooms.direct_room(db, alice, bob.id)


async def test_a_conversation_is_for_its_two_people_alone_and_stays_as_it_is(
    db: Database, general: Room, alice: User, bob: User, carol: User
) -> None:
    room = (await rooms.direct_room(db, alice, bob.id)).room

    with pytest.raises(NotFound):
        await rooms.get_room(db, carol, room.slug)
    assert room.id not in {listing.room.id for listing in await rooms.list_rooms(db, carol.id)}
    with pytest.raises(NotFound):
        await rooms.join_room(db, carol, room.slug)
    with pytest.raises(Forbidden):
        await rooms.add_member(db, alice, room.slug, carol.email)
    with pytest.raises(Forbidden):
        await rooms.update_room(db, alice, room.slug, name="Ours", description="")
    with pytest.raises(Forbidden):
        await rooms.delete_room(db, bob, room.slug)
    with pytest.raises(BadRequest, match="cannot be left"):
        await rooms.leave_room(db, bob, room.slug)


async def test_every_message_notifies_the_other_person_once(
    db: Database, general: Room, alice: User, bob: User
) -> None:
    room = (await rooms.direct_room(db, alice, bob.id)).room
    recipients = await rooms.direct_recipients(db, room.id)

    plain = await messages.create_message(db, alice, room.slug, "hi", recipients=recipients)
    mentioning = await messages.create_message(
        db, alice, room.slug, f"@{bob.handle} still there?", recipients=recipients
    )

    assert plain.alerted == {bob.id}
    assert mentioning.alerted == {bob.id}
    listed = await notifications.recent(db, bob)
    assert [mention.notification.kind for mention in listed] == [Kind.MENTION, Kind.DIRECT]
    assert (await notifications.alerts_for(db, bob.id)).by_room == {room.id: 2}
    assert await notifications.recent(db, alice) == []


async def test_only_a_direct_conversation_has_recipients_for_every_message(
    db: Database, general: Room, alice: User, bob: User
) -> None:
    room = (await rooms.direct_room(db, alice, bob.id)).room

    assert sorted(await rooms.direct_recipients(db, room.id)) == sorted([alice.id, bob.id])
    assert await rooms.direct_recipients(db, general.id) == []
    assert (await rooms.partners(db, alice.id, [room.id]))[room.id].id == bob.id


async def test_two_people_starting_their_conversation_at_once_share_one_room(
    db: Database, general: Room, alice: User, bob: User
) -> None:
    one, other = await asyncio.gather(
        rooms.direct_room(db, alice, bob.id), rooms.direct_room(db, bob, alice.id)
    )

    assert one.room.id == other.room.id
    assert [one.started, other.started].count(True) == 1
    assert len(await rooms.members(db, one.room)) == 2
