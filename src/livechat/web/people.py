"""A person's page: who someone is, and where to talk to them."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from livechat.chat import people
from livechat.web.deps import DB, CurrentUser, PathId
from livechat.web.templating import render

router = APIRouter(prefix="/people")


@router.get("/{person_id}")
async def show(request: Request, db: DB, user: CurrentUser, person_id: PathId) -> Response:
    person = await people.find_person(db, user, person_id)
    return render(request, "person.html", {"person": person})
