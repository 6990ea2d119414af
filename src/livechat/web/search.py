"""The search page: results as you type, from every room the reader may see or one room."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from livechat.chat import rooms, search
from livechat.chat.search import PAGE_SIZE
from livechat.web.deps import DB, CurrentUser
from livechat.web.templating import is_htmx, render

router = APIRouter()

# Far more than anyone types; the search itself reads only the first 200 characters.
QueryText = Annotated[str, Query(max_length=50_000)]


@router.get("/search")
async def search_page(
    request: Request,
    db: DB,
    user: CurrentUser,
    q: QueryText = "",
    room: Annotated[str, Query(max_length=100)] = "",
    offset: Annotated[int, Query(ge=0, le=10_000)] = 0,
) -> Response:
    scope = (await rooms.get_room(db, user, room)).room if room else None
    results = await search.search_messages(
        db, user, q, scope.slug if scope else None, limit=PAGE_SIZE + 1, offset=offset
    )
    context = {
        "q": q,
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
