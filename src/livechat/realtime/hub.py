"""Pub/sub of events by topic, the counterpart of Phoenix PubSub.

An event is published once; each process's dispatcher hands the same object to every
subscriber of its topic there, into that subscriber's bounded buffer. Each connection
drains its own buffer in its own writer task, so a slow client delays no one. A
subscriber whose buffer overflows is marked so its connection closes with 1013 (try
again later); the page reconnects by itself and catches up from the database. What it was
never sent is reported to ``on_drop``, for the metrics.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from livechat.realtime import events
from livechat.realtime.backends.base import BackendUnreachable, HubBackend
from livechat.realtime.events import Event
from livechat.realtime.reconnect import until_connected
from livechat.settings import SUBSCRIBER_QUEUE_SIZE

log = logging.getLogger(__name__)

Topic = str


def room_topic(room_id: int) -> Topic:
    return f"room:{room_id}"


def activity_topic(room_id: int) -> Topic:
    """Who posted in a room, and which message, with no HTML: for the room lists of its
    members to count unread messages, at the cost of one event per message however many
    members the room has."""
    return f"room:{room_id}:activity"


def presence_topic(room_id: int) -> Topic:
    return f"room:{room_id}:presence"


def membership_topic(room_id: int, user_id: int) -> Topic:
    """Events for one person's connections to one room: being removed from it."""
    return f"room:{room_id}:member:{user_id}"


LOBBY_TOPIC: Topic = "rooms:lobby"


def user_topic(user_id: int) -> Topic:
    """Events for the room lists and streams of one person: rooms they were let into,
    joined or lost."""
    return f"user:{user_id}"


def alerts_topic(user_id: int) -> Topic:
    """Events for every page of one person: their notifications, as they come and as they
    read them, and the rooms they read."""
    return f"user:{user_id}:alerts"


# Every message that notified anyone, once: for bots' webhooks, which each process hears.
NOTIFIED_TOPIC: Topic = "notified"


def sessions_topic(user_id: int) -> Topic:
    """Events for every page of one person, of any kind: sessions signed out. Apart from
    ``user_topic`` so that room pages, which must hear these, get no room-list fragments."""
    return f"user:{user_id}:sessions"


@dataclass(frozen=True, slots=True)
class Revocation:
    """Which of a person's sessions an event signs out, by session id: only one (a log-out),
    all but one (a password change, from the session that made it), or all of them."""

    only: str | None = None
    keep: str | None = None

    def covers(self, session: str) -> bool:
        return session != self.keep if self.only is None else session == self.only


@dataclass(frozen=True, slots=True)
class Broadcast:
    """An event in the envelope its listeners route it by: the hub carries the ``event``
    between processes (as JSON, ``events.encode``), and each process renders it for its
    own pages into ``html``, once (``web/rendered.py``). A page's own catch-up, which
    never travels, comes with ``html`` and no event.

    The envelope: ``seq``, the room event it brings the page up to (None for presence and
    typing); ``close``, a WebSocket close code for an event after which the page must stop
    listening (its room was deleted, or it was removed); and ``revokes``, the sessions it
    closes, for a page of any other session to ignore.

    A room event also says which new message it appends (``message_id``), so a socket
    knows the newest message its page holds. A ``sync`` carries no event of its own: its
    ``seq`` is where the room stands, and a page behind it catches up from the store. A
    presence change carries its ``presence`` version, so that a page whose sidebar is
    newer skips it.

    A message's activity names its ``room_id`` and ``author_id``, for room lists to count
    it unread. A person's notification count (``alerts``) is for each page to put in its
    title; with ``room_id`` and ``message_id`` it came of that message, and with
    ``read_up_to``, of reading that room up to that message."""

    event: Event | None = None
    html: str = ""
    seq: int | None = None
    close: int | None = None
    revokes: Revocation | None = None
    message_id: int | None = None
    sync: bool = False
    presence: int | None = None
    room_id: int | None = None
    author_id: int | None = None
    alerts: int | None = None
    read_up_to: int | None = None

    def encode(self) -> bytes:
        assert self.event is not None, "only events travel: a page's own HTML stays with it"
        revokes = None if self.revokes is None else [self.revokes.only, self.revokes.keep]
        fields = [
            events.encode(self.event), self.seq, self.close, revokes, self.message_id, self.sync,
            self.presence, self.room_id, self.author_id, self.alerts, self.read_up_to,
        ]  # fmt: skip
        return json.dumps(fields).encode()

    @classmethod
    def decode(cls, payload: bytes) -> Broadcast:
        event, seq, close, revokes, *rest = json.loads(payload)
        revocation = None if revokes is None else Revocation(*revokes)
        return cls(events.decode(event), "", seq, close, revocation, *rest)


