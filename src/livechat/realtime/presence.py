"""The Presence actor: who is connected to which room, and who is typing there.

State: per room, per user, one entry per connection (a user with two tabs is one person
with two connections), plus when each typing user last pressed a key. Requests track and
untrack connections and report keystrokes. Presence is derived from live connections and
never persisted.

What pages show of it costs the same for the 500th arrival as for the 5th. Requests only
mark a room as changed; each tick (four a second) compares what the room's pages were
last told, its sidebar and typing line, with the room as it is, and hands ``notify`` one
``PresenceChange`` of the difference: who now shows, who no longer does, whose name or
picture changed, the count, the typers. So a page receives a person's entry, never the
whole list, and a burst of arrivals is one change. The sidebar lists the first
``SIDEBAR_LIMIT`` arrivals and counts the rest; when one of those leaves, the next in line
shows in their place. The whole sidebar goes only to a page that connects (``online``
answers with what pages were last told, so that the changes that follow apply to it) and
to every page after a restart. Rendering and publishing a change is not Presence's
business.

Who is connected must survive a crash of the actor, or every sidebar would empty until
each page reconnected. So ``track``, ``untrack``, ``left`` and ``changed`` are plain
methods that write a ledger of connections at once, as an ETS table with an heir outlives
its owner in OTP, and then cast the change to the loop. A restarted Presence rebuilds its
rooms from the ledger and sends every room its list anew; only who was typing is forgotten.

Several processes share presence through their peers (``presence_peers.py``): Presence
tells ``tell_peers`` when its own connections put a person in a room or take them out,
and when someone types, stops, or changes their name or picture; what other processes
tell it comes back through ``from_peer``, each process's people in a room counted as one
connection of theirs. Every process then tells its own pages, with versions of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace

from livechat.realtime.actor import QUICK_MAX_WAIT_S, Actor, ActorBusy, ActorStopped, Sleep

TYPING_TIMEOUT_S = 2.0  # a pause this long means the person stopped typing
# How often changes go out, and so how late they may be: a quarter second is still "at
# once" to a person, and typing clears within it of its timeout.
TICK_SECONDS = 0.25
# A sidebar longer than this is scrolled past, not read; the header keeps the exact count.
SIDEBAR_LIMIT = 100
# What a room's changes may cost a second: each goes to every page of the room, so a room
# is sent a change at most every people/this seconds: at every tick up to 1,000 people,
# every 2.5 s at 10,000. Filling that room then costs the server the same for each
# arrival, where a change a tick would cost more with every page open.
PAGES_TOLD_PER_SECOND = 4_000


@dataclass(frozen=True, slots=True)
class Person:
    id: int
    display_name: str
    avatar_url: str | None = None


@dataclass(frozen=True, slots=True)
class Sidebar:
    """A room's "here now" as of change ``version``: its first arrivals, in order, how
    many are online, and who is typing."""

    shown: tuple[Person, ...] = ()
    count: int = 0
    typers: tuple[Person, ...] = ()
    version: int = 0

    @property
    def more(self) -> int:
        return self.count - len(self.shown)


@dataclass(frozen=True, slots=True)
class PresenceChange:
    """What a room's pages must change since the last change: the sidebar's differences,
    or after a restart the whole ``sidebar``; and the typers, if they changed. Versions
    rise with every change of every room, so a page given a sidebar of version v knows
    that the changes numbered up to v are in it already."""

    room_id: int
    version: int = 0
    joined: tuple[Person, ...] = ()  # now shown, after everyone shown before
    left: tuple[Person, ...] = ()  # no longer shown
    updated: tuple[Person, ...] = ()  # shown still, with a new name or picture
    count: int | None = None  # how many are online, if that changed
    typing: tuple[Person, ...] | None = None  # None: the typers did not change
    sidebar: Sidebar | None = None  # the whole sidebar, in place of the differences
    public: bool = False  # the lobby lists the room, so may hear its count

    @property
    def more(self) -> int:
        """How many are online beyond those shown, once the change is applied."""
        return max(0, (self.count or 0) - SIDEBAR_LIMIT)


@dataclass(frozen=True, slots=True)
class Track:
    """Sent by ``track``, which has written it in the ledger too."""

    room_id: int
    person: Person
    connection: str
    public: bool


@dataclass(frozen=True, slots=True)
class Untrack:
    """Sent by ``untrack``, which has written the ledger."""

    room_id: int
    user_id: int
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
class Here:
    """For peers: this process has the person in the room, since their first connection
    to it here opened."""

    room_id: int
    person: Person
    public: bool


@dataclass(frozen=True, slots=True)
class Gone:
    """For peers: this process's last connection of the person to the room closed."""

    room_id: int
    user_id: int


