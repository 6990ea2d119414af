"""The room list's live socket: rooms appear, change and disappear without a reload, and
the notifications of its reader show as they come."""

from __future__ import annotations

import logging

from fastapi import WebSocket
from starlette.status import WS_1008_POLICY_VIOLATION

from livechat.chat import broadcasts, notifications
from livechat.db import Database
from livechat.realtime.hub import (
    LOBBY_TOPIC,
    Broadcast,
    alerts_topic,
    sessions_topic,
    user_topic,
)
from livechat.realtime.tree import Realtime
from livechat.web import alerts
from livechat.web.sockets import Frames, SignedIn, serve_connection

log = logging.getLogger(__name__)

TITLE = "Rooms"


async def serve(websocket: WebSocket, visitor: SignedIn) -> None:
    """The room list's socket, at ``/lobby/ws``."""
    realtime: Realtime = websocket.app.state.realtime
    db: Database = websocket.app.state.db
    user_id = visitor.user_id
    # Public rooms for everyone; private rooms only on their members' own topics.
    topics = (LOBBY_TOPIC, user_topic(user_id), sessions_topic(user_id), alerts_topic(user_id))
    async with realtime.hub.subscribe(*topics) as subscription:
        lobby = _Lobby(websocket, visitor, db)
        # Subscribed first: a change from now on follows the counts, which it corrects.
        if caught_up := await lobby.catch_up():
            subscription.deliver(Broadcast(caught_up))

        async def read() -> None:
            # The room list sends nothing worth reading; this only notices it leaving.
            while (await websocket.receive())["type"] != "websocket.disconnect":
                pass

        await serve_connection(websocket, subscription, read(), lobby)


class _Lobby:
    """A room list's outbox. Room lists are few and their broadcasts rare: everything
    goes through the writer."""

    __slots__ = ("_badged", "_db", "_frames", "_session", "_user_id", "_websocket")

    def __init__(self, websocket: WebSocket, visitor: SignedIn, db: Database) -> None:
        self._websocket = websocket
        self._frames = Frames(websocket)
        self._session = visitor.session
        self._user_id = visitor.user_id
        self._db = db
        self._badged: set[int] = set()  # the rooms whose mention badges show a count

    async def send(self, batch: list[object]) -> bool:
        out: list[str | Broadcast] = []
        for item in batch:
            assert isinstance(item, Broadcast)  # the lobby's topics carry nothing else
            if item.alerts is not None:
                out.extend(await self._alerted(item))
            elif item.revokes is None:
                out.append(item)
            elif item.revokes.covers(self._session):
                out.append(item)
                await self._frames.send(out)
                await self._websocket.close(WS_1008_POLICY_VIOLATION)
                return True
        if out:
            await self._frames.send(out)
        return False

    async def catch_up(self) -> str:
        """What the list shows of its reader's notifications as it (re)connects: their
        count, in the top bar and the title, and the rooms' badges; nothing if the store
        cannot say now, when the next change will."""
        try:
            counted = await notifications.alerts_for(self._db, self._user_id)
        except Exception:
            log.warning("counting the notifications of user %s failed", self._user_id)
            return ""
        return self._badges(counted) + alerts.shown(counted, TITLE)

    async def _alerted(self, event: Broadcast) -> list[str | Broadcast]:
        """The count and title every page shows, and the rooms' badges, counted anew:
        notifications are few, and their events rarer still."""
        assert event.alerts is not None
        shown: list[str | Broadcast] = [event, broadcasts.title(TITLE, event.alerts)]
        try:
            counted = await notifications.alerts_for(self._db, self._user_id)
        except Exception:
            log.warning("counting the notifications of user %s failed", self._user_id)
            return shown
        return [*shown, self._badges(counted)]

    def _badges(self, counted: notifications.Alerts) -> str:
        """The mention badge of every room that has one, or had one until now."""
        room_ids = self._badged | counted.by_room.keys()
        self._badged = set(counted.by_room)
        return broadcasts.room_alerts({room: counted.by_room.get(room, 0) for room in room_ids})

    def send_now(self, batch: list[object]) -> bool:
        return False
