"""Mentions and notifications, at the level of the chat service."""

from __future__ import annotations

import pytest

from livechat.accounts.models import User
from livechat.chat import messages, notifications, people, rooms
from livechat.chat.models import Room
from livechat.chat.notifications import MAX_MENTIONS, handles_in, mention_typed
from livechat.db import Database
from livechat.errors import NotFound
from tests.helpers import MakeUser


def test_handles_are_found_after_an_at_sign_that_starts_a_word() -> None:
    body = "@Alice_Martin and @bob_okafor, mail carol@example.com or see http://x.org/@dave"

    assert handles_in(body) == ["alice_martin", "bob_okafor"]


def test_each_handle_counts_once_and_a_roll_call_stops_at_the_limit() -> None:
    assert handles_in("@bob hi @BOB and @bob!") == ["bob"]
    crowd = " ".join(f"@person{number}" for number in range(MAX_MENTIONS + 5))

    assert len(handles_in(crowd)) == MAX_MENTIONS


def test_the_handle_being_typed_is_the_one_at_the_end_of_the_draft() -> None:
    assert mention_typed("thanks @Al") == "al"
    assert mention_typed("thanks @") == ""
    assert mention_typed("thanks @al, and") is None
    assert mention_typed("mail bob@ex") is None


async def test_a_mention_of_a_member_links_them_and_notifies_them(
    db: Database, general: Room, alice: User, bob: User
) -> None:
    posted = await messages.create_message(db, alice, general.slug, "@Bob_Okafor look at this")

    assert posted.message.mentions == {"bob_okafor": bob.id}
    assert posted.alerted == {bob.id}
    alerts = await notifications.alerts_for(db, bob.id)
    assert alerts.by_room == {general.id: 1}
    assert alerts.total == 1
    listed = await notifications.recent(db, bob)
    assert [mention.message.id for mention in listed] == [posted.message.id]
    assert listed[0].unread


async def test_mentions_of_oneself_strangers_and_unknown_handles_notify_no_one(
    db: Database, general: Room, alice: User, carol: User
) -> None:
    body = f"@{alice.handle} @{carol.handle} @nobody_here"
    posted = await messages.create_message(db, alice, general.slug, body)

    assert posted.message.mentions is None
    assert posted.alerted == frozenset()
    assert (await notifications.alerts_for(db, carol.id)).total == 0


async def test_a_mention_in_a_private_room_never_reaches_someone_outside_it(
    db: Database, alice: User, carol: User
) -> None:
    secret = await rooms.create_room(db, alice, name="Secret", is_private=True)

    posted = await messages.create_message(db, alice, secret.slug, f"@{carol.handle} psst")

    assert posted.alerted == frozenset()
    assert await notifications.recent(db, carol) == []


async def test_an_edit_notifies_the_newly_mentioned_and_withdraws_unread_mentions(
    db: Database, general: Room, alice: User, bob: User, carol: User
) -> None:
    await rooms.join_room(db, carol, general.slug)
    posted = await messages.create_message(db, alice, general.slug, f"@{bob.handle} hi")

    edited = await messages.edit_message(db, alice, posted.message.id, f"@{carol.handle} hi")

    assert edited.alerted == {bob.id, carol.id}
    assert edited.message.mentions == {carol.handle: carol.id}
    assert (await notifications.alerts_for(db, bob.id)).total == 0
    assert (await notifications.alerts_for(db, carol.id)).by_room == {general.id: 1}


async def test_a_read_mention_stays_listed_when_an_edit_drops_it(
    db: Database, general: Room, alice: User, bob: User
) -> None:
    posted = await messages.create_message(db, alice, general.slug, f"@{bob.handle} hi")
    await notifications.read_room(db, bob.id, general.id, posted.message.id)

    await messages.edit_message(db, alice, posted.message.id, "hi everyone")

    assert [mention.unread for mention in await notifications.recent(db, bob)] == [False]


async def test_deleting_a_message_takes_its_notifications_with_it(
    db: Database, general: Room, alice: User, bob: User
) -> None:
    posted = await messages.create_message(db, alice, general.slug, f"@{bob.handle} hi")

    deleted = await messages.delete_message(db, alice, posted.message.id)

    assert deleted.alerted == {bob.id}
    assert (await notifications.alerts_for(db, bob.id)).total == 0
    assert await notifications.recent(db, bob) == []


async def test_reading_a_room_reads_its_mentions_up_to_where_the_reader_got(
    db: Database, general: Room, alice: User, bob: User
) -> None:
    first = await messages.create_message(db, alice, general.slug, f"@{bob.handle} one")
    await messages.create_message(db, alice, general.slug, f"@{bob.handle} two")

    assert await notifications.read_room(db, bob.id, general.id, first.message.id)
    assert (await notifications.alerts_for(db, bob.id)).total == 1
    assert not await notifications.read_room(db, bob.id, general.id, first.message.id)


async def test_reading_every_notification_clears_every_room(
    db: Database, general: Room, alice: User, bob: User
) -> None:
    other = await rooms.create_room(db, alice, name="Other")
    await rooms.join_room(db, bob, other.slug)
    await messages.create_message(db, alice, general.slug, f"@{bob.handle} here")
    await messages.create_message(db, alice, other.slug, f"@{bob.handle} there")
    assert (await notifications.alerts_for(db, bob.id)).by_room == {general.id: 1, other.id: 1}

    assert await notifications.read_all(db, bob.id)

    assert (await notifications.alerts_for(db, bob.id)).total == 0
    assert not await notifications.read_all(db, bob.id)


async def test_leaving_a_room_stops_its_mentions_counting_and_showing(
    db: Database, alice: User, bob: User
) -> None:
    secret = await rooms.create_room(db, alice, name="Secret", is_private=True)
    await rooms.add_member(db, alice, secret.slug, bob.email)
    await messages.create_message(db, alice, secret.slug, f"@{bob.handle} psst")

    await rooms.leave_room(db, bob, secret.slug)

    assert (await notifications.alerts_for(db, bob.id)).total == 0
    assert await notifications.recent(db, bob) == []


async def test_people_to_mention_are_members_matched_by_handle_or_name(
    db: Database, general: Room, alice: User, bob: User, make_user: MakeUser
) -> None:
    bea = await make_user("Béatrice Hall", "bea@example.com")
    await rooms.join_room(db, bea, general.slug)
    await make_user("Bob Outsider", "outsider@example.com")  # not in the room

    found = await notifications.members_named(db, general.id, "b", besides=alice.id)

    assert [person.id for person in found] == [bea.id, bob.id]
    assert await notifications.members_named(db, general.id, "al", besides=alice.id) == []


async def test_an_underscore_typed_matches_only_an_underscore(
    db: Database, general: Room, alice: User, bob: User
) -> None:
    found = await notifications.members_named(db, general.id, "bob_", besides=alice.id)

    assert [person.id for person in found] == [bob.id]
    assert await notifications.members_named(db, general.id, "bo_", besides=alice.id) == []


async def test_a_person_is_known_only_to_those_who_share_a_readable_room_with_them(
    db: Database, general: Room, alice: User, bob: User, carol: User
) -> None:
    await rooms.create_room(db, carol, name="Hideout", is_private=True)

    assert (await people.find_person(db, carol, carol.id)).id == carol.id
    assert (await people.find_person(db, carol, bob.id)).id == bob.id  # General is public
    with pytest.raises(NotFound):
        await people.find_person(db, alice, carol.id)  # she is only in her private room
    with pytest.raises(NotFound):
        await people.find_person(db, alice, 2**63)