class Subscription:
    """One connection's outbox: a bounded buffer of the broadcasts for its topics, into
    which the connection may also put its own replies so that everything leaves in order.
    Its writer takes everything buffered at once: under load, one wake-up of the writer
    sends many events, instead of one task switch per event per socket.

    The subscription is live from entering it (``async with hub.subscribe(...)``) until
    leaving it."""

    # Each open socket has one, for as long as it is open.
    __slots__ = (
        "_buffer",
        "_hub",
        "_on_drop",
        "_size",
        "on_overflow",
        "on_ready",
        "overflowed",
        "topics",
    )

    def __init__(
        self,
        hub: Hub,
        topics: tuple[Topic, ...],
        queue_size: int,
        on_drop: Callable[[int], None] = lambda _count: None,
    ) -> None:
        self._hub = hub
        self.topics = topics
        self._size = queue_size
        # Taken whole, so a list does: a deque allocates a block up front.
        self._buffer: list[object] = []
        self._on_drop = on_drop
        self.overflowed = False
        # Called when something arrives with nothing else buffered: the writer's cue.
        self.on_ready: Callable[[], object] = lambda: None
        # Called once, when the buffer overflows. The writer may be stuck sending to the
        # slow client, so the connection hears of it here rather than from the writer.
        self.on_overflow: Callable[[], object] = lambda: None

    async def __aenter__(self) -> Subscription:
        try:
            await self._hub._join(self, self.topics)
        except BaseException:
            # Cut short while the backend subscribed (a page that left meanwhile).
            await self._hub._leave(self)
            raise
        return self

    async def __aexit__(self, *_exception: object) -> None:
        await self._hub._leave(self)

    async def follow(self, *topics: Topic) -> None:
        """Add ``topics`` to this live subscription, for a connection that comes to need
        more as it goes (a room its person joined): their events are delivered from when
        this returns, as a new subscription's are from entering it."""
        added = tuple(topic for topic in dict.fromkeys(topics) if topic not in self.topics)
        # Counted as this subscription's at once, so that leaving it, even while this
        # waits, leaves them too.
        self.topics += added
        try:
            await self._hub._join(self, added)
        except BackendUnreachable as error:
            # The connection lives on: the hub subscribes to every topic followed anew
            # once it is connected again, and its listeners catch up as after any outage.
            log.warning("hub: following %s waits for the other processes (%s)", added, error)

    def deliver(self, item: object) -> None:
        if self.overflowed:
            self._on_drop(1)
            return
        if len(self._buffer) >= self._size:
            self.overflowed = True
            # What is buffered is stale now anyway.
            self._on_drop(1 + len(self._buffer))
            self._buffer.clear()
            self.on_overflow()
            return
        self._buffer.append(item)
        if len(self._buffer) == 1:
            self.on_ready()

    def take(self) -> list[object] | None:
        """Everything buffered, oldest first, if anything is; None once this subscriber has
        fallen too far behind."""
        if self.overflowed:
            return None
        items, self._buffer = self._buffer, []
        return items


class Hub:
    def __init__(
        self,
        backend: HubBackend,
        *,
        queue_size: int = SUBSCRIBER_QUEUE_SIZE,
        on_drop: Callable[[int], None] = lambda _count: None,
        on_connected: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._backend = backend
        self._on_connected = on_connected
        self._queue_size = queue_size
        self._on_drop = on_drop
        self._subscribers: defaultdict[Topic, set[Subscription]] = defaultdict(set)
        # Set while the dispatcher runs on a connected backend: a subscription waits for
        # it, so that it talks to the backend only between connect and disconnect.
        self._connected = asyncio.Event()

    async def run(self) -> None:
        """The dispatcher: takes each published event once and fans it out locally. Once
        connected and subscribed, it calls ``on_connected``: events published while this
        process was not connected never reach it, so its pages may have to catch up. A
        lost connection is an outage, not a bug: the dispatcher says so and connects
        again, without a crash."""
        while True:
            await until_connected(self._backend.connect, "hub")
            try:
                await self._dispatch()
            except BackendUnreachable as error:
                log.warning("hub: lost the other processes (%s); connecting again", error)
            finally:
                self._connected.clear()
                await self._backend.disconnect()

    async def _dispatch(self) -> None:
        self._connected.set()
        for topic in list(self._subscribers):
            await self._backend.subscribe(topic)
        if self._on_connected is not None:
            await self._on_connected()
        while True:
            topic, payload = await self._backend.next_published()
            if topic in self._subscribers:
                self.deliver(topic, Broadcast.decode(payload))

    async def publish(self, topic: Topic, broadcast: Broadcast) -> None:
        try:
            await self._backend.publish(topic, broadcast.encode())
        except BackendUnreachable as error:
            log.warning("hub: %s reached only this process (%s)", topic, error)
            self.deliver(topic, broadcast)

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def deliver(self, topic: Topic, broadcast: Broadcast) -> None:
        """Hand ``broadcast`` to this process's subscribers of ``topic`` alone: for what
        each process works out for its own pages, as presence is."""
        for subscription in list(self._subscribers.get(topic, ())):
            subscription.deliver(broadcast)

    def subscribe(self, *topics: Topic) -> Subscription:
        """A subscription to ``topics``, to enter with ``async with``."""
        return Subscription(self, topics, self._queue_size, self._on_drop)

    async def _join(self, subscription: Subscription, topics: tuple[Topic, ...]) -> None:
        # Every joiner waits on the backend, not only a topic's first: the first one's
        # subscription may still be under way, and delivery is live only once it is done.
        for topic in topics:
            self._subscribers[topic].add(subscription)
        # Joined above, a subscription made while the dispatcher (re)starts is subscribed
        # by it; one made while it runs is subscribed here.
        await self._connected.wait()
        for topic in topics:
            await self._backend.subscribe(topic)

    async def _leave(self, subscription: Subscription) -> None:
        for topic in subscription.topics:
            subscribers = self._subscribers[topic]
            subscribers.discard(subscription)
            if not subscribers:
                del self._subscribers[topic]
                await self._backend.unsubscribe(topic)

    def subscriber_count(self, topic: Topic) -> int:
        return len(self._subscribers.get(topic, ()))
