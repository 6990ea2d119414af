"""What every page of a person shows of their notifications: the count in the top bar
and in the tab's title, and the rooms they have read. A page with no socket of its own
(search, profile, mentions, someone's page) opens one here for them."""

from __future__ import annotations

import logging

from fastapi import WebSocket
from starlette.status import WS_1008_POLICY_VIOLATION

from livechat.chat import notifications
from livechat.db import Database
from livechat.inputs import is_text
from livechat.realtime import broadcasts
from livechat.realtime.hub import Broadcast, Hub, alerts_topic, sessions_topic
from livechat.realtime.tree import Realtime
from livechat.web import rendered
from livechat.web.sockets import Frames, SignedIn, serve_connection, until_closed

log = logging.getLogger(__name__)

# Longer than any title of ours; a page names its own, which ends up in its own tab only.
TITLE_MAX_LENGTH = 200


async def read_room(db: Database, hub: Hub, user_id: int, room_id: int, up_to: int) -> None:
    """Mark a room read by ``user_id`` up to message ``up_to``, and tell their pages."""
    if await notifications.read_room(db, user_id, room_id, up_to):
        alerts = await notifications.alerts_for(db, user_id)
        read = broadcasts.alerts_changed(alerts, room_id=room_id, read_up_to=up_to)
        await hub.publish(alerts_topic(user_id), read)


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
    html = rendered.render("broadcasts/alerts.html", alerts=alerts)
    return html + rendered.title(title, alerts.total)


class PageOutbox:
    """The outbox of a page's socket that hears its person's own topics: their sessions
    signed out, and their notifications, counted in the page's title, ``title``. Such
    broadcasts are rare: everything goes through the writer."""

    __slots__ = ("_frames", "_session", "_title", "_websocket")

    def __init__(self, websocket: WebSocket, visitor: SignedIn, title: str) -> None:
        self._websocket = websocket
        self._frames = Frames(websocket)
        self._session = visitor.session
        self._title = title

    async def send(self, batch: list[object]) -> bool:
        out: list[str | Broadcast] = []
        for item in batch:
            assert isinstance(item, Broadcast)  # a person's topics carry nothing else
            if item.revokes is None:
                out.extend(await self.shown(item))
            elif item.revokes.covers(self._session):
                out.append(item)
                await self._frames.send(out)
                await self._websocket.close(WS_1008_POLICY_VIOLATION)
                return True
        if out:
            await self._frames.send(out)
        return False

    async def shown(self, event: Broadcast) -> list[str | Broadcast]:
        """What the page shows of ``event``: a notification count goes in its title too."""
        if event.alerts is None:
            return [event]
        return [event, rendered.title(self._title, event.alerts)]

    def send_now(self, batch: list[object]) -> bool:
        return False


async def serve(websocket: WebSocket, visitor: SignedIn) -> None:
    """The socket of a page with no other, at ``/alerts/ws?title=…``."""
    realtime: Realtime = websocket.app.state.realtime
    db: Database = websocket.app.state.db
    title = websocket.query_params.get("title", "")[:TITLE_MAX_LENGTH]
    title = title if is_text(title) else ""
    user_id = visitor.user_id
    async with realtime.hub.subscribe(
        alerts_topic(user_id), sessions_topic(user_id)
    ) as subscription:
        # Subscribed first: a change from now on follows the count, which it corrects.
        if caught_up := await snapshot(db, user_id, title):
            subscription.deliver(Broadcast(html=caught_up))
        outbox = PageOutbox(websocket, visitor, title)
        await serve_connection(websocket, subscription, until_closed(websocket), outbox)
