"""The bots page: site admins make bots, give them tokens, point their webhooks and
deactivate them.

To anyone but a site admin the page does not exist, signed in or not.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from livechat.accounts import admins, tokens
from livechat.accounts.models import DISPLAY_NAME_MAX_LENGTH, HANDLE_MAX_LENGTH, User
from livechat.db import Database
from livechat.errors import BadRequest, NotFound
from livechat.web.deps import DB, MaybeUser, PathId, SettingsDep
from livechat.web.notices import Notice, see_other
from livechat.web.templating import render

router = APIRouter(prefix="/bots")

FormText = Annotated[str, Form()]
# Never kept by the browser or anything between: the page may show a secret.
_NOT_STORED = {"Cache-Control": "no-store"}


async def site_admin(user: MaybeUser) -> User:
    if user is None or not user.is_superuser:
        raise NotFound("There is nothing at this address.")
    return user


SiteAdmin = Annotated[User, Depends(site_admin)]


async def _page(
    request: Request, db: Database, *, status_code: int = 200, **context: object
) -> Response:
    context.setdefault("form", {"name": "", "handle": "", "webhook_url": ""})
    context["bots"] = await admins.list_bots(db)
    context["name_max_length"] = DISPLAY_NAME_MAX_LENGTH
    context["handle_max_length"] = HANDLE_MAX_LENGTH
    return render(request, "bots.html", context, status_code=status_code, headers=_NOT_STORED)


@router.get("")
async def show(request: Request, db: DB, _admin: SiteAdmin) -> Response:
    return await _page(request, db)


@router.post("")
async def create(
    request: Request,
    db: DB,
    _admin: SiteAdmin,
    name: FormText = "",
    handle: FormText = "",
    webhook_url: FormText = "",
) -> Response:
    """Make a bot and show its token and webhook key, on this answer only."""
    try:
        bot, secret = await tokens.create_bot(
            db, name=name, handle=handle, webhook_url=webhook_url or None
        )
    except BadRequest as error:
        form = {"name": name, "handle": handle, "webhook_url": webhook_url}
        return await _page(request, db, status_code=400, form=form, error=error.message)
    return await _page(request, db, created=bot, new_secret=secret)


@router.post("/{bot_id}/tokens")
async def issue(request: Request, db: DB, admin: SiteAdmin, bot_id: PathId) -> Response:
    """Give a bot another token, to replace one that leaked or to run a second copy."""
    bot = await admins.find_bot(db, bot_id)
    try:
        _, secret = await tokens.issue_token(
            db, bot, name=f"Issued by @{admin.handle}", scope=tokens.Scope.WRITE
        )
    except BadRequest as error:
        return await _page(request, db, status_code=400, list_error=error.message)
    return await _page(request, db, issued_to=bot, new_secret=secret)


@router.post("/{bot_id}/webhook")
async def change_webhook(
    request: Request, db: DB, _admin: SiteAdmin, bot_id: PathId, webhook_url: FormText = ""
) -> Response:
    """Point a bot's webhook elsewhere, or nowhere, and show its new key, on this answer
    only."""
    try:
        bot = await admins.set_webhook(db, bot_id, webhook_url or None)
    except BadRequest as error:
        return await _page(request, db, status_code=400, list_error=error.message)
    return await _page(request, db, rekeyed=bot)


@router.post("/{bot_id}/deactivate")
async def deactivate(db: DB, settings: SettingsDep, _admin: SiteAdmin, bot_id: PathId) -> Response:
    bot = await admins.deactivate_bot(db, bot_id)
    return see_other("/bots", settings, Notice.BOT_DEACTIVATED, bot=bot.display_name)
