"""The profile page: display name, handle, picture, email, password, API tokens, and
closing the account."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import RedirectResponse, Response

from livechat.accounts import tokens
from livechat.accounts.auth import SESSION_COOKIE, session_id
from livechat.accounts.models import TOKEN_NAME_MAX_LENGTH, User
from livechat.chat import grants, rooms
from livechat.db import Database
from livechat.errors import BadRequest
from livechat.inputs import parse_id
from livechat.realtime import broadcasts
from livechat.realtime.hub import Revocation, room_topic, sessions_topic
from livechat.realtime.presence import Person
from livechat.realtime.tree import Realtime
from livechat.time_zones import available_zones, zone_named
from livechat.web.deps import DB, AccountsDep, CurrentUser, PathId, RealtimeDep, SettingsDep
from livechat.web.templating import render
from livechat.web.timeline import ZONE_COOKIE
from livechat.web.uploads import ensure_file

router = APIRouter(prefix="/profile")

FormText = Annotated[str, Form()]
FormList = Annotated[list[str] | None, Form()]

_NOTICES = {
    "profile": "Your profile is saved.",
    "avatar": "Your new picture is in place.",
    "password": "Your password is changed. Your other sessions were signed out.",
}
# Said in the Tokens section, which the page opens at, further down than the others.
_TOKEN_NOTICES = {"revoked": "The token is revoked: nothing can use it any more."}
# Never kept by the browser or anything between: the page may show a token's secret.
_NOT_STORED = {"Cache-Control": "no-store"}


async def _page(
    request: Request, db: Database, user: User, *, status_code: int = 200, **context: object
) -> Response:
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
    context.setdefault("token_form", {"name": "", "scope": tokens.Scope.READ, "room_ids": set()})
    context["token_name_max_length"] = TOKEN_NAME_MAX_LENGTH
    context["tokens"] = await tokens.tokens_of(db, user.id)
    context["member_rooms"], context["room_names"] = await _rooms_of(db, user)
    return render(request, "profile.html", context, status_code=status_code, headers=_NOT_STORED)


async def _rooms_of(db: Database, user: User) -> tuple[list[tuple[int, str]], dict[int, str]]:
    """The rooms a token may be limited to, those the person is a member of, by id and
    name; and the name of every room they may read, for the rooms their tokens name. A
    direct conversation is named for the other person in it, as the room list names it."""
    listings = await rooms.list_rooms(db, user.id)
    direct = [listing.room.id for listing in listings if listing.room.is_direct]
    partners = await rooms.partners(db, user.id, direct)
    names = {
        listing.room.id: (
            f"Direct: {partners[listing.room.id].display_name}"
            if listing.room.id in partners
            else listing.room.name
        )
        for listing in listings
    }
    member_rooms = [
        (listing.room.id, names[listing.room.id]) for listing in listings if listing.is_member
    ]
    return member_rooms, names


@router.get("")
async def show(
    request: Request, db: DB, user: CurrentUser, saved: Annotated[str, Query()] = ""
) -> Response:
    return await _page(
        request, db, user, notice=_NOTICES.get(saved), api_notice=_TOKEN_NOTICES.get(saved)
    )


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
        return await _page(request, db, user, status_code=400, form=form, error=error.message)
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
        return await _page(request, db, user, status_code=400, avatar_error=error.message)
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
    db: DB,
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
        return await _page(request, db, user, status_code=400, password_error=error.message)
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
    db: DB,
    accounts: AccountsDep,
    realtime: RealtimeDep,
    user: CurrentUser,
    current_password: FormText = "",
) -> Response:
    try:
        await accounts.deactivate(user, password=current_password)
    except BadRequest as error:
        return await _page(request, db, user, status_code=400, deactivate_error=error.message)
    await _sign_out(realtime, user, Revocation(), "This account has been deactivated.")
    return await accounts.transport.get_logout_response()


async def _sign_out(realtime: Realtime, user: User, revocation: Revocation, reason: str) -> None:
    """Close the open pages of the sessions ``revocation`` names, wherever they are."""
    await realtime.hub.publish(sessions_topic(user.id), broadcasts.signed_out(reason, revocation))


@router.post("/tokens")
async def create_token(
    request: Request,
    db: DB,
    user: CurrentUser,
    name: FormText = "",
    scope: FormText = "",
    room_ids: FormList = None,
) -> Response:
    """Make a token and show its secret, on this answer and never again: a redirect would
    have to carry it in its address, kept in the browser's history."""
    chosen = _ids(room_ids or [])
    try:
        token, secret = await grants.issue_token(
            db, user, name=name, scope=tokens.scope_named(scope), room_ids=chosen or None
        )
    except BadRequest as error:
        form = {"name": name, "scope": scope, "room_ids": set(chosen)}
        return await _page(
            request, db, user, status_code=400, token_form=form, api_error=error.message
        )
    return await _page(request, db, user, new_token=token, new_secret=secret)


def _ids(values: Sequence[str]) -> list[int]:
    # What is not an id at all names no room either: refused in the same words.
    return [parse_id(value) or 0 for value in values]


@router.post("/tokens/{token_id}/revoke")
async def revoke_token(request: Request, db: DB, user: CurrentUser, token_id: PathId) -> Response:
    if not await tokens.revoke_token(db, user.id, token_id):
        return await _page(
            request,
            db,
            user,
            status_code=404,
            api_error="That token does not exist, or was revoked already.",
        )
    return RedirectResponse("/profile?saved=revoked#tokens", status_code=303)
