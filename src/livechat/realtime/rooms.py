"""RoomServers: one actor per active room, started on demand, found by room id.

A RoomServer sequences everything that changes its room's messages: it asks the
RateLimiter, persists through the Chat service, renders the event once and publishes it
after the commit, so the order of a room's events is its inbox order. It keeps the newest
page of messages cached for the room page, and stops after ``idle_seconds`` without a
connection; the next visitor starts a fresh one. Each new message it stores is reported
to ``on_posted``, for the metrics.

The RoomSupervisor is a dynamic supervisor plus a registry: ``server_for`` returns the
running server of a room or starts one as a transient child, restarted only if it crashes.
It also counts each room's open pages, which outlive any one server.

A room whose server keeps crashing is given up on alone: its pages are told to reconnect
(and so catch up from the store, whatever the crash lost), and the room rests before it
gets a new server, twice as long each time it gives up again soon after. Meanwhile its
pages stay open and readable, and sends are refused with the time to wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from livechat.accounts.models import User
from livechat.chat import attachments, messages, notifications
from livechat.chat import rooms as rooms_service
from livechat.chat.messages import Changed, Page, Posted
from livechat.chat.models import Message
from livechat.db import Database
from livechat.errors import LivechatError, Unavailable
from livechat.realtime import broadcasts
from livechat.realtime.actor import Actor, ActorBusy, ActorStopped, Sleep
from livechat.realtime.hub import NOTIFIED_TOPIC, Hub, activity_topic, alerts_topic, room_topic
from livechat.realtime.rate_limiter import Limiter
from livechat.realtime.supervisor import Child, Restart, Supervisor, TooManyRestarts

log = logging.getLogger(__name__)

IDLE_SECONDS = 60.0  # long enough to survive a page reload, short enough to free memory
IDLE_CHECK_SECONDS = 1.0
# A room that gave up rests this long before a new server, doubling up to the maximum;
# a room that ran for FORGIVE_SECONDS since it last gave up starts from the first rest again.
FIRST_REST_SECONDS = 1.0
MAX_REST_SECONDS = 30.0
FORGIVE_SECONDS = 300.0
# A request that would wait longer than this behind the room's backlog is refused at once
# with a time to try again: a person told "busy" within a blink keeps their text and
# retries, while those served keep a short wait instead of everyone waiting seconds.
MAX_WAIT_SECONDS = 0.08


@dataclass(frozen=True, slots=True)
class Post:
    user: User
    body: str
    client_msg_id: str | None
    attachment_ids: tuple[int, ...] = ()
    reply_to: int | None = None


@dataclass(frozen=True, slots=True)
class Delete:
    user: User
    message_id: int


@dataclass(frozen=True, slots=True)
class Edit:
    user: User
    message_id: int
    body: str


@dataclass(frozen=True, slots=True)
class React:
    user: User
    message_id: int
    emoji: str


@dataclass(frozen=True, slots=True)
class Recent:
    """Ask for the newest page of messages and the cursor it is current to."""

    user: User


@dataclass(frozen=True, slots=True)
class Forget:
    """Drop the cached page: someone's name or picture in it changed."""


RoomRequest = Post | Edit | React | Delete | Recent | Forget


