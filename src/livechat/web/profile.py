"""The profile page: display name, email and password."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from livechat.accounts.auth import SESSION_COOKIE
from livechat.accounts.models import User
from livechat.errors import BadRequest
from livechat.web.deps import AccountsDep, CurrentUser
from livechat.web.templating import render

router = APIRouter(prefix="/profile")

FormText = Annotated[str, Form()]

_NOTICES = {
    "profile": "Your profile is saved.",
    "password": "Your password is changed. Your other sessions were signed out.",
}


def _page(request: Request, user: User, *, status_code: int = 200, **context: object) -> Response:
    context.setdefault("form", {"display_name": user.display_name, "email": user.email})
    return render(request, "profile.html", context, status_code=status_code)


@router.get("")
async def show(
    request: Request, user: CurrentUser, saved: Annotated[str, Query()] = ""
) -> Response:
    return _page(request, user, notice=_NOTICES.get(saved))


@router.post("")
async def update(
    request: Request,
    accounts: AccountsDep,
    user: CurrentUser,
    display_name: FormText = "",
    email: FormText = "",
) -> Response:
    try:
        await accounts.update_profile(user, display_name=display_name, email=email)
    except BadRequest as error:
        form = {"display_name": display_name, "email": email}
        return _page(request, user, status_code=400, form=form, error=error.message)
    return RedirectResponse("/profile?saved=profile", status_code=303)


@router.post("/password")
async def change_password(
    request: Request,
    accounts: AccountsDep,
    user: CurrentUser,
    current_password: FormText = "",
    new_password: FormText = "",
) -> Response:
    try:
        await accounts.change_password(
            user,
            current=current_password,
            new=new_password,
            keep_session=request.cookies[SESSION_COOKIE],
        )
    except BadRequest as error:
        return _page(request, user, status_code=400, password_error=error.message)
    return RedirectResponse("/profile?saved=password", status_code=303)
