"""Rooms and memberships: creating, listing, joining, inviting, leaving, renaming, deleting."""

from __future__ import annotations

from collections.abc import Awaitable

import pytest
from sqlalchemy import func, select

from livechat.accounts.models import User
from livechat.chat import messages, rooms
from livechat.chat.access import unknown_room
from livechat.chat.models import (
    ROOM_DESCRIPTION_MAX_LENGTH,
    ROOM_NAME_MAX_LENGTH,
    FormerSlug,
    Message,
    Role,
    Room,
)
from livechat.db import Database
from livechat.errors import BadRequest, Forbidden, Moved, NotFound
from tests.helpers import MakeUser


async def listing_by_slug(db: Database, user: User) -> dict[str, rooms.RoomListing]:
    return {listing.room.slug: listing for listing in await rooms.list_rooms(db, user.id)}


# Creating


async def test_the_creator_of_a_room_becomes_its_admin(db: Database, alice: User) -> None:
    room = await rooms.create_room(db, alice, name="General", description="Anything goes")

    access = await rooms.get_room(db, alice, room.slug)
    assert access.is_member
    assert access.is_admin
    assert access.room.name == "General"
    assert access.room.description == "Anything goes"
    assert access.room.creator_id == alice.id
    assert not access.room.is_private


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("General", "general"),
        ("Café Talk", "cafe-talk"),
        ("Ünïcödé & Friends!", "unicode-friends"),
        ("  Hello,   World!!  ", "hello-world"),
        ("C++ / Rust", "c-rust"),
        ("--dashes--", "dashes"),
        ("Room 42", "room-42"),
        ("🎉🎉🎉", "room"),
        ("日本語", "room"),
        ("!!!", "room"),
        ("", "room"),
    ],
)
def test_a_slug_is_derived_from_the_name(name: str, slug: str) -> None:
    assert rooms.slugify(name) == slug


def test_a_slug_from_a_long_name_is_bounded_and_does_not_end_with_a_dash() -> None:
    slug = rooms.slugify("a" * (ROOM_NAME_MAX_LENGTH - 1) + " b" * 20)

    assert len(slug) <= ROOM_NAME_MAX_LENGTH
    assert not slug.endswith("-")
    assert slug.startswith("a" * (ROOM_NAME_MAX_LENGTH - 1))


async def test_a_room_gets_its_slug_from_its_name_without_accents_or_punctuation(
    db: Database, alice: User
) -> None:
    room = await rooms.create_room(db, alice, name="Café Talk!")

    assert room.slug == "cafe-talk"


async def test_an_emoji_only_name_falls_back_to_the_slug_room(db: Database, alice: User) -> None:
    room = await rooms.create_room(db, alice, name="🎉🎈")

    assert room.name == "🎉🎈"
    assert room.slug == "room"


async def test_slugs_are_kept_unique_by_numbering_rooms_with_similar_names(
    db: Database, alice: User, bob: User
) -> None:
    first = await rooms.create_room(db, alice, name="Café Talk")
    second = await rooms.create_room(db, bob, name="cafe talk!")
    third = await rooms.create_room(db, alice, name="CAFÉ  TALK")

    assert [first.slug, second.slug, third.slug] == ["cafe-talk", "cafe-talk-2", "cafe-talk-3"]
    assert (await rooms.get_room(db, bob, "cafe-talk-2")).room.id == second.id


async def test_emoji_only_names_are_numbered_too(db: Database, alice: User) -> None:
    first = await rooms.create_room(db, alice, name="🎉")
    second = await rooms.create_room(db, alice, name="🚀")

    assert [first.slug, second.slug] == ["room", "room-2"]


async def test_a_room_name_is_trimmed_and_its_inner_spaces_collapsed(
    db: Database, alice: User
) -> None:
    room = await rooms.create_room(
        db, alice, name="   Café \t  Talk  ", description="  about coffee \n"
    )

    assert room.name == "Café Talk"
    assert room.description == "about coffee"