@dataclass(frozen=True, slots=True)
class Online:
    """Ask who is in a room, in the order they arrived."""

    room_id: int


@dataclass
class _Room:
    connections: dict[int, set[str]] = field(default_factory=dict)
    people: dict[int, Person] = field(default_factory=dict)  # in the order they arrived
    typing_until: dict[int, float] = field(default_factory=dict)
    told: Sidebar = field(default_factory=Sidebar)  # what the room's pages were last told
    public: bool = False
    changed: bool = False
    resend: bool = False  # the pages may have missed changes: send the whole sidebar
    quiet_until: float = 0.0  # when the next change may go out

    def typers(self) -> tuple[Person, ...]:
        return tuple(self.people[user_id] for user_id in self.typing_until)

    def difference(self, room_id: int, version: int) -> PresenceChange | None:
        """What the pages must change to show the room as it is, as change ``version``;
        None if nothing they show changed."""
        self.changed = False
        shown = dict(itertools.islice(self.people.items(), SIDEBAR_LIMIT))
        now = Sidebar(tuple(shown.values()), len(self.people), self.typers(), version)
        if self.resend:
            self.resend, self.told = False, now
            return PresenceChange(
                room_id,
                version,
                count=now.count,
                typing=now.typers,
                sidebar=now,
                public=self.public,
            )
        told = {person.id: person for person in self.told.shown}
        change = PresenceChange(
            room_id,
            version,
            joined=tuple(person for id_, person in shown.items() if id_ not in told),
            left=tuple(person for id_, person in told.items() if id_ not in shown),
            updated=tuple(
                person for id_, person in shown.items() if id_ in told and told[id_] != person
            ),
            count=now.count if now.count != self.told.count else None,
            typing=now.typers if now.typers != self.told.typers else None,
            public=self.public,
        )
        if change == PresenceChange(room_id, version, public=self.public):
            return None
        self.told = now
        return change


PresenceRequest = Track | Untrack | Typing | StoppedTyping | Changed | Online
Notify = Callable[[PresenceChange], Awaitable[None]]
PeerEvent = Here | Gone | Typing | StoppedTyping | Changed
TellPeers = Callable[[PeerEvent], None]


def _alone(_event: PeerEvent) -> None:
    """No other process to tell."""


def _peer_connection(node: str, room_id: int, user_id: int) -> str:
    """The ledger's key for a person another process has in a room."""
    return f"{node}/{room_id}/{user_id}"


