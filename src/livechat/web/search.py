"""The search page: results as you type, from one room, the reader's rooms, or every
room they may read; and links to one message, which open its room at it."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from livechat.chat import messages, rooms, search
from livechat.chat.search import PAGE_SIZE
from livechat.errors import Moved
from livechat.web.deps import DB, CurrentUser, PathId
from livechat.web.templating import is_htmx, render

router = APIRouter()

# Far more than anyone types; the search itself reads only the first 200 characters.
QueryText = Annotated[str, Query(max_length=50_000)]
# Where to look: one room, the rooms the reader belongs to, or those and every public room.
# A page names a room only when it offers it, so without one "room" means "mine".
Scope = Literal["room", "mine", "public"]


@router.get("/search")
async def search_page(
    request: Request,
    db: DB,
    user: CurrentUser,
    q: QueryText = "",
    room: Annotated[str, Query(max_length=100)] = "",
    scope: Scope | None = None,
    offset: Annotated[int, Query(ge=0, le=10_000)] = 0,
) -> Response:
    this_room = None
    if room:
        try:
            this_room = (await rooms.get_room(db, user, room)).room
        except Moved as moved:  # a search box on a page opened before a rename
            this_room = (await rooms.get_room(db, user, moved.slug)).room
    if scope is None or (scope == "room" and this_room is None):
        scope = "room" if this_room else "mine"
    results = await search.search_messages(
        db,
        user,
        q,
        this_room.slug if this_room and scope == "room" else None,
        public_rooms=scope == "public",
        limit=PAGE_SIZE + 1,
        offset=offset,
    )
    context = {
        "q": q,
        "room": this_room,
        "scope": scope,
        "results": results[:PAGE_SIZE],
        "more": len(results) > PAGE_SIZE,
        "next_offset": offset + PAGE_SIZE,
        "searched": search.to_fts_query(q) is not None,
    }
    if is_htmx(request):
        name = "partials/search_more.html" if offset else "partials/search_results.html"
        return render(request, name, context)
    return render(request, "search.html", context)


@router.get("/messages/{message_id}")
async def message_link(db: DB, user: CurrentUser, message_id: PathId) -> Response:
    """A message wherever its room now is, opened at it however far back it lies."""
    slug = await messages.room_of(db, user, message_id)
    return RedirectResponse(
        f"/rooms/{slug}?around={message_id}#message-{message_id}", status_code=303
    )