@pytest.mark.parametrize("name", ["", "   ", "\t\n"])
async def test_a_room_needs_a_name(db: Database, alice: User, name: str) -> None:
    with pytest.raises(BadRequest, match="needs a name"):
        await rooms.create_room(db, alice, name=name)

    assert await rooms.list_rooms(db, alice.id) == []


async def test_a_room_name_of_the_maximum_length_is_accepted(db: Database, alice: User) -> None:
    name = "n" * ROOM_NAME_MAX_LENGTH

    room = await rooms.create_room(db, alice, name=name)

    assert room.name == name


async def test_a_room_name_longer_than_the_maximum_is_rejected(db: Database, alice: User) -> None:
    with pytest.raises(BadRequest, match="at most"):
        await rooms.create_room(db, alice, name="n" * (ROOM_NAME_MAX_LENGTH + 1))

    assert await rooms.list_rooms(db, alice.id) == []


async def test_a_description_of_the_maximum_length_is_accepted(db: Database, alice: User) -> None:
    description = "d" * ROOM_DESCRIPTION_MAX_LENGTH

    room = await rooms.create_room(db, alice, name="General", description=description)

    assert room.description == description


async def test_a_description_longer_than_the_maximum_is_rejected(db: Database, alice: User) -> None:
    with pytest.raises(BadRequest, match="at most"):
        await rooms.create_room(
            db, alice, name="General", description="d" * (ROOM_DESCRIPTION_MAX_LENGTH + 1)
        )

    assert await rooms.list_rooms(db, alice.id) == []


# Listing and looking up


async def test_everyone_sees_public_rooms_in_the_list(db: Database, alice: User, bob: User) -> None:
    await rooms.create_room(db, alice, name="General")

    listed = await listing_by_slug(db, bob)

    assert list(listed) == ["general"]
    assert listed["general"].member_count == 1
    assert listed["general"].role is None
    assert not listed["general"].is_member


async def test_a_private_room_is_listed_only_for_its_members(
    db: Database, alice: User, bob: User, carol: User
) -> None:
    await rooms.create_room(db, alice, name="General")
    secret = await rooms.create_room(db, alice, name="Secret Plans", is_private=True)
    await rooms.add_member(db, alice, secret.slug, bob.email)

    assert set(await listing_by_slug(db, alice)) == {"general", "secret-plans"}
    assert set(await listing_by_slug(db, bob)) == {"general", "secret-plans"}
    assert set(await listing_by_slug(db, carol)) == {"general"}


async def test_the_room_list_shows_member_counts_and_the_callers_role(
    db: Database, alice: User, bob: User, carol: User
) -> None:
    general = await rooms.create_room(db, alice, name="General")
    await rooms.create_room(db, bob, name="Bob's Corner")
    await rooms.join_room(db, bob, general.slug)
    await rooms.join_room(db, carol, general.slug)

    listed = await listing_by_slug(db, bob)

    assert listed["general"].member_count == 3
    assert listed["general"].role == Role.MEMBER
    assert listed["general"].is_member
    assert listed["bob-s-corner"].member_count == 1
    assert listed["bob-s-corner"].role == Role.ADMIN
    alices_view = await listing_by_slug(db, alice)
    assert alices_view["general"].role == Role.ADMIN
    assert alices_view["bob-s-corner"].role is None


async def test_the_room_list_is_sorted_by_name_regardless_of_case(
    db: Database, alice: User
) -> None:
    for name in ["banana", "Apple", "cherry", "Banana split"]:
        await rooms.create_room(db, alice, name=name)

    names = [listing.room.name for listing in await rooms.list_rooms(db, alice.id)]

    assert names == ["Apple", "banana", "Banana split", "cherry"]


async def test_a_visitor_can_look_at_a_public_room_without_being_a_member(
    db: Database, alice: User, bob: User
) -> None:
    room = await rooms.create_room(db, alice, name="General")

    access = await rooms.get_room(db, bob, room.slug)

    assert access.room.id == room.id
    assert not access.is_member
    assert not access.is_admin


