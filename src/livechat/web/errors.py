"""The one place errors become responses.

A page request gets the error page; an htmx request gets the message swapped into the
page's ``#flash`` region (htmx is told to swap 4xx responses in ``static/app.js``).
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from livechat.errors import LivechatError, Moved, RateLimited, Unavailable
from livechat.web.deps import LoginRequired
from livechat.web.templating import is_htmx, render

log = logging.getLogger(__name__)

_HTTP_MESSAGES = {
    404: "There is nothing at this address.",
    405: "That is not something this page can do.",
}


def error_response(request: Request, status_code: int, message: str) -> Response:
    headers: dict[str, str] = {}
    if is_htmx(request):
        headers = {"HX-Retarget": "#flash", "HX-Reswap": "innerHTML"}
        return render(
            request,
            "partials/flash.html",
            {"message": message, "level": "error"},
            status_code=status_code,
            headers=headers,
        )
    return render(
        request,
        "error.html",
        {"message": message, "status_code": status_code},
        status_code=status_code,
    )


async def _livechat_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, LivechatError)
    response = error_response(request, error.status_code, error.message)
    if isinstance(error, RateLimited | Unavailable):
        response.headers["Retry-After"] = str(error.retry_after_seconds)
    return response


async def _moved(request: Request, error: Exception) -> Response:
    """A room asked for by a slug it had before a rename, by someone who may read it: the
    same request at its slug now, query and all. 308 keeps the method and the body, so a
    form on a page opened before the rename still does what it says. Not to be cached:
    the answer is this person's alone, and lasts only until the room is renamed back."""
    assert isinstance(error, Moved)
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or "slug" not in request.path_params:
        return await _livechat_error(request, error)
    location = str(route.url_path_for(route.name, **{**request.path_params, "slug": error.slug}))
    if request.url.query:
        location += f"?{request.url.query}"
    return RedirectResponse(location, status_code=308, headers={"Cache-Control": "no-store"})


async def _login_required(request: Request, _error: Exception) -> Response:
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": "/users/log_in"})
    return RedirectResponse("/users/log_in", status_code=303)


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    message = _HTTP_MESSAGES.get(error.status_code, str(error.detail))
    return error_response(request, error.status_code, message)


async def _invalid_request(request: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError)
    # A field's name, not the position of one of its values ("attachment", not 0).
    fields = sorted(
        {
            next(str(p) for p in reversed(problem["loc"]) if isinstance(p, str))
            for problem in error.errors()
        }
    )
    return error_response(
        request, 400, f"Some of what was sent is missing or malformed: {', '.join(fields)}."
    )


async def _unexpected(request: Request, error: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=error)
    return error_response(request, 500, "Something went wrong on our side. Please try again.")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(LivechatError, _livechat_error)
    app.add_exception_handler(Moved, _moved)
    app.add_exception_handler(LoginRequired, _login_required)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    # Starlette gives a handler for Exception to its outermost middleware, which answers
    # and then re-raises: the server logs the error a second time and, the response
    # having started, drops the keep-alive connection under the client. So errors from
    # the routes are answered innermost, and kept; this one is left for errors raised in
    # the middleware themselves.
    app.add_exception_handler(Exception, _unexpected)
    app.user_middleware.append(Middleware(_AnswerUnexpectedErrors))


class _AnswerUnexpectedErrors:
    """The error page for an exception no handler knew, logged once, inside every other
    middleware so that the page still gets the security headers."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = False

        async def sending(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self._app(scope, receive, sending)
        except Exception as error:
            if started:
                raise  # too late for a page: only the server can end this response
            await (await _unexpected(Request(scope, receive), error))(scope, receive, send)
