"""The Mentions page: the messages that mentioned its reader or were sent to them, newest
first. Opening it reads them all, on every page of theirs."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from livechat.chat import notifications
from livechat.realtime import broadcasts
from livechat.realtime.hub import alerts_topic
from livechat.web.deps import DB, CurrentUser, RealtimeDep
from livechat.web.templating import render

router = APIRouter()


@router.get("/mentions")
async def mentions_page(
    request: Request, db: DB, realtime: RealtimeDep, user: CurrentUser
) -> Response:
    mentions = await notifications.recent(db, user)
    if await notifications.read_all(db, user.id):
        cleared = broadcasts.alerts_changed(notifications.Alerts())
        await realtime.hub.publish(alerts_topic(user.id), cleared)
    return render(request, "mentions.html", {"mentions": mentions})