async def test_a_private_room_is_not_found_by_non_members(
    db: Database, alice: User, bob: User
) -> None:
    room = await rooms.create_room(db, alice, name="Secret Plans", is_private=True)

    with pytest.raises(NotFound) as raised:
        await rooms.get_room(db, bob, room.slug)

    assert "Secret Plans" not in raised.value.message


async def test_an_unknown_slug_is_not_found(db: Database, alice: User) -> None:
    with pytest.raises(NotFound):
        await rooms.get_room(db, alice, "no-such-room")


# Joining and inviting


async def test_joining_a_public_room_makes_one_a_member(
    db: Database, alice: User, bob: User
) -> None:
    room = await rooms.create_room(db, alice, name="General")

    membership = await rooms.join_room(db, bob, room.slug)

    assert membership.role == Role.MEMBER
    assert not membership.is_admin
    access = await rooms.get_room(db, bob, room.slug)
    assert access.is_member
    assert not access.is_admin


async def test_joining_a_room_twice_is_harmless(db: Database, alice: User, bob: User) -> None:
    room = await rooms.create_room(db, alice, name="General")

    first = await rooms.join_room(db, bob, room.slug)
    second = await rooms.join_room(db, bob, room.slug)

    assert second.id == first.id
    assert (await listing_by_slug(db, bob))["general"].member_count == 2


async def test_an_admin_joining_their_own_room_stays_admin(db: Database, alice: User) -> None:
    room = await rooms.create_room(db, alice, name="General")

    membership = await rooms.join_room(db, alice, room.slug)

    assert membership.is_admin
    assert (await rooms.get_room(db, alice, room.slug)).is_admin


async def test_joining_a_private_room_uninvited_is_not_found(
    db: Database, alice: User, bob: User
) -> None:
    room = await rooms.create_room(db, alice, name="Secret Plans", is_private=True)

    with pytest.raises(NotFound):
        await rooms.join_room(db, bob, room.slug)

    assert set(await listing_by_slug(db, bob)) == set()


async def test_an_admin_can_add_someone_to_a_private_room_by_email(
    db: Database, alice: User, bob: User
) -> None:
    room = await rooms.create_room(db, alice, name="Secret Plans", is_private=True)

    invitation = await rooms.add_member(db, alice, room.slug, "  BOB@Example.COM ")

    assert invitation.added
    assert invitation.invitee.id == bob.id
    assert invitation.membership.user_id == bob.id
    assert invitation.membership.role == Role.MEMBER
    access = await rooms.get_room(db, bob, room.slug)
    assert access.is_member
    assert not access.is_admin
    assert (await listing_by_slug(db, bob))["secret-plans"].member_count == 2


async def test_adding_someone_who_is_already_a_member_changes_nothing(
    db: Database, alice: User, bob: User
) -> None:
    room = await rooms.create_room(db, alice, name="General")
    joined = await rooms.join_room(db, bob, room.slug)

    invitation = await rooms.add_member(db, alice, room.slug, bob.email)

    assert not invitation.added
    assert invitation.membership.id == joined.id
    assert (await listing_by_slug(db, alice))["general"].member_count == 2


async def test_a_member_who_is_not_an_admin_cannot_add_people(
    db: Database, alice: User, bob: User, carol: User
) -> None:
    room = await rooms.create_room(db, alice, name="Secret Plans", is_private=True)
    await rooms.add_member(db, alice, room.slug, bob.email)

    with pytest.raises(Forbidden):
        await rooms.add_member(db, bob, room.slug, carol.email)

    with pytest.raises(NotFound):
        await rooms.get_room(db, carol, room.slug)


async def test_a_visitor_of_a_public_room_cannot_add_people(
    db: Database, alice: User, bob: User, carol: User
) -> None:
    room = await rooms.create_room(db, alice, name="General")

    with pytest.raises(Forbidden):
        await rooms.add_member(db, bob, room.slug, carol.email)

    assert (await listing_by_slug(db, alice))["general"].member_count == 1


async def test_a_stranger_cannot_add_people_to_a_private_room_they_cannot_see(
    db: Database, alice: User, bob: User, carol: User
) -> None:
    room = await rooms.create_room(db, alice, name="Secret Plans", is_private=True)

    with pytest.raises(NotFound):
        await rooms.add_member(db, bob, room.slug, carol.email)


