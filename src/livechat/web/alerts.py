"""What every page of a person shows of their notifications: the count in the top bar
and in the tab's title, and the rooms they have read."""

from __future__ import annotations

import logging

from livechat.chat import broadcasts, notifications
from livechat.db import Database
from livechat.realtime.hub import Hub, alerts_topic

log = logging.getLogger(__name__)


async def read_room(db: Database, hub: Hub, user_id: int, room_id: int, up_to: int) -> None:
    """Mark a room read by ``user_id`` up to message ``up_to``, and tell their pages."""
    if await notifications.read_room(db, user_id, room_id, up_to):
        alerts = await notifications.alerts_for(db, user_id)
        await hub.publish(alerts_topic(user_id), broadcasts.room_read(alerts, room_id, up_to))


async def read_quietly(db: Database, hub: Hub, user_id: int, room_id: int, up_to: int) -> None:
    """``read_room`` for a page that is only being kept up to date: if the store cannot
    take it now, the room is read next time it is opened, and the page carries on."""
    try:
        await read_room(db, hub, user_id, room_id, up_to)
    except Exception:
        log.warning("room %s: marking it read for user %s failed", room_id, user_id, exc_info=True)


async def snapshot(db: Database, user_id: int, title: str) -> str:
    """The count and title a page of ``user_id`` titled ``title`` shows as it (re)connects;
    nothing if the store cannot say now, when the next change will."""
    try:
        alerts = await notifications.alerts_for(db, user_id)
    except Exception:
        log.warning("counting the notifications of user %s failed", user_id, exc_info=True)
        return ""
    return shown(alerts, title)


def shown(alerts: notifications.Alerts, title: str) -> str:
    """The count of ``alerts`` in the top bar, and in the title of a page titled ``title``."""
    html = broadcasts.render("broadcasts/alerts.html", alerts=alerts)
    return html + broadcasts.title(title, alerts.total)
