"""Who may read what: the one definition every query about rooms is scoped by.

A private room is readable by its members only; to anyone else it does not exist, so
lookups answer "not found" rather than "forbidden" and never confirm its name, nor the
name it had before a rename.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, Select, and_, bindparam, exists, false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from livechat.chat.models import FormerSlug, Membership, Room
from livechat.errors import Forbidden, Moved, NotFound
from livechat.inputs import is_id, is_text


def readable_by(user_id: int) -> ColumnElement[bool]:
    is_member = exists().where(Membership.room_id == Room.id, Membership.user_id == user_id)
    return or_(Room.is_private == false(), is_member)


async def find_membership(session: AsyncSession, user_id: int, room_id: int) -> Membership | None:
    membership: Membership | None = await session.scalar(
        select(Membership).where(Membership.user_id == user_id, Membership.room_id == room_id)
    )
    return membership


RoomRef = int | str  # a room's id, or its slug as it appears in URLs


def could_name_a_room(ref: RoomRef) -> bool:
    """Whether a room could be found by ``ref``. The driver raises on an id out of range
    or text with no UTF-8 form, and no room has either, so such a ref is not looked up."""
    if isinstance(ref, int):
        return is_id(ref)
    return is_text(ref)


def room_key(ref: RoomRef) -> ColumnElement[bool]:
    """The condition on ``Room`` that ``ref`` names it by."""
    return Room.id == ref if isinstance(ref, int) else Room.slug == ref


def unknown_room() -> NotFound:
    return NotFound("This room does not exist, or you are not a member of it.")


async def missing_room(session: AsyncSession, user_id: int, ref: RoomRef) -> NotFound:
    """What to say of ``ref``, which names no room the user may read now: ``Moved`` if it
    is a slug a room they may read had before a rename, or else that it is unknown. To
    anyone who may not read the room, a former slug says no more than any unknown one."""
    if isinstance(ref, str) and could_name_a_room(ref):
        slug = await session.scalar(
            select(Room.slug)
            .join(FormerSlug, FormerSlug.room_id == Room.id)
            .where(FormerSlug.slug == ref, readable_by(user_id))
        )
        if slug is not None:
            return Moved(slug)
    return unknown_room()


async def readable_room(session: AsyncSession, user_id: int, ref: RoomRef) -> Room:
    room = None
    if could_name_a_room(ref):
        room = await session.scalar(select(Room).where(room_key(ref), readable_by(user_id)))
    if room is None:
        raise await missing_room(session, user_id, ref)
    return room


def readable_with_membership() -> Select[tuple[Room, Membership]]:
    """Rooms, each with the membership in it of the user bound as ``user_id`` (None where
    there is none), and only those that user may read: ``readable_by`` as an outer join,
    for the queries that want the membership as well."""
    return (
        select(Room, Membership)
        .outerjoin(
            Membership,
            and_(Membership.room_id == Room.id, Membership.user_id == bindparam("user_id")),
        )
        .where(or_(Room.is_private == false(), Membership.id.is_not(None)))
    )


# Built once: most room routes and every catch-up run one, and building a statement
# costs more than running it.
_ROOM_WITH_MEMBERSHIP_BY_SLUG = readable_with_membership().where(Room.slug == bindparam("ref"))
_ROOM_WITH_MEMBERSHIP_BY_ID = readable_with_membership().where(Room.id == bindparam("ref"))


async def readable_room_with_membership(
    session: AsyncSession, user_id: int, ref: RoomRef
) -> tuple[Room, Membership | None]:
    """The room, as ``readable_room`` finds it, and the user's membership of it (None for
    a visitor of a public room), in one query: the room routes ask for both."""
    if not could_name_a_room(ref):
        raise unknown_room()
    query = _ROOM_WITH_MEMBERSHIP_BY_ID if isinstance(ref, int) else _ROOM_WITH_MEMBERSHIP_BY_SLUG
    found = (await session.execute(query, {"user_id": user_id, "ref": ref})).first()
    if found is None:
        raise await missing_room(session, user_id, ref)
    return found.Room, found.Membership


async def readable_room_as_member(session: AsyncSession, user_id: int, ref: RoomRef) -> Room:
    """The room, as ``readable_room`` finds it, if the user is a member, in one query:
    ``Forbidden`` for a visitor of a public room."""
    room, membership = await readable_room_with_membership(session, user_id, ref)
    if membership is None:
        raise not_a_member(room)
    return room


def not_a_member(room: Room) -> Forbidden:
    return Forbidden(f"Join {room.name} to take part in it.")


async def require_membership(session: AsyncSession, user_id: int, room: Room) -> Membership:
    membership = await find_membership(session, user_id, room.id)
    if membership is None:
        raise not_a_member(room)
    return membership


async def require_admin(session: AsyncSession, user_id: int, room: Room) -> Membership:
    membership = await require_membership(session, user_id, room)
    if not membership.is_admin:
        raise Forbidden(f"Only an admin of {room.name} can do that.")
    return membership