async def test_adding_an_unknown_email_is_a_bad_request(db: Database, alice: User) -> None:
    room = await rooms.create_room(db, alice, name="General")

    with pytest.raises(BadRequest, match=r"nobody@example\.com"):
        await rooms.add_member(db, alice, room.slug, "nobody@example.com")

    assert (await listing_by_slug(db, alice))["general"].member_count == 1


# Leaving


async def test_a_member_can_leave_a_room(db: Database, alice: User, bob: User) -> None:
    room = await rooms.create_room(db, alice, name="General")
    await rooms.join_room(db, bob, room.slug)

    await rooms.leave_room(db, bob, room.slug)

    listed = (await listing_by_slug(db, bob))["general"]
    assert not listed.is_member
    assert listed.member_count == 1
    assert not (await rooms.get_room(db, bob, room.slug)).is_member


async def test_leaving_a_private_room_makes_it_invisible(
    db: Database, alice: User, bob: User
) -> None:
    room = await rooms.create_room(db, alice, name="Secret Plans", is_private=True)
    await rooms.add_member(db, alice, room.slug, bob.email)

    await rooms.leave_room(db, bob, room.slug)

    with pytest.raises(NotFound):
        await rooms.get_room(db, bob, room.slug)
    assert await listing_by_slug(db, bob) == {}


async def test_leaving_a_room_one_is_not_in_is_forbidden(
    db: Database, alice: User, bob: User
) -> None:
    room = await rooms.create_room(db, alice, name="General")

    with pytest.raises(Forbidden):
        await rooms.leave_room(db, bob, room.slug)


async def test_when_the_last_admin_leaves_the_longest_standing_member_becomes_admin(
    db: Database, alice: User, bob: User, carol: User, make_user: MakeUser
) -> None:
    dave = await make_user("Dave Smith")
    room = await rooms.create_room(db, alice, name="General")
    await rooms.join_room(db, bob, room.slug)
    await rooms.join_room(db, carol, room.slug)
    await rooms.join_room(db, dave, room.slug)

    await rooms.leave_room(db, alice, room.slug)

    assert (await rooms.get_room(db, bob, room.slug)).is_admin
    assert not (await rooms.get_room(db, carol, room.slug)).is_admin
    assert not (await rooms.get_room(db, dave, room.slug)).is_admin
    assert not (await rooms.get_room(db, alice, room.slug)).is_member
    assert (await listing_by_slug(db, bob))["general"].member_count == 3


async def test_membership_standing_counts_from_the_latest_time_one_joined(
    db: Database, alice: User, bob: User, carol: User
) -> None:
    room = await rooms.create_room(db, alice, name="General")
    await rooms.join_room(db, bob, room.slug)
    await rooms.join_room(db, carol, room.slug)
    await rooms.leave_room(db, bob, room.slug)
    await rooms.join_room(db, bob, room.slug)

    await rooms.leave_room(db, alice, room.slug)

    assert (await rooms.get_room(db, carol, room.slug)).is_admin
    assert not (await rooms.get_room(db, bob, room.slug)).is_admin


async def test_the_new_admin_after_the_last_admin_leaves_can_administer_the_room(
    db: Database, alice: User, bob: User, carol: User
) -> None:
    room = await rooms.create_room(db, alice, name="Secret Plans", is_private=True)
    await rooms.add_member(db, alice, room.slug, bob.email)

    await rooms.leave_room(db, alice, room.slug)
    await rooms.add_member(db, bob, room.slug, carol.email)

    assert (await rooms.get_room(db, carol, room.slug)).is_member


async def test_a_member_leaving_does_not_promote_anyone(
    db: Database, alice: User, bob: User, carol: User
) -> None:
    room = await rooms.create_room(db, alice, name="General")
    await rooms.join_room(db, bob, room.slug)
    await rooms.join_room(db, carol, room.slug)

    await rooms.leave_room(db, bob, room.slug)

    assert (await rooms.get_room(db, alice, room.slug)).is_admin
    assert not (await rooms.get_room(db, carol, room.slug)).is_admin


