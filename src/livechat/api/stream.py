"""``GET /api/v1/events``: what happens in the caller's rooms as Server-Sent Events, with the
delivery guarantee the pages have.

Every message event carries, as its SSE id, where each room of the stream stands after
it (``3:17:120,5:42:300``: room 3 at event 17, its newest message 120, …). A client that
reconnects with that id as ``Last-Event-ID``, as ``EventSource`` does by itself, is sent
what it missed from the store, in order, then the live events: nothing lost, nothing
twice. A room that changed too much meanwhile for its changes to be replayed one by one
is answered with a ``resync`` event: fetch its history again. A room the caller joins
is followed from a ``room.joined`` event that names it and where it stands, sent as the
caller joins it or, if the stream was away, as it resumes; on a resume, a room no longer
followed gets the ``room.closed`` the stream missed. Presence and typing are news of the
moment and carry no id; a comment line every few seconds keeps proxies from closing a
quiet stream.

Each event is made JSON once in this process, for every stream that hears it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from livechat.accounts import tokens
from livechat.accounts.tokens import Grant
from livechat.api.auth import Caller
from livechat.api.schemas import MessageOut
from livechat.chat import messages, rooms
from livechat.chat.messages import Cursor
from livechat.chat.models import Message, Room
from livechat.db import Database
from livechat.errors import BadRequest, RateLimited
from livechat.inputs import MAX_ID
from livechat.realtime.events import (
    MessageChanged,
    MessageCreated,
    PresenceChanged,
    RoomChanged,
    RoomClosed,
    RoomJoined,
    RoomReached,
)
from livechat.realtime.hub import (
    Broadcast,
    Subscription,
    Topic,
    membership_topic,
    presence_topic,
    room_topic,
    user_topic,
)
from livechat.realtime.presence import Person
from livechat.realtime.tree import Realtime
from livechat.web.sockets import OpenSockets

log = logging.getLogger(__name__)

router = APIRouter(tags=["events"])

HEARTBEAT_S = 15.0
# Rooms one stream follows at most: its id names where each stands.
MAX_STREAM_ROOMS = 200
_POSITION = re.compile(r"(\d{1,19}):(\d{1,19}):(\d{1,19})")
_NO_LONGER_FOLLOWED = (
    "This stream no longer follows this room: you left it or were removed, or it was deleted."
)


def encode_position(cursors: dict[int, Cursor]) -> str:
    return ",".join(f"{room}:{at.seq}:{at.last_id}" for room, at in sorted(cursors.items()))


def decode_position(text: str) -> dict[int, Cursor]:
    """The rooms' cursors an event id names; BadRequest for anything else."""
    cursors = {}
    for part in text.split(","):
        found = _POSITION.fullmatch(part.strip())
        if found is None or not all(int(number) <= MAX_ID for number in found.groups()):
            raise BadRequest("Last-Event-ID is not an id this stream sent.")
        room, seq, last_id = (int(number) for number in found.groups())
        cursors[room] = Cursor(seq, last_id)
    return cursors


# Event JSON, made once in this process for every stream that hears the broadcast.
_KEPT = 64
_kept: OrderedDict[int, tuple[Broadcast, tuple[str, str] | None]] = OrderedDict()


def as_json(broadcast: Broadcast) -> tuple[str, str] | None:
    """The SSE event name and JSON data of ``broadcast``; None for what programs are not
    told (a page's own HTML, a room server restarting)."""
    kept = _kept.get(id(broadcast))
    if kept is not None and kept[0] is broadcast:
        return kept[1]
    made = _made(broadcast)
    shown = None if made is None else (made[0], _json(made[1]))
    _kept[id(broadcast)] = (broadcast, shown)
    if len(_kept) > _KEPT:
        _kept.popitem(last=False)
    return shown


def _made(broadcast: Broadcast) -> tuple[str, dict[str, Any]] | None:
    match broadcast.event:
        case MessageCreated(message):
            return _message("message.created", message)
        case MessageChanged(message):
            return _message("message.updated", message)
        case RoomChanged(room):
            return "room.changed", {"room": _room(room)}
        case RoomClosed(room_id, reason):
            return "room.closed", {"room_id": room_id, "reason": reason}
        case PresenceChanged(change):
            typing = None if change.typing is None else [_person(p) for p in change.typing]
            return "presence", {
                "room_id": change.room_id,
                "joined": [_person(person) for person in change.joined],
                "left": [person.id for person in change.left],
                "online": change.count,
                "typing": typing,
            }
        case _:
            return None


