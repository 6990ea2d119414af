"""The room list, the room page and the forms that change rooms and memberships."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from livechat.accounts.models import User
from livechat.chat import attachments, messages, notifications, rooms
from livechat.chat.models import Room
from livechat.db import Database
from livechat.errors import BadRequest, Unavailable
from livechat.inputs import MAX_ID
from livechat.realtime import announce, broadcasts
from livechat.realtime.actor import ActorBusy, ActorStopped
from livechat.realtime.hub import LOBBY_TOPIC, room_topic, user_topic
from livechat.realtime.presence import Sidebar
from livechat.realtime.tree import Realtime
from livechat.web import alerts, notices, timeline
from livechat.web.deps import (
    DB,
    CurrentUser,
    OptionalQueryId,
    PathId,
    RealtimeDep,
    SettingsDep,
)
from livechat.web.notices import Notice
from livechat.web.templating import is_htmx, render

router = APIRouter(prefix="/rooms")

FormText = Annotated[str, Form()]


def _see(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


async def room_lists(db: Database, realtime: Realtime, user_id: int) -> dict[str, Any]:
    """What the two lists of ``user_id``'s room list page show: the rooms they may see,
    with who is in each, and their direct conversations, with whom."""
    listings = await rooms.list_rooms(db, user_id)
    shared = [listing for listing in listings if not listing.room.is_direct]
    direct = [listing for listing in listings if listing.room.is_direct]
    online = {
        listing.room.id: realtime.presence.online_count(listing.room.id) for listing in shared
    }
    return {
        "listings": shared,
        "direct": direct,
        "partners": await rooms.partners(db, user_id, [listing.room.id for listing in direct]),
        "online_counts": online,
        "alerts": await notifications.alerts_for(db, user_id),
    }


async def _index(
    request: Request, db: Database, realtime: Realtime, user: User, **context: Any
) -> Response:
    context.setdefault("form", {})
    return render(
        request,
        "rooms/index.html",
        {**await room_lists(db, realtime, user.id), **context},
        status_code=400 if "error" in context else 200,
    )


async def _latest(db: Database, realtime: Realtime, user: User, room: Room) -> messages.Page:
    """The newest page with its cursor: cached by the room's server, which serialises the
    room's changes so the two agree; read from the store while that server is down."""
    try:
        return await realtime.rooms.server_for(room.id).recent(user)
    except (Unavailable, ActorBusy, ActorStopped, TimeoutError):
        return await messages.latest_page(db, user.id, room.id)


async def _sidebar(realtime: Realtime, room: Room) -> Sidebar:
    """Who is online in the room; nobody yet while Presence is too busy to say or is
    restarting: the page is worth more than its sidebar, which the page's socket asks
    for again as it connects."""
    try:
        return await realtime.presence.online(room.id)
    except (ActorBusy, ActorStopped, TimeoutError):
        return Sidebar(version=0)


@router.get("")
async def index(request: Request, db: DB, realtime: RealtimeDep, user: CurrentUser) -> Response:
    return await _index(request, db, realtime, user)


@router.post("")
async def create(
    request: Request,
    db: DB,
    realtime: RealtimeDep,
    user: CurrentUser,
    name: FormText = "",
    description: FormText = "",
    is_private: Annotated[bool, Form()] = False,
) -> Response:
    try:
        room = await rooms.create_room(
            db, user, name=name, description=description, is_private=is_private
        )
    except BadRequest as error:
        form = {"name": name, "description": description, "is_private": is_private}
        if is_htmx(request):
            return render(
                request,
                "partials/create_room_form.html",
                {"form": form, "error": error.message},
                status_code=400,
            )
        return await _index(request, db, realtime, user, form=form, error=error.message)
    await announce.room_created(realtime, room, user.id)
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": f"/rooms/{room.slug}"})
    return _see(f"/rooms/{room.slug}")