async def test_the_last_member_leaving_leaves_an_empty_room(db: Database, alice: User) -> None:
    room = await rooms.create_room(db, alice, name="General")

    await rooms.leave_room(db, alice, room.slug)

    listed = (await listing_by_slug(db, alice))["general"]
    assert listed.member_count == 0
    assert listed.role is None


# Renaming


async def test_an_admin_can_rename_a_room_which_changes_its_slug(db: Database, alice: User) -> None:
    room = await rooms.create_room(db, alice, name="General", description="old")

    updated = await rooms.update_room(
        db, alice, room.slug, name="  Café   Lounge ", description=" new "
    )

    assert updated.id == room.id
    assert updated.name == "Café Lounge"
    assert updated.slug == "cafe-lounge"
    assert updated.description == "new"
    assert (await rooms.get_room(db, alice, "cafe-lounge")).room.id == room.id


async def moved_to(action: Awaitable[object]) -> str:
    """Where ``action``, a lookup by a room's former slug, says the room is now."""
    with pytest.raises(Moved) as moved:
        await action
    return moved.value.slug


async def test_a_renamed_room_is_still_found_by_its_old_slug_which_says_where_it_is_now(
    db: Database, alice: User, bob: User
) -> None:
    room = await rooms.create_room(db, alice, name="General")
    await rooms.join_room(db, bob, room.slug)
    await rooms.update_room(db, alice, room.slug, name="Town square", description="")

    assert await moved_to(rooms.get_room(db, bob, "general")) == "town-square"
    assert await moved_to(rooms.open_room(db, bob, "general")) == "town-square"
    assert await moved_to(messages.history(db, bob, "general")) == "town-square"
    assert await moved_to(messages.create_message(db, bob, "general", "hi")) == "town-square"
    assert await moved_to(rooms.leave_room(db, bob, "general")) == "town-square"
    assert (await rooms.get_room(db, bob, "town-square")).is_member  # nothing was done


async def test_every_slug_a_room_had_leads_to_its_slug_now(db: Database, alice: User) -> None:
    room = await rooms.create_room(db, alice, name="General")
    await rooms.update_room(db, alice, "general", name="Town square", description="")
    await rooms.update_room(db, alice, "town-square", name="Agora", description="")

    for old in ("general", "town-square"):
        assert await moved_to(rooms.get_room(db, alice, old)) == "agora"
    assert (await rooms.get_room(db, alice, "agora")).room.id == room.id


async def test_a_room_renamed_back_takes_its_old_slug_back(db: Database, alice: User) -> None:
    room = await rooms.create_room(db, alice, name="General")
    await rooms.update_room(db, alice, "general", name="Town square", description="")

    back = await rooms.update_room(db, alice, "town-square", name="General", description="")

    assert back.slug == "general"
    assert (await rooms.get_room(db, alice, "general")).room.id == room.id
    assert await moved_to(rooms.get_room(db, alice, "town-square")) == "general"
    again = await rooms.update_room(db, alice, "general", name="Town square", description="")
    assert again.slug == "town-square"
    assert await moved_to(rooms.get_room(db, alice, "general")) == "town-square"


async def test_a_new_room_never_takes_the_old_slug_of_a_renamed_one(
    db: Database, alice: User, bob: User
) -> None:
    await rooms.create_room(db, alice, name="General")
    await rooms.update_room(db, alice, "general", name="Town square", description="")

    newcomer = await rooms.create_room(db, bob, name="General")
    other = await rooms.create_room(db, bob, name="Random")
    moved_in = await rooms.update_room(db, bob, other.slug, name="General", description="")

    assert newcomer.slug == "general-2"
    assert moved_in.slug == "general-3"
    assert await moved_to(rooms.get_room(db, bob, "general")) == "town-square"


