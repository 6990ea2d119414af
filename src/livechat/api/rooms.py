"""Rooms through the API: the caller, the rooms they may see, and joining, leaving and
creating them, with the same rules and the same live effects as the pages' forms."""

from __future__ import annotations

from fastapi import APIRouter, Response

from livechat.accounts.tokens import Grant
from livechat.api.auth import Caller, Writer, reach
from livechat.api.schemas import Me, Member, Person, RoomIn, RoomOut
from livechat.chat import rooms
from livechat.chat.access import unknown_room
from livechat.chat.rooms import RoomListing
from livechat.db import Database
from livechat.errors import Forbidden
from livechat.realtime import announce
from livechat.web.deps import DB, PathId, RealtimeDep

router = APIRouter(tags=["rooms"])


@router.get("/me", tags=["you"])
async def me(grant: Caller) -> Me:
    """Whom the token speaks for, and what it may do."""
    return Me.of_grant(grant)


async def _listed(db: Database, grant: Grant) -> list[RoomListing]:
    return [
        listing
        for listing in await rooms.list_rooms(db, grant.user.id)
        if grant.reaches(listing.room.id)
    ]


async def _listing(db: Database, grant: Grant, room_id: int) -> RoomListing:
    reach(grant, room_id)
    for listing in await rooms.list_rooms(db, grant.user.id, room_id=room_id):
        return listing
    raise unknown_room()


@router.get("/rooms")
async def list_rooms(db: DB, grant: Caller) -> list[RoomOut]:
    """Every room you may see and the token reaches: public rooms, and the private rooms
    and direct conversations you belong to."""
    return [RoomOut.of(listing) for listing in await _listed(db, grant)]


@router.post("/rooms", status_code=201)
async def create_room(db: DB, realtime: RealtimeDep, grant: Writer, room: RoomIn) -> RoomOut:
    """A new room, of which you are the admin."""
    if grant.room_ids is not None:
        raise Forbidden("This token is kept to some rooms, so it cannot make new ones.")
    created = await rooms.create_room(
        db, grant.user, name=room.name, description=room.description, is_private=room.is_private
    )
    await announce.room_created(realtime, created, grant.user.id)
    return RoomOut.of(await _listing(db, grant, created.id))


@router.get("/rooms/{room_id}")
async def show_room(db: DB, grant: Caller, room_id: PathId) -> RoomOut:
    return RoomOut.of(await _listing(db, grant, room_id))


@router.post("/rooms/{room_id}/join")
async def join_room(db: DB, realtime: RealtimeDep, grant: Writer, room_id: PathId) -> RoomOut:
    """Join a public room; joining one you are in already changes nothing. Private rooms
    are joined by invitation."""
    reach(grant, room_id)
    await rooms.join_room(db, grant.user, room_id)
    listing = await _listing(db, grant, room_id)
    await announce.members_changed(db, realtime, listing.room)
    await announce.joined(realtime, listing.room, grant.user.id)
    return RoomOut.of(listing)


@router.post("/rooms/{room_id}/leave", status_code=204)
async def leave_room(db: DB, realtime: RealtimeDep, grant: Writer, room_id: PathId) -> Response:
    reach(grant, room_id)
    room = await rooms.leave_room(db, grant.user, room_id)
    await announce.left(db, realtime, room, grant.user.id, "You left this room.")
    return Response(status_code=204)


@router.get("/rooms/{room_id}/members")
async def members(db: DB, grant: Caller, room_id: PathId) -> list[Member]:
    """Who belongs to the room, admins first, then by name."""
    reach(grant, room_id)
    access = await rooms.get_room(db, grant.user, room_id)
    return [
        Member(person=Person.of(person), role=role.value)
        for person, role in await rooms.members(db, access.room)
    ]
