"""Rooms and memberships: creating, listing, renaming, deleting, joining and leaving."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, bindparam, delete, func, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from livechat.accounts.models import User
from livechat.chat import notifications, people
from livechat.chat.access import (
    RoomRef,
    could_name_a_room,
    find_membership,
    missing_room,
    readable_by,
    readable_room,
    readable_room_as_member,
    readable_room_with_membership,
    readable_with_membership,
    require_admin,
    require_membership,
    unknown_room,
)
from livechat.chat.models import (
    ROOM_DESCRIPTION_MAX_LENGTH,
    ROOM_NAME_MAX_LENGTH,
    Attachment,
    FormerSlug,
    Membership,
    Message,
    Role,
    Room,
)
from livechat.db import Database
from livechat.errors import BadRequest, Conflict, Forbidden, Moved, NotFound
from livechat.inputs import is_id, one_line, require_text, storable


@dataclass(frozen=True, slots=True)
class RoomListing:
    room: Room
    member_count: int
    role: Role | None
    unread: int = 0  # counted up to notifications.UNREAD_COUNTED

    @property
    def is_member(self) -> bool:
        return self.role is not None


@dataclass(frozen=True, slots=True)
class RoomSummary:
    """What a room's open page keeps of it, enough to address and name it: a page stays
    open for hours, and a mapped ``Room`` would keep the ORM's bookkeeping with it."""

    id: int
    slug: str
    name: str
    is_private: bool


@dataclass(frozen=True, slots=True)
class Invitation:
    """Someone an admin let into a room; ``added`` is False if they were in it already."""

    room: Room
    invitee: User
    membership: Membership
    added: bool


@dataclass(frozen=True, slots=True)
class Removal:
    """Someone an admin took out of a room."""

    room: Room
    member: User


@dataclass(frozen=True, slots=True)
class RoomAccess:
    """A room as one user may see it: ``membership`` is None for a visitor of a public room.
    ``mentioned`` says whether they have a notification of it unread (as the room's page
    reads it; False elsewhere)."""

    room: Room
    membership: Membership | None
    mentioned: bool = False

    @property
    def is_member(self) -> bool:
        return self.membership is not None

    @property
    def is_admin(self) -> bool:
        return self.membership is not None and self.membership.is_admin


