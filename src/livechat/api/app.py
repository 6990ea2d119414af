"""The JSON API, ``/api/v1``: the same chat for programs, with its OpenAPI schema at
``/api/v1/openapi.json`` and its documentation at ``/api/v1/docs``."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from starlette.datastructures import State

from livechat.api import errors, files, messages, rooms, stream
from livechat.api.schemas import ErrorOut

DESCRIPTION = """\
livechat for programs: the rooms you may see, their messages, search and files, with the
rules of the pages (private rooms invisible to outsiders, the same rate limits).

Authenticate with `Authorization: Bearer <token>`: a personal access token made on your
profile page, or a bot's token. Cookies are not accepted here. A token that may only
read is refused what writes (403); one kept to some rooms sees no other.

Every error is JSON: `{"error": {"code": "not_found", "message": "…"}}`, the code stable
for programs, the message for people. 429 and 503 say in `Retry-After` when to try again.
"""

_ERRORS = {
    status: {"model": ErrorOut, "description": description}
    for status, description in {
        400: "Refused: the message says why",
        401: "No token, or one that is not valid",
        403: "Not allowed: a read-only token, or not your message",
        404: "Not there, or not for you to see",
        409: "Someone else's change got there first; ask again",
        413: "The request is too large",
        422: "The request is not valid",
        429: "Too fast: see Retry-After",
        503: "Busy or restarting: see Retry-After",
    }.items()
}


# The documentation page is FastAPI's, which loads Swagger UI from its CDN and starts it
# with an inline script: allowed on this page alone, which shows no user content.
DOCS_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self' https://cdn.jsdelivr.net 'unsafe-inline'",
        "style-src 'self' https://cdn.jsdelivr.net",
        "img-src 'self' data: https://cdn.jsdelivr.net",
        "connect-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
    )
)


async def _docs(request: Request) -> HTMLResponse:
    page = get_swagger_ui_html(
        openapi_url=request.scope.get("root_path", "") + "/openapi.json",
        title="livechat API",
        swagger_favicon_url="/static/favicon.svg",
    )
    page.headers["content-security-policy"] = DOCS_POLICY
    return page


def create_api(state: State) -> FastAPI:
    """The API, sharing the application's ``state``: its database, its live tree."""
    api = FastAPI(
        title="livechat API",
        version="1",
        description=DESCRIPTION,
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
        responses=_ERRORS,  # type: ignore[arg-type]
    )
    api.state = state
    api.add_api_route("/docs", _docs, include_in_schema=False)
    errors.install(api)
    for router in (rooms.router, messages.router, files.router, stream.router):
        api.include_router(router)
    return api
