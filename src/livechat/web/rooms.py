"""The room list, the room page and the forms that change rooms and memberships."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from livechat.chat import messages, rooms
from livechat.errors import BadRequest
from livechat.web.deps import DB, CurrentUser
from livechat.web.templating import render

router = APIRouter(prefix="/rooms")

FormText = Annotated[str, Form()]


def _see(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


@router.get("")
async def index(request: Request, db: DB, user: CurrentUser) -> Response:
    listings = await rooms.list_rooms(db, user)
    return render(request, "rooms/index.html", {"listings": listings, "form": {}})


@router.post("")
async def create(
    request: Request,
    db: DB,
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
        listings = await rooms.list_rooms(db, user)
        form = {"name": name, "description": description, "is_private": is_private}
        return render(
            request,
            "rooms/index.html",
            {"listings": listings, "form": form, "error": error.message},
            status_code=400,
        )
    return _see(f"/rooms/{room.slug}")


@router.get("/{slug}")
async def show(
    request: Request,
    db: DB,
    user: CurrentUser,
    slug: str,
    around: Annotated[int | None, Query()] = None,
) -> Response:
    access = await rooms.get_room(db, user, slug)
    page = await messages.list_messages(db, user, slug, around=around)
    return render(
        request,
        "rooms/show.html",
        {"access": access, "room": access.room, "messages": page, "around": around},
    )


@router.get("/{slug}/messages")
async def history(
    request: Request, db: DB, user: CurrentUser, slug: str, before: Annotated[int, Query()]
) -> Response:
    access = await rooms.get_room(db, user, slug)
    page = await messages.list_messages(db, user, slug, before=before)
    return render(request, "partials/history.html", {"room": access.room, "messages": page})


@router.post("/{slug}/join")
async def join(db: DB, user: CurrentUser, slug: str) -> Response:
    await rooms.join_room(db, user, slug)
    return _see(f"/rooms/{slug}")


@router.post("/{slug}/leave")
async def leave(db: DB, user: CurrentUser, slug: str) -> Response:
    await rooms.leave_room(db, user, slug)
    return _see("/rooms")


@router.post("/{slug}/settings")
async def update(
    db: DB, user: CurrentUser, slug: str, name: FormText = "", description: FormText = ""
) -> Response:
    room = await rooms.update_room(db, user, slug, name=name, description=description)
    return _see(f"/rooms/{room.slug}")


@router.post("/{slug}/delete")
async def delete(db: DB, user: CurrentUser, slug: str, confirm: FormText = "") -> Response:
    if confirm != "yes":
        raise BadRequest("Tick the box to confirm that the room and its messages should go.")
    await rooms.delete_room(db, user, slug)
    return _see("/rooms")


@router.post("/{slug}/members")
async def invite(db: DB, user: CurrentUser, slug: str, email: FormText = "") -> Response:
    await rooms.add_member(db, user, slug, email)
    return _see(f"/rooms/{slug}")
