"""Errors as the API tells them: JSON with a stable code for programs and a message for
people, whatever raised them: the service layer, validation at the boundary, or a route
that does not exist."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from livechat.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    LivechatError,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    Unavailable,
)

log = logging.getLogger(__name__)


class Unauthorized(LivechatError):
    """No token, or one that does not open the API (unknown, revoked, its owner gone)."""

    status_code = 401


_CODES: dict[type[LivechatError], str] = {
    Unauthorized: "unauthorized",
    BadRequest: "bad_request",
    Forbidden: "forbidden",
    NotFound: "not_found",
    PayloadTooLarge: "too_large",
    RateLimited: "rate_limited",
    Conflict: "conflict",
    Unavailable: "unavailable",
}
_HTTP_MESSAGES = {
    401: "Send a token as Authorization: Bearer <token>.",
    404: "There is nothing at this address.",
    405: "This address does not take that method.",
    413: "That request is too large.",
    415: "Send JSON, or a file as multipart/form-data.",
}
_HTTP_CODES = {
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    415: "unsupported_media_type",
}


def error(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message}}, status_code=status, headers=headers
    )


def _code(failure: LivechatError) -> str:
    for kind in type(failure).__mro__:
        if kind in _CODES:
            return _CODES[kind]
    return "bad_request"


async def _refused(_request: Request, failure: Exception) -> JSONResponse:
    assert isinstance(failure, LivechatError)
    headers = {}
    if isinstance(failure, RateLimited | Unavailable):
        headers["Retry-After"] = str(failure.retry_after_seconds)
    if isinstance(failure, Unauthorized):
        headers["WWW-Authenticate"] = 'Bearer realm="livechat"'
    return error(failure.status_code, _code(failure), failure.message, headers)


async def _invalid(_request: Request, failure: Exception) -> JSONResponse:
    assert isinstance(failure, RequestValidationError)
    problems = []
    for problem in failure.errors():
        # Where it is, without the part of the request it came in ("body", "query"…).
        where = ".".join(str(part) for part in problem["loc"][1:])
        problems.append(f"{where}: {problem['msg']}" if where else problem["msg"])
    return error(422, "invalid_request", "; ".join(problems) or "This request is not valid.")


async def _http(_request: Request, failure: Exception) -> JSONResponse:
    assert isinstance(failure, HTTPException)
    code = _HTTP_CODES.get(failure.status_code, "bad_request")
    message = _HTTP_MESSAGES.get(failure.status_code, "This request is not valid.")
    return error(failure.status_code, code, message, failure.headers)


async def _crashed(request: Request, failure: Exception) -> JSONResponse:
    log.error("api: %s %s failed", request.method, request.url.path, exc_info=failure)
    return error(500, "internal_error", "Something went wrong on our side; try again.")


def install(api: FastAPI) -> None:
    api.add_exception_handler(LivechatError, _refused)
    api.add_exception_handler(RequestValidationError, _invalid)
    api.add_exception_handler(HTTPException, _http)
    api.add_exception_handler(Exception, _crashed)