async def test_a_private_rooms_old_slug_tells_a_non_member_nothing(
    db: Database, alice: User, bob: User, carol: User
) -> None:
    secret = await rooms.create_room(db, alice, name="Secret Plans", is_private=True)
    await rooms.add_member(db, alice, secret.slug, bob.email)
    await rooms.update_room(db, alice, secret.slug, name="Launch date", description="")

    assert await moved_to(rooms.get_room(db, bob, "secret-plans")) == "launch-date"
    with pytest.raises(NotFound) as raised:
        await rooms.get_room(db, carol, "secret-plans")
    assert not isinstance(raised.value, Moved)
    assert raised.value.message == unknown_room().message
    assert await rooms.room_of_member(db, carol.id, "secret-plans") is None


async def test_a_members_socket_finds_the_room_by_an_old_slug(
    db: Database, alice: User, bob: User
) -> None:
    room = await rooms.create_room(db, alice, name="General")
    await rooms.update_room(db, alice, room.slug, name="Town square", description="")

    found = await rooms.room_of_member(db, alice.id, "general")

    assert found == rooms.RoomSummary(room.id, "town-square", "Town square", is_private=False)
    assert await rooms.room_of_member(db, bob.id, "general") is None  # not a member


async def test_deleting_a_room_frees_its_old_slugs(db: Database, alice: User) -> None:
    room = await rooms.create_room(db, alice, name="General")
    await rooms.update_room(db, alice, room.slug, name="Town square", description="")

    await rooms.delete_room(db, alice, "town-square")

    with pytest.raises(NotFound) as raised:
        await rooms.get_room(db, alice, "general")
    assert not isinstance(raised.value, Moved)
    async with db.read() as session:
        assert await session.scalar(select(func.count()).select_from(FormerSlug)) == 0
    assert (await rooms.create_room(db, alice, name="General")).slug == "general"


async def test_changing_only_the_description_keeps_the_slug(db: Database, alice: User) -> None:
    room = await rooms.create_room(db, alice, name="General")

    updated = await rooms.update_room(db, alice, room.slug, name="General", description="Hi")

    assert updated.slug == "general"
    assert (await rooms.get_room(db, alice, "general")).room.description == "Hi"


async def test_renaming_to_a_name_with_the_same_slug_keeps_the_slug(
    db: Database, alice: User
) -> None:
    room = await rooms.create_room(db, alice, name="Cafe Talk")

    updated = await rooms.update_room(db, alice, room.slug, name="Café talk!", description="")

    assert updated.name == "Café talk!"
    assert updated.slug == "cafe-talk"
    async with db.read() as session:
        assert await session.scalar(select(func.count()).select_from(FormerSlug)) == 0


async def test_renaming_to_a_taken_slug_numbers_the_new_slug(db: Database, alice: User) -> None:
    await rooms.create_room(db, alice, name="Random")
    room = await rooms.create_room(db, alice, name="General")

    updated = await rooms.update_room(db, alice, room.slug, name="Random!", description="")

    assert updated.slug == "random-2"
    assert (await rooms.get_room(db, alice, "random")).room.name == "Random"


async def test_a_member_cannot_rename_a_room(db: Database, alice: User, bob: User) -> None:
    room = await rooms.create_room(db, alice, name="General")
    await rooms.join_room(db, bob, room.slug)

    with pytest.raises(Forbidden):
        await rooms.update_room(db, bob, room.slug, name="Bob's room", description="")

    assert (await rooms.get_room(db, alice, "general")).room.name == "General"


async def test_renaming_checks_the_new_name(db: Database, alice: User) -> None:
    room = await rooms.create_room(db, alice, name="General")

    with pytest.raises(BadRequest):
        await rooms.update_room(db, alice, room.slug, name="   ", description="")
    with pytest.raises(BadRequest):
        await rooms.update_room(
            db, alice, room.slug, name="x" * (ROOM_NAME_MAX_LENGTH + 1), description=""
        )

    assert (await rooms.get_room(db, alice, "general")).room.name == "General"


# Deleting