def _message(kind: str, message: Message) -> tuple[str, dict[str, Any]]:
    """A message event of ``kind``, or a deletion, whatever else the change was."""
    return "message.deleted" if message.is_deleted else kind, {
        "message": MessageOut.of(message).model_dump(mode="json")
    }


def _json(data: dict[str, Any]) -> str:
    return json.dumps(data, separators=(",", ":"))


def _room(room: Room) -> dict[str, Any]:
    return {"id": room.id, "slug": room.slug, "name": room.name, "description": room.description}


def _person(person: Person) -> dict[str, Any]:
    return {"id": person.id, "name": person.display_name, "avatar_url": person.avatar_url}


def _frame(kind: str, data: str, position: str | None = None) -> str:
    lines = [f"event: {kind}"]
    if position is not None:
        lines.append(f"id: {position}")
    lines.append(f"data: {data}")
    return "\n".join(lines) + "\n\n"


@router.get(
    "/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "The stream"}},
)
async def events(
    request: Request,
    grant: Caller,
    room_id: Annotated[list[int] | None, Query(description="only these rooms")] = None,
    last_event_id: Annotated[
        str | None, Header(max_length=8192, description="where a stream left off")
    ] = None,
) -> StreamingResponse:
    """What happens in the rooms you belong to that the token reaches (or in those of
    them named by ``room_id``), from now, or from where ``Last-Event-ID`` left off:
    ``message.created``, ``message.updated``, ``message.deleted``, ``room.changed``,
    ``room.closed`` and ``presence``; ``ready`` once caught up; ``resync`` for a room
    whose history must be fetched again; ``room.joined`` for a room you join, followed
    from then on (on a resume, for those joined while away, and ``room.closed`` for those
    left)."""
    db: Database = request.app.state.db
    realtime: Realtime = request.app.state.realtime
    known = decode_position(last_event_id) if last_event_id else {}
    wanted = set(room_id) if room_id else None
    member_of = await rooms.room_ids_of(db, grant.user.id)
    followed = [
        room for room in member_of if grant.reaches(room) and (wanted is None or room in wanted)
    ][:MAX_STREAM_ROOMS]
    sockets: OpenSockets = request.app.state.sockets
    if not sockets.open(grant.user.id):
        raise RateLimited("You have too many pages and streams open; close one first.", 5_000)
    stream = _Stream(db, realtime, grant, followed, known, wanted)
    return _Counted(stream.run(), lambda: sockets.close(grant.user.id))


class _Counted(StreamingResponse):
    """The stream, counted among its person's open sockets until it ends, however it
    ends: a client gone before the first event leaves the generator never started, and
    its own cleanup never run."""

    def __init__(self, content: AsyncIterator[str], on_end: Callable[[], None]) -> None:
        super().__init__(
            content,
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )
        self._on_end = on_end

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._on_end()


