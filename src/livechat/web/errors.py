"""The one place errors become responses.

A page request gets the error page; an htmx request gets the message swapped into the
page's ``#flash`` region (htmx is told to swap 4xx responses in ``static/app.js``).
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from starlette.exceptions import HTTPException

from livechat.errors import LivechatError, RateLimited, Unavailable
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
    fields = sorted({str(problem["loc"][-1]) for problem in error.errors()})
    return error_response(
        request, 400, f"Some of what was sent is missing or malformed: {', '.join(fields)}."
    )


async def _unexpected(request: Request, error: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=error)
    return error_response(request, 500, "Something went wrong on our side. Please try again.")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(LivechatError, _livechat_error)
    app.add_exception_handler(LoginRequired, _login_required)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(Exception, _unexpected)