def slugify(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    return slug[:ROOM_NAME_MAX_LENGTH].rstrip("-") or "room"


def clean_room_fields(name: str, description: str) -> tuple[str, str]:
    name = one_line(
        name, named="Room names", max_length=ROOM_NAME_MAX_LENGTH, empty="A room needs a name."
    )
    description = require_text(description, "Descriptions must be valid text.").strip()
    if len(description) > ROOM_DESCRIPTION_MAX_LENGTH:
        raise BadRequest(f"Descriptions are at most {ROOM_DESCRIPTION_MAX_LENGTH} characters.")
    return name, description


async def _unique_slug(session: AsyncSession, name: str, room_id: int | None = None) -> str:
    """A slug for ``name`` that no other room has, or had before a rename. A slug left
    behind stays its room's until that room is deleted: bookmarks, links in messages and
    search results out there still lead to it, so a room made later under the same name is
    numbered rather than handed the old room's links. The room ``room_id`` may take back
    a slug of its own."""
    base = slugify(name)

    def similar(slug: InstrumentedAttribute[str]) -> ColumnElement[bool]:
        return (slug == base) | slug.startswith(f"{base}-", autoescape=True)

    current = select(Room.slug).where(similar(Room.slug))
    former = select(FormerSlug.slug).where(similar(FormerSlug.slug))
    if room_id is not None:
        current = current.where(Room.id != room_id)
        former = former.where(FormerSlug.room_id != room_id)
    # One statement, one snapshot: a room renamed meanwhile shows its slug in one table
    # or the other, never in neither.
    taken = set(await session.scalars(union_all(current, former)))
    slug, suffix = base, 2
    while slug in taken:
        slug, suffix = f"{base}-{suffix}", suffix + 1
    return slug


async def create_room(
    db: Database,
    user: User,
    *,
    name: str,
    description: str = "",
    is_private: bool = False,
) -> Room:
    name, description = clean_room_fields(name, description)
    async with db.write() as session:
        room = Room(
            name=name,
            description=description,
            slug=await _unique_slug(session, name),
            creator_id=user.id,
            is_private=is_private,
        )
        session.add(room)
        await session.flush()
        session.add(Membership(user_id=user.id, room_id=room.id, role=Role.ADMIN))
    return room


def direct_key(one: int, other: int) -> str:
    """The key of the direct conversation of two people, whichever of them asks."""
    low, high = sorted((one, other))
    return f"{low}:{high}"


@dataclass(frozen=True, slots=True)
class Direct:
    """A direct conversation, as one of its two people opens it."""

    room: Room
    partner: User
    started: bool  # by this opening


async def direct_room(db: Database, user: User, person_id: int) -> Direct:
    """The direct conversation of ``user`` and someone they may know of, started if need
    be. It is a private room of the two of them, with no admin: no one can be invited to
    it, nor can it be renamed, left or deleted."""
    person = await people.find_person(db, user, person_id)
    if person.id == user.id:
        raise BadRequest("A direct conversation needs someone else in it.")
    if not person.is_active:
        raise BadRequest(f"{person.display_name} has closed their account.")
    key = direct_key(user.id, person.id)
    try:
        async with db.write() as session:
            room = await session.scalar(select(Room).where(Room.direct_key == key))
            if room is not None:
                return Direct(room, person, started=False)
            low, high = sorted((user, person), key=lambda someone: someone.id)
            name = f"{low.display_name} & {high.display_name}"[:ROOM_NAME_MAX_LENGTH]
            room = Room(
                name=name,
                slug=await _unique_slug(session, f"dm {low.id} {high.id}"),
                creator_id=user.id,
                is_private=True,
                direct_key=key,
            )
            session.add(room)
            await session.flush()
            session.add_all(
                Membership(user_id=someone.id, room_id=room.id) for someone in (low, high)
            )
    except Conflict:
        # Started by the other person at the same moment, where writers run side by side.
        async with db.read() as session:
            room = (await session.scalars(select(Room).where(Room.direct_key == key))).one()
        return Direct(room, person, started=False)
    return Direct(room, person, started=True)


async def partners(db: Database, user_id: int, room_ids: Collection[int]) -> dict[int, User]:
    """The other person of each of the direct conversations ``room_ids`` of ``user_id``."""
    if not room_ids:
        return {}
    async with db.read() as session:
        rows = await session.execute(
            select(Membership.room_id, User)
            .join(User, User.id == Membership.user_id)
            .where(Membership.room_id.in_(room_ids), Membership.user_id != user_id)
        )
        return dict(rows.tuples().all())


async def direct_recipients(db: Database, room_id: int) -> list[int]:
    """The two people of a direct conversation, notified of every message in it; nobody
    for any other room."""
    async with db.read() as session:
        return list(
            await session.scalars(
                select(Membership.user_id)
                .join(Room, Room.id == Membership.room_id)
                .where(Room.id == room_id, Room.direct_key.is_not(None))
            )
        )


async def update_room(db: Database, user: User, slug: str, *, name: str, description: str) -> Room:
    """Rename or redescribe a room (admins only). A new name brings a new slug, and the
    old one is kept so that links to it still lead to the room."""
    name, description = clean_room_fields(name, description)
    async with db.write() as session:
        room = await readable_room(session, user.id, slug)
        await require_admin(session, user.id, room)
        if name != room.name:
            new_slug = await _unique_slug(session, name, room_id=room.id)
            if new_slug != room.slug:
                await session.execute(
                    delete(FormerSlug).where(
                        FormerSlug.room_id == room.id, FormerSlug.slug == new_slug
                    )
                )
                session.add(FormerSlug(slug=room.slug, room_id=room.id))
                room.slug = new_slug
        room.name, room.description = name, description
    return room


async def delete_room(db: Database, user: User, slug: str) -> Room:
    async with db.write() as session:
        room = await readable_room(session, user.id, slug)
        await require_admin(session, user.id, room)
        await session.delete(room)
    return room


async def list_rooms(
    db: Database, user_id: int, *, room_id: int | None = None
) -> list[RoomListing]:
    """Every room ``user_id`` may see, or only room ``room_id`` if they may, with its member
    count, the user's role in it, and how many of its messages they have not read."""
    member_count = (
        select(func.count(Membership.id))
        .where(Membership.room_id == Room.id)
        .correlate(Room)
        .scalar_subquery()
    )
    own_role = (
        select(Membership.role)
        .where(Membership.room_id == Room.id, Membership.user_id == user_id)
        .correlate(Room)
        .scalar_subquery()
    )
    unread = (
        select(notifications.unread_count(user_id))
        .where(Membership.room_id == Room.id, Membership.user_id == user_id)
        .correlate(Room)
        .scalar_subquery()
    )
    async with db.read() as session:
        query = select(Room, member_count, own_role, unread).where(readable_by(user_id))
        if room_id is not None:
            query = query.where(Room.id == room_id)
        rows = await session.execute(query.order_by(func.lower(Room.name), Room.id))
        return [
            RoomListing(room, count, Role(role) if role else None, unread or 0)
            for room, count, role, unread in rows
        ]


async def last_seq(db: Database, room_id: int) -> int | None:
    """Where the room's event sequence stands; None for a room that is gone."""
    return (await last_seqs(db, [room_id])).get(room_id)


async def last_seqs(db: Database, room_ids: list[int]) -> dict[int, int]:
    """Where each room's event sequence stands, by room id; rooms that are gone are not."""
    async with db.read() as session:
        rows = await session.execute(select(Room.id, Room.last_seq).where(Room.id.in_(room_ids)))
        return dict(rows.tuples().all())


async def member_ids(db: Database, room: Room) -> list[int]:
    async with db.read() as session:
        return list(
            await session.scalars(select(Membership.user_id).where(Membership.room_id == room.id))
        )


async def room_ids_of(db: Database, user_id: int) -> list[int]:
    """The rooms someone belongs to."""
    async with db.read() as session:
        return list(
            await session.scalars(select(Membership.room_id).where(Membership.user_id == user_id))
        )


async def rooms_of(db: Database, user_id: int, room_ids: Collection[int]) -> list[Room]:
    """Those of ``room_ids`` that ``user_id`` belongs to, by id."""
    async with db.read() as session:
        found = await session.scalars(
            select(Room)
            .join(Membership, Membership.room_id == Room.id)
            .where(Membership.user_id == user_id, Room.id.in_(list(room_ids)))
            .order_by(Room.id)
        )
        return list(found)


async def member_count(db: Database, room: Room) -> int:
    async with db.read() as session:
        count = await session.scalar(
            select(func.count(Membership.id)).where(Membership.room_id == room.id)
        )
        return count or 0


async def get_room(db: Database, user: User, slug: RoomRef) -> RoomAccess:
    async with db.read() as session:
        return RoomAccess(*await readable_room_with_membership(session, user.id, slug))


async def room_of_member(db: Database, user_id: int, slug: str) -> RoomSummary | None:
    """The room ``slug`` names, or named before a rename, if ``user_id`` is a member of
    it; None if they are not, or may not even know of it. A direct conversation is named
    for the other person in it."""
    try:
        async with db.read() as session:
            try:
                room = await readable_room_as_member(session, user_id, slug)
            except Moved as moved:
                # Asked again in the same snapshot, where the room is at its new slug.
                room = await readable_room_as_member(session, user_id, moved.slug)
    except (NotFound, Forbidden):
        return None
    name = room.name
    if room.is_direct:
        # Named for whom the member talks to in it, as its page names it.
        name = (await partners(db, user_id, [room.id]))[room.id].display_name
    return RoomSummary(room.id, room.slug, name, room.is_private)


# Built once, as every room page runs it: the readable room with the caller's membership,
# whether they have a notification of it unread, and a row for each upload they have
# waiting to be sent there (a single row for none).
_ROOM_PAGE = (
    readable_with_membership()
    .add_columns(notifications.unread_here(bindparam("user_id")).label("mentioned"), Attachment)
    .outerjoin(
        Attachment,
        and_(
            Attachment.room_id == Room.id,
            Attachment.uploader_id == Membership.user_id,
            Attachment.message_id.is_(None),
        ),
    )
    .where(Room.slug == bindparam("slug"))
    .order_by(Attachment.id)
)


async def open_room(db: Database, user: User, slug: str) -> tuple[RoomAccess, list[Attachment]]:
    """What a room's page reads from the store, in one query: the user's access to the
    room, with whether they have a notification of it unread, and, for a member, the
    uploads they have waiting to be sent there, oldest first."""
    if not could_name_a_room(slug):
        raise unknown_room()
    async with db.read() as session:
        rows = (await session.execute(_ROOM_PAGE, {"user_id": user.id, "slug": slug})).all()
        if not rows:
            raise await missing_room(session, user.id, slug)
    room, membership, mentioned, _ = rows[0]
    waiting = [row.Attachment for row in rows if row.Attachment is not None]
    return RoomAccess(room, membership, mentioned), waiting


async def join_room(db: Database, user: User, slug: RoomRef) -> Membership:
    """Join a public room; joining twice is harmless. Private rooms are joined by invitation."""
    async with db.write() as session:
        room = await readable_room(session, user.id, slug)
        membership = await find_membership(session, user.id, room.id)
        if membership is None:
            if room.is_private:
                raise NotFound("This room does not exist, or you are not a member of it.")
            membership = _newcomer(user.id, room)
            session.add(membership)
    return membership


def _newcomer(user_id: int, room: Room) -> Membership:
    """A member who has just come in: what was said before is history, not unread."""
    newest = select(func.coalesce(func.max(Message.id), 0)).where(Message.room_id == room.id)
    return Membership(
        user_id=user_id, room_id=room.id, role=Role.MEMBER, last_read_id=newest.scalar_subquery()
    )


async def add_member(db: Database, admin: User, slug: str, email: str) -> Invitation:
    """Invite someone, by email, into a room the caller administers."""
    email = require_text(email, f"No one has signed up as {storable(email, '?')}.")
    async with db.write() as session:
        room = await readable_room(session, admin.id, slug)
        await require_admin(session, admin.id, room)
        invitee = await session.scalar(
            select(User).where(func.lower(User.email) == email.strip().lower())
        )
        if invitee is None:
            raise BadRequest(f"No one has signed up as {email.strip()}.")
        membership = await find_membership(session, invitee.id, room.id)
        added = membership is None
        if membership is None:
            membership = _newcomer(invitee.id, room)
            session.add(membership)
    return Invitation(room, invitee, membership, added)


async def members(db: Database, room: Room) -> list[tuple[User, Role]]:
    """Who belongs to the room, admins first, then by name."""
    async with db.read() as session:
        rows = await session.execute(
            select(User, Membership.role)
            .join(Membership, Membership.user_id == User.id)
            .where(Membership.room_id == room.id)
            .order_by(Membership.role != Role.ADMIN, func.lower(User.display_name), User.id)
        )
        return [(user, Role(role)) for user, role in rows]


async def remove_member(db: Database, admin: User, slug: str, member_id: int) -> Removal:
    """Take someone out of a room the caller administers. Admins are not removed: a room
    must keep the people who run it, and one admin cannot overrule another."""
    async with db.write() as session:
        room = await readable_room(session, admin.id, slug)
        await require_admin(session, admin.id, room)
        membership = (
            await find_membership(session, member_id, room.id) if is_id(member_id) else None
        )
        if membership is None:
            raise NotFound("They are not a member of this room.")
        if membership.is_admin:
            raise Forbidden("Admins cannot be removed; an admin leaves by themselves.")
        member = await session.get_one(User, member_id)
        await session.delete(membership)
    return Removal(room, member)


async def leave_room(db: Database, user: User, slug: RoomRef) -> Room:
    """Leave a room. A room is never left without an admin while it has members: when its
    last admin leaves, the longest-standing member takes over."""
    async with db.write() as session:
        room = await readable_room(session, user.id, slug)
        membership = await require_membership(session, user.id, room)
        if room.is_direct:
            raise BadRequest("A direct conversation stays in your list; it cannot be left.")
        await session.execute(delete(Membership).where(Membership.id == membership.id))
        if membership.is_admin:
            await _ensure_an_admin(session, room)
    return room


async def _ensure_an_admin(session: AsyncSession, room: Room) -> None:
    members = select(Membership).where(Membership.room_id == room.id)
    if await session.scalar(members.where(Membership.role == Role.ADMIN).limit(1)) is not None:
        return
    successor = await session.scalar(members.order_by(Membership.joined_at, Membership.id))
    if successor is not None:
        successor.role = Role.ADMIN