@router.get("/{slug}")
async def show(
    request: Request,
    db: DB,
    realtime: RealtimeDep,
    user: CurrentUser,
    slug: str,
    around: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> Response:
    access, pending = await rooms.open_room(db, user, slug)
    room = access.room
    latest = await _latest(db, realtime, user, room)
    window = latest.window
    # Newer messages load up to where the page's socket takes over: what came later, it sends.
    until = latest.cursor.last_id
    if around is not None:
        window = await messages.history(db, user, slug, around=around, until=until)
    # Where the reader had read to, for the page to mark what is new to them; now read.
    read_to = None
    if access.membership is not None:
        read_to = access.membership.last_read_id
        if read_to < until or access.mentioned:
            await alerts.read_quietly(db, realtime.hub, user.id, room.id, until)
    return render(
        request,
        "rooms/show.html",
        {
            "access": access,
            "room": room,
            "window": window,
            "until": until,
            "cursor": latest.cursor,
            "sidebar": await _sidebar(realtime, room),
            "client_msg_id": uuid.uuid4().hex,
            "pending": pending,
            "members": await rooms.members(db, room) if access.is_admin else [],
            "around": around,
            "read_to": read_to,
            "partner": (await rooms.partners(db, user.id, [room.id]))[room.id]
            if room.is_direct
            else None,
        },
    )


@router.get("/{slug}/messages")
async def history(
    request: Request,
    db: DB,
    user: CurrentUser,
    slug: str,
    before: OptionalQueryId = None,
    after: OptionalQueryId = None,
    until: OptionalQueryId = None,
) -> Response:
    """Older messages as the reader scrolls up, or, on a page opened at an old message, the
    newer ones between it and where the page's socket took over."""
    if (before is None) == (after is None):
        raise BadRequest("Ask for the messages before one message, or after one.")
    access = await rooms.get_room(db, user, slug)
    window = await messages.history(db, user, slug, before=before, after=after, until=until)
    context = {"room": access.room, "window": window, "after": after, "until": until}
    if before is not None and window.messages and window.adjoins is not None:
        zone = timeline.reader_zone(user, request.cookies)
        last_day = timeline.local_day(window.messages[-1].inserted_at, zone)
        if last_day == timeline.local_day(window.adjoins.at, zone):
            context["merged_day"] = last_day.isoformat()
    return render(request, "partials/history.html", context)


@router.post("/{slug}/join")
async def join(db: DB, realtime: RealtimeDep, user: CurrentUser, slug: str) -> Response:
    await rooms.join_room(db, user, slug)
    room = (await rooms.get_room(db, user, slug)).room
    await announce.members_changed(db, realtime, room)
    await announce.joined(realtime, room, user.id)
    return _see(f"/rooms/{slug}")


@router.post("/{slug}/leave")
async def leave(
    db: DB, realtime: RealtimeDep, settings: SettingsDep, user: CurrentUser, slug: str
) -> Response:
    room = await rooms.leave_room(db, user, slug)
    await announce.left(db, realtime, room, user.id, "You left this room.")
    return notices.see_other("/rooms", settings, Notice.LEFT, room=room.name)


@router.post("/{slug}/settings")
async def update(
    db: DB,
    realtime: RealtimeDep,
    settings: SettingsDep,
    user: CurrentUser,
    slug: str,
    name: FormText = "",
    description: FormText = "",
) -> Response:
    before = (await rooms.get_room(db, user, slug)).room
    room = await rooms.update_room(db, user, slug, name=name, description=description)
    await announce.members_changed(db, realtime, room)
    changed = broadcasts.room_changed(room, renamed=room.name != before.name)
    await realtime.hub.publish(room_topic(room.id), changed)
    return notices.see_other(f"/rooms/{room.slug}", settings, Notice.SAVED, room=room.name)


@router.post("/{slug}/delete")
async def delete(
    db: DB,
    realtime: RealtimeDep,
    settings: SettingsDep,
    user: CurrentUser,
    slug: str,
    confirm: FormText = "",
) -> Response:
    if confirm != "yes":
        raise BadRequest("Tick the box to confirm that the room and its messages should go.")
    doomed = (await rooms.get_room(db, user, slug)).room
    files = await attachments.room_files(db, doomed.id)
    members = await rooms.member_ids(db, doomed)
    room = await rooms.delete_room(db, user, slug)
    await attachments.remove_files(settings.uploads_dir, files)
    await realtime.hub.publish(
        room_topic(room.id),
        broadcasts.room_closed(room.id, f"{room.name} was deleted by an admin."),
    )
    gone = broadcasts.room_unlisted(room)
    topics = [user_topic(member) for member in members] if room.is_private else [LOBBY_TOPIC]
    for topic in topics:
        await realtime.hub.publish(topic, gone)
    return notices.see_other("/rooms", settings, Notice.DELETED, room=room.name)


@router.post("/{slug}/members/{member_id}/remove")
async def remove_member(
    db: DB,
    realtime: RealtimeDep,
    settings: SettingsDep,
    user: CurrentUser,
    slug: str,
    member_id: PathId,
) -> Response:
    removal = await rooms.remove_member(db, user, slug, member_id)
    room, member = removal.room, removal.member
    if room.is_private:  # gone from their room list too
        await realtime.hub.publish(user_topic(member.id), broadcasts.room_unlisted(room))
    await announce.left(db, realtime, room, member.id, f"An admin removed you from {room.name}.")
    return notices.see_other(
        f"/rooms/{room.slug}", settings, Notice.REMOVED, person=member.display_name, room=room.name
    )


@router.post("/{slug}/members")
async def invite(
    db: DB,
    realtime: RealtimeDep,
    settings: SettingsDep,
    user: CurrentUser,
    slug: str,
    email: FormText = "",
) -> Response:
    invitation = await rooms.add_member(db, user, slug, email)
    room, invitee = invitation.room, invitation.invitee
    if invitation.added:
        # The invitee's open room lists show the room at once, private or not.
        await realtime.hub.publish(user_topic(invitee.id), broadcasts.room_listed(room))
        await announce.members_changed(db, realtime, room)
        await announce.joined(realtime, room, invitee.id)
    notice = Notice.INVITED if invitation.added else Notice.ALREADY_A_MEMBER
    return notices.see_other(
        f"/rooms/{room.slug}", settings, notice, person=invitee.display_name, room=room.name
    )