class _Stream:
    """One caller's stream: where each of its rooms stands for the caller, kept with every
    event it sends."""

    def __init__(
        self,
        db: Database,
        realtime: Realtime,
        grant: Grant,
        room_ids: list[int],
        known: dict[int, Cursor],
        wanted: set[int] | None,
    ) -> None:
        self._db = db
        self._realtime = realtime
        self._grant = grant
        self._room_ids = room_ids
        self._known = known
        self._wanted = wanted
        self._at: dict[int, Cursor] = {}

    async def run(self) -> AsyncIterator[str]:
        user_id = self._grant.user.id
        topics = [topic for room in self._room_ids for topic in self._topics(room)]
        ready = asyncio.Event()
        async with self._realtime.hub.subscribe(user_topic(user_id), *topics) as subscription:
            subscription.on_ready = ready.set
            subscription.on_overflow = ready.set
            # Subscribed first: what happens from now on follows what the store says.
            now = await messages.cursors(self._db, user_id, self._room_ids)
            for room, at in now.items():
                since = self._known.get(room)
                if since is None or since.seq >= at.seq:
                    self._at[room] = at
                    continue
                self._at[room] = since
                async for frame in self._replay(room):
                    yield frame
            if self._known:
                async for frame in self._joined_or_left_while_away():
                    yield frame
            yield _frame("ready", _json({"rooms": sorted(self._at)}), self._position())
            while True:
                try:
                    await asyncio.wait_for(ready.wait(), HEARTBEAT_S)
                except TimeoutError:
                    if not await tokens.is_live(self._db, self._grant.token_id):
                        return  # revoked, or its owner gone
                    yield ": heartbeat\n\n"
                    continue
                ready.clear()
                batch = subscription.take()
                if batch is None:
                    return  # too far behind: the client reconnects and catches up
                for item in batch:
                    if not isinstance(item, Broadcast):
                        continue
                    if isinstance(item.event, RoomJoined):
                        async for frame in self._joined(item.event.room, subscription):
                            yield frame
                    else:
                        async for frame in self._sent(item):
                            yield frame

    def _topics(self, room: int) -> tuple[Topic, ...]:
        user_id = self._grant.user.id
        return room_topic(room), presence_topic(room), membership_topic(room, user_id)

    def _position(self) -> str:
        return encode_position(self._at)

    async def _joined_or_left_while_away(self) -> AsyncIterator[str]:
        """On a resume, the rooms the stream followed at the id it resumes from and no
        longer does, then those the caller has joined since."""
        for room in sorted(self._known.keys() - self._at.keys()):
            yield _frame("room.closed", _json({"room_id": room, "reason": _NO_LONGER_FOLLOWED}))
        new = [room for room in self._at if room not in self._known]
        if not new:
            return
        for joined in await rooms.rooms_of(self._db, self._grant.user.id, new):
            yield _frame("room.joined", _json({"room": _room(joined)}), self._position())

    async def _joined(self, room: Room, subscription: Subscription) -> AsyncIterator[str]:
        """Follow ``room``, which the caller has just joined, if the stream would have
        followed it from the start."""
        if room.id in self._at or not self._grant.reaches(room.id):
            return
        if self._wanted is not None and room.id not in self._wanted:
            return
        if len(self._at) >= MAX_STREAM_ROOMS:
            return
        await subscription.follow(*self._topics(room.id))
        # Followed first, as at the start: what happens from now on follows where the
        # store says the room stands (nowhere, if the caller has left it meanwhile).
        now = await messages.cursors(self._db, self._grant.user.id, [room.id])
        if room.id not in now:
            return
        self._at[room.id] = now[room.id]
        yield _frame("room.joined", _json({"room": _room(room)}), self._position())

    async def _sent(self, broadcast: Broadcast) -> AsyncIterator[str]:
        room = _room_of(broadcast)
        if room is None or room not in self._at:
            return  # not followed, or no longer
        if isinstance(broadcast.event, RoomClosed):
            # Left, removed, or the room deleted: nothing more of it comes.
            del self._at[room]
        elif broadcast.seq is not None:
            at = self._at[room]
            if broadcast.seq <= at.seq:
                return  # sent already, from the store
            if broadcast.seq > at.seq + 1 or broadcast.sync:
                # A gap: something was missed, or a restarted room server says where the
                # room stands. The store has it all, in order.
                async for frame in self._replay(room):
                    yield frame
                return
            self._at[room] = Cursor(broadcast.seq, max(at.last_id, broadcast.message_id or 0))
        shown = as_json(broadcast)
        if shown is None:
            return
        kind, data = shown
        position = self._position() if broadcast.seq is not None else None
        yield _frame(kind, data, position)

    async def _replay(self, room: int) -> AsyncIterator[str]:
        """What the store says changed in ``room`` since the stream's cursor, in order."""
        at = self._at[room]
        changes = await messages.changes_since(self._db, self._grant.user.id, room, at.seq)
        if not changes.complete:
            self._at[room] = changes.cursor
            data = {"room_id": room, "reason": "More changed than can be replayed."}
            yield _frame("resync", _json(data), self._position())
            return
        for message in changes.messages:
            new = message.id > at.last_id
            kind, data = _message("message.created" if new else "message.updated", message)
            self._at[room] = Cursor(message.seq, max(self._at[room].last_id, message.id))
            yield _frame(kind, _json(data), self._position())
        self._at[room] = Cursor(changes.cursor.seq, max(self._at[room].last_id, at.last_id))


def _room_of(broadcast: Broadcast) -> int | None:
    match broadcast.event:
        case MessageCreated(message) | MessageChanged(message):
            return message.room_id
        case RoomClosed(room_id, _) | RoomReached(room_id, _):
            return room_id
        case RoomChanged(room, _):
            return room.id
        case PresenceChanged(change):
            return change.room_id
    return None
