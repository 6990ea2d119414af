"""The Presence actor: who is connected to which room, and who is typing there.

State: per room, per user, one entry per connection (a user with two tabs is one person
with two connections), plus when each typing user last pressed a key. Requests track and
untrack connections and report keystrokes; a tick expires typing that went quiet. Every
change that a page would show (someone arrives or leaves, the set of typers changes) is
handed to ``notify`` as a ``PresenceChange``; rendering and publishing it is not
Presence's business. Presence is derived from live connections and never persisted.

Who is connected must survive a crash of the actor, or every sidebar would empty until
each page reconnected. So ``track``, ``untrack`` and ``changed`` are plain methods that
write a ledger of connections at once, as an ETS table with an heir outlives its owner in
OTP, and then cast the change to the loop. A restarted Presence rebuilds its rooms from the
ledger and sends every room its list anew; only who was typing is forgotten.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from livechat.realtime.actor import Actor, ActorBusy, ActorStopped, Sleep

TYPING_TIMEOUT_S = 2.0  # a pause this long means the person stopped typing
TICK_SECONDS = 0.25  # so typing clears within a quarter second of its timeout


@dataclass(frozen=True, slots=True)
class Person:
    id: int
    display_name: str
    avatar_url: str | None = None


@dataclass(frozen=True, slots=True)
class PresenceChange:
    room_id: int
    joined: tuple[Person, ...] = ()
    left: tuple[Person, ...] = ()
    updated: tuple[Person, ...] = ()  # present people whose name or picture changed
    typing: tuple[Person, ...] | None = None  # None: the typers did not change
    online: tuple[Person, ...] = ()  # who is in the room after the change, by arrival


@dataclass(frozen=True, slots=True)
class Track:
    """Sent by ``track``, which has written the ledger."""

    room_id: int
    person: Person
    connection: str


@dataclass(frozen=True, slots=True)
class Untrack:
    """Sent by ``untrack``, which has written the ledger."""

    room_id: int
    connection: str


@dataclass(frozen=True, slots=True)
class Typing:
    room_id: int
    user_id: int


@dataclass(frozen=True, slots=True)
class StoppedTyping:
    room_id: int
    user_id: int


@dataclass(frozen=True, slots=True)
class Changed:
    """Sent by ``changed``, which has written the ledger."""

    person: Person


@dataclass(frozen=True, slots=True)
class Online:
    """Ask who is in a room, in the order they arrived."""

    room_id: int


@dataclass
class _Room:
    connections: dict[int, set[str]] = field(default_factory=dict)
    people: dict[int, Person] = field(default_factory=dict)
    typing_until: dict[int, float] = field(default_factory=dict)

    def typers(self) -> tuple[Person, ...]:
        return tuple(self.people[user_id] for user_id in self.typing_until)


PresenceRequest = Track | Untrack | Typing | StoppedTyping | Changed | Online
Notify = Callable[[PresenceChange], Awaitable[None]]


class Presence(Actor[PresenceRequest]):
    name = "presence"

    def __init__(
        self,
        notify: Notify,
        *,
        tick_seconds: float | None = TICK_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        super().__init__(tick_interval=tick_seconds, sleep=sleep)
        self._notify = notify
        self._clock = clock
        self._ledger: dict[str, tuple[int, Person]] = {}  # connection: its room and person
        self._rooms: dict[int, _Room] = {}

    def track(self, room_id: int, person: Person, connection: str) -> None:
        self._ledger[connection] = (room_id, person)
        self._tell(Track(room_id, person, connection))

    def untrack(self, room_id: int, connection: str) -> None:
        self._ledger.pop(connection, None)
        self._tell(Untrack(room_id, connection))

    def changed(self, person: Person) -> None:
        """Someone's name or picture changed: show it wherever they are."""
        for connection, (room_id, tracked) in self._ledger.items():
            if tracked.id == person.id:
                self._ledger[connection] = (room_id, person)
        self._tell(Changed(person))

    def _tell(self, request: PresenceRequest) -> None:
        # The ledger already holds the change; a loop too busy for it, or shut down, only
        # delays the pages seeing it until the next restart's resend.
        with contextlib.suppress(ActorBusy, ActorStopped):
            self.cast(request)

    async def init(self) -> None:
        self._rooms = {}
        for connection, (room_id, person) in self._ledger.items():
            room = self._rooms.setdefault(room_id, _Room())
            room.connections.setdefault(person.id, set()).add(connection)
            room.people[person.id] = person
        # After a crash, pages may have missed changes: each gets its room's list anew
        # (everyone in it counts as updated), and an empty typing line.
        for room_id, room in self._rooms.items():
            online = tuple(room.people.values())
            await self._notify(PresenceChange(room_id, updated=online, typing=(), online=online))

    async def online(self, room_id: int) -> list[Person]:
        people: list[Person] = await self.call(Online(room_id))
        return people

    def online_count(self, room_id: int) -> int:
        """A snapshot read, safe because it happens between two messages of the loop."""
        room = self._rooms.get(room_id)
        return len(room.people) if room else 0

    async def handle(self, request: PresenceRequest) -> list[Person] | None:
        match request:
            case Track(room_id, person, connection):
                await self._track(room_id, person, connection)
            case Untrack(room_id, connection):
                await self._untrack(room_id, connection)
            case Typing(room_id, user_id):
                await self._typing(room_id, user_id)
            case StoppedTyping(room_id, user_id):
                await self._stop_typing(room_id, user_id)
            case Changed(person):
                await self._changed(person)
            case Online(room_id):
                room = self._rooms.get(room_id)
                return list(room.people.values()) if room else []
        return None

    async def _track(self, room_id: int, person: Person, connection: str) -> None:
        if connection not in self._ledger:
            return  # it closed before the loop got to its arrival
        room = self._rooms.setdefault(room_id, _Room())
        arriving = person.id not in room.connections
        room.connections.setdefault(person.id, set()).add(connection)
        room.people[person.id] = person
        if arriving:
            await self._notify(
                PresenceChange(room_id, joined=(person,), online=tuple(room.people.values()))
            )

    async def _untrack(self, room_id: int, connection: str) -> None:
        room = self._rooms.get(room_id)
        if room is None:
            return
        for user_id, connections in list(room.connections.items()):
            if connection not in connections:
                continue
            connections.discard(connection)
            if connections:
                return
            del room.connections[user_id]
            person = room.people.pop(user_id)
            was_typing = room.typing_until.pop(user_id, None) is not None
            if not room.connections:
                del self._rooms[room_id]
            await self._notify(  # the room's entry may be gone; its last state is reported
                PresenceChange(
                    room_id,
                    left=(person,),
                    typing=room.typers() if was_typing else None,
                    online=tuple(room.people.values()),
                )
            )
            return

    async def _changed(self, person: Person) -> None:
        for room_id, room in self._rooms.items():
            if person.id in room.people:
                room.people[person.id] = person
                online = tuple(room.people.values())
                await self._notify(PresenceChange(room_id, updated=(person,), online=online))

    async def _typing(self, room_id: int, user_id: int) -> None:
        room = self._rooms.get(room_id)
        if room is None or user_id not in room.people:
            return
        started = user_id not in room.typing_until
        room.typing_until[user_id] = self._clock() + TYPING_TIMEOUT_S
        if started:
            await self._notify(PresenceChange(room_id, typing=room.typers()))

    async def _stop_typing(self, room_id: int, user_id: int) -> None:
        room = self._rooms.get(room_id)
        if room is not None and room.typing_until.pop(user_id, None) is not None:
            await self._notify(PresenceChange(room_id, typing=room.typers()))

    async def tick(self) -> None:
        now = self._clock()
        for room_id, room in list(self._rooms.items()):
            expired = [user for user, until in room.typing_until.items() if until <= now]
            for user_id in expired:
                del room.typing_until[user_id]
            if expired:
                await self._notify(PresenceChange(room_id, typing=room.typers()))
