"""The room list's live socket: rooms appear, change and disappear without a reload, and
the notifications of its reader show as they come."""

from __future__ import annotations

import logging

from fastapi import WebSocket
from starlette.status import WS_1013_TRY_AGAIN_LATER

from livechat.chat import notifications, rooms
from livechat.chat.models import Room
from livechat.db import Database
from livechat.errors import Unavailable
from livechat.realtime.events import RoomJoined
from livechat.realtime.hub import (
    LOBBY_TOPIC,
    Broadcast,
    Subscription,
    activity_topic,
    alerts_topic,
    sessions_topic,
    user_topic,
)
from livechat.realtime.tree import Realtime
from livechat.web import alerts, rendered
from livechat.web import rooms as rooms_page
from livechat.web.alerts import PageOutbox
from livechat.web.sockets import SignedIn, serve_connection, until_closed

log = logging.getLogger(__name__)

TITLE = "Rooms"


async def serve(websocket: WebSocket, visitor: SignedIn) -> None:
    """The room list's socket, at ``/lobby/ws``."""
    realtime: Realtime = websocket.app.state.realtime
    db: Database = websocket.app.state.db
    user_id = visitor.user_id
    # Public rooms for everyone; private rooms only on their members' own topics. And what
    # is posted in the rooms of the reader's, to count it unread.
    topics = (LOBBY_TOPIC, user_topic(user_id), sessions_topic(user_id), alerts_topic(user_id))
    try:
        counted = [activity_topic(room_id) for room_id in await rooms.room_ids_of(db, user_id)]
    except Unavailable as busy:
        await websocket.close(WS_1013_TRY_AGAIN_LATER, busy.message)
        return
    async with realtime.hub.subscribe(*topics, *counted) as subscription:
        lobby = _Lobby(websocket, visitor, db, realtime, subscription)
        # Subscribed first: a change from now on follows the counts, which it corrects.
        if caught_up := await lobby.catch_up():
            subscription.deliver(Broadcast(html=caught_up))
        await serve_connection(websocket, subscription, until_closed(websocket), lobby)


class _Lobby(PageOutbox):
    """A room list's outbox. It counts the unread messages of its reader's rooms, as
    they are posted, from the counts it read as it connected, or as its reader joined."""

    __slots__ = ("_badged", "_db", "_realtime", "_subscription", "_unread", "_user_id")

    def __init__(
        self,
        websocket: WebSocket,
        visitor: SignedIn,
        db: Database,
        realtime: Realtime,
        subscription: Subscription,
    ) -> None:
        super().__init__(websocket, visitor, TITLE)
        self._user_id = visitor.user_id
        self._db = db
        self._realtime = realtime
        self._subscription = subscription
        self._badged: set[int] = set()  # the rooms whose mention badges show a count
        self._unread: dict[int, notifications.Unread] = {}

    async def shown(self, event: Broadcast) -> list[str | Broadcast]:
        if event.author_id is not None:
            return self._posted(event)
        if event.alerts is not None:
            return await self._alerted(event)
        if isinstance(event.event, RoomJoined):
            return await self._joined(event.event.room)
        return [event]

    async def catch_up(self) -> str:
        """What the page shows as its socket (re)connects: both lists as they are now, with
        the rooms created, changed or deleted while it was away, and its reader's count of
        notifications, in the top bar and the title; nothing if the store cannot say now,
        when the next change will."""
        try:
            # Counted before the lists are read: a message posted in between is in the
            # lists and is counted again when its activity arrives, at the same number.
            self._unread = await notifications.unread_of(self._db, self._user_id)
            lists = await rooms_page.room_lists(self._db, self._realtime, self._user_id)
        except Exception:
            log.warning("reading the room lists of user %s failed", self._user_id, exc_info=True)
            return ""
        counted: notifications.Alerts = lists["alerts"]
        self._badged = set(counted.by_room)
        return rendered.render("broadcasts/room_lists.html", **lists) + alerts.shown(counted, TITLE)

    def _posted(self, event: Broadcast) -> list[str | Broadcast]:
        """A room's unread badge, one message more, for a message by someone else that the
        counts read on connecting did not count."""
        assert event.room_id is not None, "activity names its room"
        assert event.message_id is not None, "activity names its message"
        known = self._unread.get(event.room_id)
        if event.author_id == self._user_id or known is None:
            return []
        if event.message_id <= known.counted_to:
            return []
        count = min(known.count + 1, notifications.UNREAD_COUNTED)
        self._unread[event.room_id] = notifications.Unread(count, event.message_id)
        return [rendered.room_unread({event.room_id: count})]

    async def _joined(self, room: Room) -> list[str | Broadcast]:
        """Count what is posted in a room its reader has just joined, in this tab or
        another: a direct conversation someone started with them, say."""
        await self._subscription.follow(activity_topic(room.id))
        try:
            # Counted once following it, as on connecting: a message posted in between
            # is counted here, and its activity, when it comes, is known.
            self._unread = await notifications.unread_of(self._db, self._user_id)
        except Exception:
            log.warning("counting the unread of user %s failed", self._user_id, exc_info=True)
            return []
        unread = self._unread.get(room.id)
        return [] if unread is None else [rendered.room_unread({room.id: unread.count})]

    async def _alerted(self, event: Broadcast) -> list[str | Broadcast]:
        """The count and title every page shows, and the rooms' badges, counted anew, as
        the unread messages of a room read elsewhere are: notifications are few, reading
        a room is rarer than posting in it, and their events rarer still."""
        shown = await super().shown(event)
        try:
            counted = await notifications.alerts_for(self._db, self._user_id)
            if event.read_up_to is not None and event.room_id is not None:
                # Read on another page, up to where that page had got: counted anew, as
                # what came after it stays unread.
                self._unread = await notifications.unread_of(self._db, self._user_id)
                unread = self._unread.get(event.room_id)
                count = 0 if unread is None else unread.count
                shown.append(rendered.room_unread({event.room_id: count}))
        except Exception:
            log.warning(
                "counting the notifications of user %s failed", self._user_id, exc_info=True
            )
            return shown
        return [*shown, self._badges(counted)]

    def _badges(self, counted: notifications.Alerts) -> str:
        """The mention badge of every room that has one, or had one until now."""
        room_ids = self._badged | counted.by_room.keys()
        self._badged = set(counted.by_room)
        return rendered.room_alerts({room: counted.by_room.get(room, 0) for room in room_ids})
