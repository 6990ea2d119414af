"""A person's page: who someone is, and a direct conversation with them."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from livechat.chat import people, rooms
from livechat.realtime import announce, broadcasts
from livechat.realtime.hub import user_topic
from livechat.web.deps import DB, CurrentUser, PathId, RealtimeDep
from livechat.web.templating import render

router = APIRouter(prefix="/people")


@router.get("/{person_id}")
async def show(request: Request, db: DB, user: CurrentUser, person_id: PathId) -> Response:
    person = await people.find_person(db, user, person_id)
    return render(request, "person.html", {"person": person})


@router.post("/{person_id}/message")
async def message(db: DB, realtime: RealtimeDep, user: CurrentUser, person_id: PathId) -> Response:
    """Open the direct conversation with someone, started if it is new: then it appears in
    the open room lists of both, each naming the other."""
    direct = await rooms.direct_room(db, user, person_id)
    room, person = direct.room, direct.partner
    if direct.started:
        for reader, other in ((user, person), (person, user)):
            created = broadcasts.direct_listed(room, other)
            await realtime.hub.publish(user_topic(reader.id), created)
            await announce.joined(realtime, room, reader.id)
    return RedirectResponse(f"/rooms/{room.slug}", status_code=303)