class Presence(Actor[PresenceRequest]):
    name = "presence"

    def __init__(
        self,
        notify: Notify,
        *,
        tick_seconds: float | None = TICK_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        pages_told_per_second: int = PAGES_TOLD_PER_SECOND,
        tell_peers: TellPeers | None = None,
    ) -> None:
        super().__init__(tick_interval=tick_seconds, sleep=sleep, max_wait_s=QUICK_MAX_WAIT_S)
        self._notify = notify
        self._tell_peers = tell_peers or _alone
        self._clock = clock
        self._pages_told_per_second = pages_told_per_second
        self._ledger: dict[str, Track] = {}  # by connection
        # How many of this process's own connections each person has open in each room.
        self._here: dict[tuple[int, int], int] = {}
        self._from_peers: dict[str, set[str]] = {}  # the ledger's keys each peer filled
        self._rooms: dict[int, _Room] = {}
        self._lost_changes = False  # a change the ledger holds never reached the loop
        # Kept across restarts, so that versions only ever rise within the process.
        self._version = 0

    def track(self, room_id: int, person: Person, connection: str, *, public: bool) -> None:
        """``connection`` of ``person`` is open in the room; ``public`` says whether the
        lobby lists the room, and so may hear how many are in it. Rooms never change
        between public and private, but a deleted room's id may be given to a new one: it
        is said with every connection rather than looked up once and kept."""
        track = self._ledger[connection] = Track(room_id, person, connection, public)
        here = self._here.get((room_id, person.id), 0)
        self._here[room_id, person.id] = here + 1
        if not here:
            self._tell_peers(Here(room_id, person, public))
        self._tell(track)

    def untrack(self, connection: str) -> None:
        tracked = self._forget(connection)
        if tracked is None:
            return
        key = (tracked.room_id, tracked.person.id)
        here = self._here.pop(key) - 1
        if here:
            self._here[key] = here
        else:
            self._tell_peers(Gone(*key))

    def left(self, room_id: int, user_id: int) -> None:
        """The person is no longer a member of the room (they left, or were removed),
        though their pages' sockets may not have closed yet: they are taken out of the
        room now, so that no room list counts them meanwhile, the one they are sent to
        next included. Those sockets then untrack nothing. What other processes said of
        them in the room goes too; those processes confirm it as their sockets close."""
        for node, connections in self._from_peers.items():
            connection = _peer_connection(node, room_id, user_id)
            if connection in connections:
                connections.discard(connection)
                self._forget(connection)
        # What the ledger holds of them now is this process's own; a scan of it, as someone
        # leaving a room is rare next to the arrivals and departures of pages.
        for connection, tracked in list(self._ledger.items()):
            if tracked.room_id == room_id and tracked.person.id == user_id:
                self.untrack(connection)

    def typing(self, room_id: int, user_id: int) -> None:
        self._tell_peers(Typing(room_id, user_id))
        self.cast(Typing(room_id, user_id))

    def stopped_typing(self, room_id: int, user_id: int) -> None:
        self._tell_peers(StoppedTyping(room_id, user_id))
        self.cast(StoppedTyping(room_id, user_id))

    def changed(self, person: Person) -> None:
        """Someone's name or picture changed: show it wherever they are."""
        self._tell_peers(Changed(person))
        self._update_person(person)

    def from_peer(self, node: str, event: PeerEvent) -> None:
        """What process ``node`` told of its connections."""
        match event:
            case Here(room_id, person, public):
                connection = _peer_connection(node, room_id, person.id)
                self._from_peers.setdefault(node, set()).add(connection)
                self._ledger[connection] = track = Track(room_id, person, connection, public)
                self._tell(track)
            case Gone(room_id, user_id):
                connection = _peer_connection(node, room_id, user_id)
                self._from_peers.get(node, set()).discard(connection)
                self._forget(connection)
            case Changed(person):
                self._update_person(person)
            case Typing() | StoppedTyping():
                # News for two seconds: not worth a rebuild when the loop is too busy.
                with contextlib.suppress(ActorBusy, ActorStopped):
                    self.cast(event)

    def peer_left(self, node: str) -> None:
        """Process ``node`` stopped, or was not heard from for too long: its people go."""
        for connection in self._from_peers.pop(node, set()):
            self._forget(connection)

    def here(self) -> list[Here]:
        """Who this process's own connections put in which room, for its peers."""
        from_peers = set[str]().union(*self._from_peers.values())
        mine = {
            (track.room_id, track.person.id): Here(track.room_id, track.person, track.public)
            for connection, track in self._ledger.items()
            if connection not in from_peers
        }
        return list(mine.values())

    def _forget(self, connection: str) -> Track | None:
        tracked = self._ledger.pop(connection, None)
        if tracked is not None:
            self._tell(Untrack(tracked.room_id, tracked.person.id, connection))
        return tracked

    def _update_person(self, person: Person) -> None:
        for connection, tracked in self._ledger.items():
            if tracked.person.id == person.id:
                self._ledger[connection] = replace(tracked, person=person)
        self._tell(Changed(person))

    def _tell(self, request: PresenceRequest) -> None:
        # The ledger already holds the change. A loop shut down starts from the ledger
        # when it runs again; one too busy to take the change does so at its next tick.
        try:
            self.cast(request)
        except ActorBusy:
            self._lost_changes = True
        except ActorStopped:
            pass

    async def init(self) -> None:
        self._rebuild()

    def _rebuild(self) -> None:
        """Every room as the ledger has it. Pages may have missed changes: with the next
        tick each gets its room's sidebar anew, and an empty typing line."""
        self._lost_changes = False
        self._rooms = {}
        for track in self._ledger.values():
            self._enter(track)
        for room in self._rooms.values():
            room.changed = room.resend = True

    async def online(self, room_id: int) -> Sidebar:
        """The room's sidebar as its pages were last told, for a page that connects: the
        changes that follow apply to it."""
        sidebar: Sidebar = await self.call(Online(room_id))
        return sidebar

    def online_count(self, room_id: int) -> int:
        """A snapshot read, safe because it happens between two messages of the loop."""
        room = self._rooms.get(room_id)
        return len(room.people) if room else 0

    async def handle(self, request: PresenceRequest) -> Sidebar | None:
        match request:
            case Track(connection=connection) if connection in self._ledger:
                # Unless it closed before the loop got to its arrival.
                self._enter(request).changed = True
            case Untrack(room_id, user_id, connection):
                self._untrack(room_id, user_id, connection)
            case Typing(room_id, user_id):
                self._typing(room_id, user_id)
            case StoppedTyping(room_id, user_id):
                room = self._rooms.get(room_id)
                if room is not None and room.typing_until.pop(user_id, None) is not None:
                    room.changed = True
            case Changed(person):
                self._changed(person)
            case Online(room_id):
                room = self._rooms.get(room_id)
                return room.told if room else Sidebar(version=self._version)
        return None

    def _enter(self, track: Track) -> _Room:
        """Put a tracked connection in its room, and return the room."""
        room = self._room(track.room_id)
        room.public = track.public
        room.connections.setdefault(track.person.id, set()).add(track.connection)
        room.people[track.person.id] = track.person
        return room

    def _room(self, room_id: int) -> _Room:
        room = self._rooms.get(room_id)
        if room is None:
            # Empty, as of the latest change: no earlier change is news to it.
            room = self._rooms[room_id] = _Room(told=Sidebar(version=self._version))
        return room

    def _untrack(self, room_id: int, user_id: int, connection: str) -> None:
        room = self._rooms.get(room_id)
        connections = room.connections.get(user_id) if room is not None else None
        if room is None or connections is None or connection not in connections:
            return
        connections.discard(connection)
        if not connections:
            del room.connections[user_id]
            del room.people[user_id]
            room.typing_until.pop(user_id, None)
            room.changed = True

    def _changed(self, person: Person) -> None:
        for room in self._rooms.values():
            if person.id in room.people:
                room.people[person.id] = person  # keeps their place in the order
                room.changed = True

    def _typing(self, room_id: int, user_id: int) -> None:
        room = self._rooms.get(room_id)
        if room is None or user_id not in room.people:
            return
        room.changed = room.changed or user_id not in room.typing_until
        room.typing_until[user_id] = self._clock() + TYPING_TIMEOUT_S

    def _quiet_seconds(self, room: _Room) -> float:
        """How long a room is left to gather changes after one went out: none for a room
        whose changes fit in the budget at every tick."""
        seconds = len(room.people) / self._pages_told_per_second
        return seconds if seconds > TICK_SECONDS else 0.0

    async def tick(self) -> None:
        if self._lost_changes:
            self._rebuild()
        now = self._clock()
        for room_id, room in list(self._rooms.items()):
            expired = [user for user, until in room.typing_until.items() if until <= now]
            for user_id in expired:
                del room.typing_until[user_id]
            room.changed = room.changed or bool(expired)
            # An emptied room is told at once: it costs nothing, and the lobby's count
            # must not stay behind as the room is forgotten.
            if room.changed and (now >= room.quiet_until or not room.people):
                change = room.difference(room_id, self._version + 1)
                if change is not None:
                    self._version = change.version
                    room.quiet_until = now + self._quiet_seconds(room)
                    await self._notify(change)
            if not room.people:
                del self._rooms[room_id]  # its pages were told it emptied