class RoomServer(Actor[RoomRequest]):
    # Refusals (rate limit, validation, permissions) answer the caller; they are no crash.
    expected_errors = (LivechatError,)

    def __init__(
        self,
        room_id: int,
        *,
        db: Database,
        hub: Hub,
        rate_limiter: Limiter,
        uploads_dir: Path,
        idle_seconds: float = IDLE_SECONDS,
        idle_check_seconds: float | None = IDLE_CHECK_SECONDS,
        connections: Callable[[], int] = lambda: 0,
        on_idle: Callable[[RoomServer], None] = lambda _server: None,
        on_posted: Callable[[], None] = lambda: None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        max_wait_s: float | None = MAX_WAIT_SECONDS,
    ) -> None:
        super().__init__(
            tick_interval=idle_check_seconds, sleep=sleep, max_wait_s=max_wait_s, clock=clock
        )
        self.name = f"room-{room_id}"
        self.room_id = room_id
        self._db = db
        self._hub = hub
        self._rate_limiter = rate_limiter
        self._uploads_dir = uploads_dir
        self._idle_seconds = idle_seconds
        self._on_idle = on_idle
        self._on_posted = on_posted
        self._clock = clock
        self._cache: Page | None = None
        # Who is notified of every message: the people of a direct conversation, read once.
        self._recipients: list[int] | None = None
        self._connections = connections
        self._idle_since = clock()
        self._runs = 0

    async def post(
        self,
        user: User,
        body: str,
        client_msg_id: str | None,
        attachment_ids: tuple[int, ...] = (),
        reply_to: int | None = None,
    ) -> Posted:
        request = Post(user, body, client_msg_id, attachment_ids, reply_to)
        posted: Posted = await self.call(request)
        return posted

    async def edit(self, user: User, message_id: int, body: str) -> Changed:
        edited: Changed = await self.call(Edit(user, message_id, body))
        return edited

    async def react(self, user: User, message_id: int, emoji: str) -> Message:
        reacted: Message = await self.call(React(user, message_id, emoji))
        return reacted

    async def delete(self, user: User, message_id: int) -> Changed:
        deleted: Changed = await self.call(Delete(user, message_id))
        return deleted

    async def recent(self, user: User) -> Page:
        page: Page = await self.call(Recent(user))
        return page

    async def init(self) -> None:
        self._cache = None
        self._recipients = None
        self._runs += 1
        if self._runs > 1:
            # Restarted after a crash, which may have come between storing an event and
            # publishing it: pages behind where the room stands catch up from the store.
            seq = await rooms_service.last_seq(self._db, self.room_id)
            if seq is not None:
                await self._hub.publish(
                    room_topic(self.room_id), broadcasts.room_reached(self.room_id, seq)
                )

    async def handle(self, request: RoomRequest) -> Posted | Changed | Message | Page | None:
        match request:
            case Post(user, body, client_msg_id, attachment_ids, reply_to):
                return await self._post(user, body, client_msg_id, attachment_ids, reply_to)
            case Edit(user, message_id, body):
                return await self._edit(user, message_id, body)
            case React(user, message_id, emoji):
                return await self._react(user, message_id, emoji)
            case Delete(user, message_id):
                return await self._delete(user, message_id)
            case Recent(user):
                return await self._recent(user)
            case Forget():
                self._cache = None
                return None

    async def _post(
        self,
        user: User,
        body: str,
        client_msg_id: str | None,
        attachment_ids: tuple[int, ...],
        reply_to: int | None,
    ) -> Posted:
        await self._rate_limiter.spend(user.id, "sending messages")
        if self._recipients is None:
            self._recipients = await rooms_service.direct_recipients(self._db, self.room_id)
        posted = await messages.create_message(
            self._db,
            user,
            self.room_id,
            body,
            client_msg_id,
            attachment_ids,
            reply_to,
            self._recipients,
        )
        if posted.created:
            self._on_posted()
            await self._hub.publish(
                room_topic(self.room_id), broadcasts.message_created(posted.message)
            )
            activity = broadcasts.message_posted(posted.message)
            await self._hub.publish(activity_topic(self.room_id), activity)
            self._remember(posted.message)
            await self._alert(posted.alerted, posted.message)
        return posted

    async def _edit(self, user: User, message_id: int, body: str) -> Changed:
        await self._rate_limiter.spend(user.id, "editing messages")
        edited = await messages.edit_message(self._db, user, message_id, body, room_id=self.room_id)
        await self._changed(edited.message)
        await self._alert(edited.alerted, edited.message)
        return edited

    async def _react(self, user: User, message_id: int, emoji: str) -> Message:
        await self._rate_limiter.spend(user.id, "reacting")
        reacted = await messages.toggle_reaction(
            self._db, user, message_id, emoji, room_id=self.room_id
        )
        return await self._changed(reacted)

    async def _delete(self, user: User, message_id: int) -> Changed:
        await self._rate_limiter.spend(user.id, "deleting messages")
        deleted = await messages.delete_message(self._db, user, message_id, room_id=self.room_id)
        await self._changed(deleted.message)
        await self._alert(deleted.alerted, deleted.message)
        await attachments.remove_files(
            self._uploads_dir, [file.stored_name for file in deleted.message.attachments]
        )
        return deleted

    async def _changed(self, message: Message) -> Message:
        """Tell the room's pages of a change to one of its messages, stored as its next
        event, and keep the cached page in step."""
        await self._hub.publish(room_topic(self.room_id), broadcasts.message_changed(message))
        self._remember(message)
        return message

    async def _alert(self, people: frozenset[int], message: Message) -> None:
        """Tell every open page of ``people`` how many notifications they have unread now
        that ``message`` changed them, a few people at most, in one query; and tell bots'
        webhooks, wherever they are sent from, once."""
        if not people:
            return
        await self._hub.publish(NOTIFIED_TOPIC, broadcasts.notified(message, people))
        try:
            counted = await notifications.alerts_of(self._db, people)
        except Exception:
            # The change is stored and shown: the badges are put right as each page of
            # theirs next connects, which is no reason to tell the sender it failed.
            log.warning("room %s: counting notifications failed", self.room_id, exc_info=True)
            return
        for person, alerts in counted.items():
            changed = broadcasts.alerts_changed(
                alerts, room_id=message.room_id, message_id=message.id
            )
            await self._hub.publish(alerts_topic(person), changed)

    async def _recent(self, user: User) -> Page:
        if self._cache is None:
            self._cache = await messages.latest_page(self._db, user.id, self.room_id)
        return self._cache

    def _remember(self, message: Message) -> None:
        """Keep the cached newest page in step with a change this server just made; drop
        it if the room had changed meanwhile, through another process's server."""
        if self._cache is None:
            return
        if message.seq != self._cache.cursor.seq + 1:
            self._cache = None
            return
        kept = [m for m in self._cache.messages if m.id != message.id]
        if not message.is_deleted:
            kept = sorted([*kept, message], key=lambda m: m.id)[-messages.PAGE_SIZE :]
        cursor = messages.Cursor(message.seq, max(self._cache.cursor.last_id, message.id))
        self._cache = Page(kept, cursor)

    async def tick(self) -> None:
        now = self._clock()
        if self._connections() > 0:
            self._idle_since = now
        elif now - self._idle_since >= self._idle_seconds:
            self._on_idle(self)
            self.stop()


