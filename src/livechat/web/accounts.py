"""The account pages: register, log in and log out."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from livechat.accounts.auth import SESSION_COOKIE, session_id
from livechat.accounts.throttle import Throttle, throttle_key
from livechat.errors import BadRequest
from livechat.realtime import broadcasts
from livechat.realtime.hub import Revocation, sessions_topic
from livechat.web.deps import AccountsDep, CurrentUser, MaybeUser, RealtimeDep
from livechat.web.sockets import SIGNED_OUT
from livechat.web.templating import render

router = APIRouter(prefix="/users")

FormText = Annotated[str, Form()]


def _signed_in_redirect() -> RedirectResponse:
    return RedirectResponse("/rooms", status_code=303)


@router.get("/register")
async def register_page(request: Request, user: MaybeUser) -> Response:
    if user is not None:
        return _signed_in_redirect()
    return render(request, "accounts/register.html", {"form": {}})


@router.post("/register")
async def register(
    request: Request,
    accounts: AccountsDep,
    email: FormText = "",
    password: FormText = "",
    display_name: FormText = "",
    handle: FormText = "",
) -> Response:
    try:
        return await accounts.register(
            email=email, password=password, display_name=display_name, handle=handle
        )
    except BadRequest as error:
        form = {"email": email, "display_name": display_name, "handle": handle}
        return render(
            request,
            "accounts/register.html",
            {"form": form, "error": error.message},
            status_code=400,
        )


@router.get("/log_in")
async def log_in_page(request: Request, user: MaybeUser) -> Response:
    if user is not None:
        return _signed_in_redirect()
    return render(request, "accounts/log_in.html", {"form": {}})


@router.post("/log_in")
async def log_in(
    request: Request, accounts: AccountsDep, email: FormText = "", password: FormText = ""
) -> Response:
    throttle: Throttle = request.app.state.login_throttle
    key = throttle_key(email, request.client.host if request.client else "")
    wait = await throttle.retry_after(key)
    if wait is not None:
        minutes = max(1, math.ceil(wait / 60))
        return render(
            request,
            "accounts/log_in.html",
            {
                "form": {"email": email},
                "error": "Too many failed attempts for this account."
                f" Try again in {minutes} minute{'s' if minutes > 1 else ''}.",
            },
            status_code=429,
            headers={"Retry-After": str(math.ceil(wait))},
        )
    user = await accounts.authenticate(email, password)
    if user is None:
        await throttle.record_failure(key)
        return render(
            request,
            "accounts/log_in.html",
            {"form": {"email": email}, "error": "That email and password do not match."},
            status_code=401,
        )
    await throttle.reset(key)
    return await accounts.log_in(user)


@router.post("/log_out")
async def log_out(
    request: Request, accounts: AccountsDep, realtime: RealtimeDep, user: CurrentUser
) -> Response:
    token = request.cookies[SESSION_COOKIE]
    response = await accounts.log_out(user, token)
    # Other tabs of this browser share the session: their pages stop too.
    await realtime.hub.publish(
        sessions_topic(user.id),
        broadcasts.signed_out(SIGNED_OUT, Revocation(only=session_id(token))),
    )
    return response