async def test_an_admin_can_delete_a_room_with_its_messages(
    db: Database, alice: User, bob: User
) -> None:
    room = await rooms.create_room(db, alice, name="General")
    await rooms.join_room(db, bob, room.slug)
    await messages.create_message(db, alice, room.slug, "hello")
    await messages.create_message(db, bob, room.slug, "hi there")

    deleted = await rooms.delete_room(db, alice, room.slug)

    assert deleted.id == room.id
    with pytest.raises(NotFound):
        await rooms.get_room(db, alice, room.slug)
    assert await rooms.list_rooms(db, bob.id) == []
    async with db.read() as session:
        left = await session.scalar(
            select(func.count()).select_from(Message).where(Message.room_id == room.id)
        )
        rooms_left = await session.scalar(select(func.count()).select_from(Room))
    assert left == 0
    assert rooms_left == 0


async def test_a_member_cannot_delete_a_room(db: Database, alice: User, bob: User) -> None:
    room = await rooms.create_room(db, alice, name="General")
    await rooms.join_room(db, bob, room.slug)

    with pytest.raises(Forbidden):
        await rooms.delete_room(db, bob, room.slug)

    assert (await rooms.get_room(db, alice, room.slug)).room.id == room.id


async def test_a_visitor_cannot_delete_a_public_room(db: Database, alice: User, bob: User) -> None:
    room = await rooms.create_room(db, alice, name="General")

    with pytest.raises(Forbidden):
        await rooms.delete_room(db, bob, room.slug)

    assert (await rooms.get_room(db, alice, room.slug)).room.id == room.id


async def test_a_stranger_cannot_delete_a_private_room_nor_learn_it_exists(
    db: Database, alice: User, bob: User
) -> None:
    room = await rooms.create_room(db, alice, name="Secret Plans", is_private=True)

    with pytest.raises(NotFound):
        await rooms.delete_room(db, bob, room.slug)

    assert (await rooms.get_room(db, alice, room.slug)).room.id == room.id


async def test_a_deleted_rooms_slug_can_be_used_again(db: Database, alice: User) -> None:
    room = await rooms.create_room(db, alice, name="General")
    await rooms.delete_room(db, alice, room.slug)

    again = await rooms.create_room(db, alice, name="General")

    assert again.slug == "general"


# Members and removing them


async def test_members_are_listed_admins_first_then_by_name(
    db: Database, alice: User, bob: User, carol: User
) -> None:
    room = await rooms.create_room(db, bob, name="General")
    for member in (carol, alice):
        await rooms.join_room(db, member, room.slug)

    listed = await rooms.members(db, room)

    assert [(user.display_name, role) for user, role in listed] == [
        ("Bob Okafor", Role.ADMIN),
        ("Alice Martin", Role.MEMBER),
        ("Carol Nguyen", Role.MEMBER),
    ]


async def test_an_admin_can_remove_a_member(db: Database, alice: User, bob: User) -> None:
    room = await rooms.create_room(db, alice, name="General", is_private=True)
    await rooms.add_member(db, alice, room.slug, bob.email)

    await rooms.remove_member(db, alice, room.slug, bob.id)

    with pytest.raises(NotFound):  # private: gone from sight, not only from the members
        await rooms.get_room(db, bob, room.slug)


@pytest.mark.parametrize(
    ("remover", "removed", "refusal"),
    [
        ("bob", "carol", Forbidden),  # not an admin
        ("alice", "alice", Forbidden),  # an admin leaves by themselves
        ("alice", "dave", NotFound),  # not a member
        ("alice", 2**64, NotFound),  # not even an id
    ],
)
async def test_removing_is_refused_unless_an_admin_removes_a_member(
    db: Database,
    make_user: MakeUser,
    alice: User,
    bob: User,
    carol: User,
    remover: str,
    removed: str | int,
    refusal: type[Exception],
) -> None:
    dave = await make_user("Dave Singh")
    people = {"alice": alice, "bob": bob, "carol": carol, "dave": dave}
    room = await rooms.create_room(db, alice, name="General")
    for member in (bob, carol):
        await rooms.join_room(db, member, room.slug)
    target = removed if isinstance(removed, int) else people[removed].id

    with pytest.raises(refusal):
        await rooms.remove_member(db, people[remover], room.slug, target)

    assert len(await rooms.members(db, room)) == 3