async def _nothing(_room_id: int) -> None:
    """No one to tell that a room was given up on."""


@dataclass
class _Rest:
    """A room given up on: no new server before ``until``."""

    until: float
    seconds: float
    given_up_at: float


class RoomSupervisor:
    def __init__(
        self,
        supervisor: Supervisor,
        factory: Callable[[int], RoomServer],
        *,
        on_give_up: Callable[[int], Awaitable[None]] = _nothing,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._supervisor = supervisor
        self._factory = factory
        self._on_give_up = on_give_up
        self._clock = clock
        self._servers: dict[int, RoomServer] = {}
        self._connections: dict[int, int] = {}
        self._resting: dict[int, _Rest] = {}

    def server_for(self, room_id: int) -> RoomServer:
        """The room's running server, started if need be; ``Unavailable`` while the room
        rests after its server kept crashing."""
        server = self._servers.get(room_id)
        if server is None:
            rest = self._resting.get(room_id)
            if rest is not None and self._clock() < rest.until:
                wait = math.ceil(rest.until - self._clock())
                raise Unavailable(
                    f"This room hit a problem and is restarting; try again in {wait} s.", wait
                )
            server = self._factory(room_id)
            self._servers[room_id] = server

            async def give_up(_failure: TooManyRestarts) -> None:
                await self._give_up(server)

            self._supervisor.start_child(
                Child(
                    server.name,
                    server.run,
                    Restart.TRANSIENT,
                    on_exit=lambda: self.forget(server),
                    on_give_up=give_up,
                )
            )
        return server

    def forget(self, server: RoomServer) -> None:
        """Unregister ``server`` if it is still the one registered for its room."""
        if self._servers.get(server.room_id) is server:
            del self._servers[server.room_id]

    async def _give_up(self, server: RoomServer) -> None:
        server.abandon()
        self.forget(server)
        now = self._clock()
        for room_id, rest in list(self._resting.items()):
            if now - rest.given_up_at >= FORGIVE_SECONDS:
                del self._resting[room_id]
        previous = self._resting.get(server.room_id)
        seconds = min(2 * previous.seconds, MAX_REST_SECONDS) if previous else FIRST_REST_SECONDS
        self._resting[server.room_id] = _Rest(now + seconds, seconds, now)
        await self._on_give_up(server.room_id)

    def connected(self, room_id: int) -> None:
        """Count an open page of the room. A plain method rather than a message: it takes
        effect before the next idle check, so a server never stops with a visitor on its
        way, and it does not need a server at all while the room rests."""
        self._connections[room_id] = self._connections.get(room_id, 0) + 1

    def disconnected(self, room_id: int) -> None:
        remaining = self._connections.get(room_id, 0) - 1
        if remaining > 0:
            self._connections[room_id] = remaining
        else:
            self._connections.pop(room_id, None)

    def connections(self, room_id: int) -> int:
        return self._connections.get(room_id, 0)

    def with_pages(self) -> list[int]:
        """The rooms with a page open in this process."""
        return list(self._connections)

    def running(self) -> list[int]:
        return sorted(self._servers)

    def resting(self) -> list[int]:
        now = self._clock()
        return sorted(room_id for room_id, rest in self._resting.items() if now < rest.until)

    def forget_pages(self) -> None:
        """Have every running server reload its cached page on next use."""
        for server in self._servers.values():
            with contextlib.suppress(ActorBusy, ActorStopped):
                server.cast(Forget())
