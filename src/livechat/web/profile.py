"""The profile page: display name, handle, picture, email, password, and closing the
account."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import RedirectResponse, Response

from livechat.accounts.auth import SESSION_COOKIE, session_id
from livechat.accounts.models import User
from livechat.chat import rooms
from livechat.db import Database
from livechat.errors import BadRequest
from livechat.realtime import broadcasts
from livechat.realtime.hub import Revocation, room_topic, sessions_topic
from livechat.realtime.presence import Person
from livechat.realtime.tree import Realtime
from livechat.time_zones import available_zones, zone_named
from livechat.web.deps import DB, AccountsDep, CurrentUser, RealtimeDep, SettingsDep
from livechat.web.templating import render
from livechat.web.timeline import ZONE_COOKIE
from livechat.web.uploads import ensure_file

router = APIRouter(prefix="/profile")

FormText = Annotated[str, Form()]

_NOTICES = {
    "profile": "Your profile is saved.",
    "avatar": "Your new picture is in place.",
    "password": "Your password is changed. Your other sessions were signed out.",
}


def _page(request: Request, user: User, *, status_code: int = 200, **context: object) -> Response:
    form = {
        "display_name": user.display_name,
        "handle": user.handle,
        "email": user.email,
        "time_zone": user.time_zone,
    }
    context.setdefault("form", form)
    browser_zone = request.cookies.get(ZONE_COOKIE, "")
    context["browser_zone"] = browser_zone if zone_named(browser_zone) else None
    context["time_zones"] = available_zones()
    return render(request, "profile.html", context, status_code=status_code)


@router.get("")
async def show(
    request: Request, user: CurrentUser, saved: Annotated[str, Query()] = ""
) -> Response:
    return _page(request, user, notice=_NOTICES.get(saved))


@router.post("")
async def update(
    request: Request,
    db: DB,
    accounts: AccountsDep,
    realtime: RealtimeDep,
    user: CurrentUser,
    display_name: FormText = "",
    handle: FormText = "",
    email: FormText = "",
    time_zone: FormText = "",
) -> Response:
    try:
        updated = await accounts.update_profile(
            user, display_name=display_name, handle=handle, email=email, time_zone=time_zone
        )
    except BadRequest as error:
        form = {
            "display_name": display_name,
            "handle": handle,
            "email": email,
            "time_zone": time_zone,
        }
        return _page(request, user, status_code=400, form=form, error=error.message)
    await _show_everywhere(db, realtime, updated)
    return RedirectResponse("/profile?saved=profile", status_code=303)


@router.post("/avatar")
async def change_avatar(
    request: Request,
    db: DB,
    accounts: AccountsDep,
    settings: SettingsDep,
    realtime: RealtimeDep,
    user: CurrentUser,
    avatar: Annotated[UploadFile | None, File()] = None,
) -> Response:
    try:
        picture = ensure_file(avatar)
        updated = await accounts.change_avatar(user, await picture.read(), settings.uploads_dir)
    except BadRequest as error:
        return _page(request, user, status_code=400, avatar_error=error.message)
    await _show_everywhere(db, realtime, updated)
    return Response(status_code=204, headers={"HX-Redirect": "/profile?saved=avatar"})


async def _show_everywhere(db: Database, realtime: Realtime, user: User) -> None:
    """Open pages of the person's rooms show the new name and picture at once, on their
    messages as in the presence lists, and pages opened from now on show them too."""
    realtime.presence.changed(Person(user.id, user.display_name, user.avatar_url))
    realtime.rooms.forget_pages()
    changed = broadcasts.person_changed(user)
    for room_id in await rooms.room_ids_of(db, user.id):
        await realtime.hub.publish(room_topic(room_id), changed)


@router.post("/password")
async def change_password(
    request: Request,
    accounts: AccountsDep,
    realtime: RealtimeDep,
    user: CurrentUser,
    current_password: FormText = "",
    new_password: FormText = "",
) -> Response:
    token = request.cookies[SESSION_COOKIE]
    try:
        await accounts.change_password(
            user, current=current_password, new=new_password, keep_session=token
        )
    except BadRequest as error:
        return _page(request, user, status_code=400, password_error=error.message)
    await _sign_out(
        realtime,
        user,
        Revocation(keep=session_id(token)),
        "Your password was changed in another browser. Log in again with the new one.",
    )
    return RedirectResponse("/profile?saved=password", status_code=303)


@router.post("/deactivate")
async def deactivate(
    request: Request,
    accounts: AccountsDep,
    realtime: RealtimeDep,
    user: CurrentUser,
    current_password: FormText = "",
) -> Response:
    try:
        await accounts.deactivate(user, password=current_password)
    except BadRequest as error:
        return _page(request, user, status_code=400, deactivate_error=error.message)
    await _sign_out(realtime, user, Revocation(), "This account has been deactivated.")
    return await accounts.transport.get_logout_response()


async def _sign_out(realtime: Realtime, user: User, revocation: Revocation, reason: str) -> None:
    """Close the open pages of the sessions ``revocation`` names, wherever they are."""
    await realtime.hub.publish(sessions_topic(user.id), broadcasts.signed_out(reason, revocation))
