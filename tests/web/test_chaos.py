"""Chaos: fifty pages chat in five rooms on a real uvicorn while a monkey crashes the
servers of two rooms (before and after they store a message) and Presence.

Three phases: calm; chaos, where every crash is restarted; and a storm, where one room's
server crashes until it is given up on, so that its ten pages are sent to reconnect while
the monkey goes on. What must hold: every message a page saw acknowledged is stored once,
and every page shows each stored message of its room once, in order; and in the three
rooms the monkey leaves alone, messages reach the other pages about as fast in chaos as
when calm: the p99 of delivery within twice the calm one (or within a floor, as below).
The storm is checked for what it must not lose, not timed: ten pages reconnecting at once
cost the whole process a moment, a cost that grows with the room and is measured with big
rooms.

Each page behaves as htmx and the composer do: one send at a time, the same text and key
sent again after a refusal or a lost connection, a reconnect (with its cursor) after a
close, and a wait of the advertised seconds when told to slow down or that its room is
restarting.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import random
import re
import statistics
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from livechat.accounts.auth import SESSION_COOKIE
from livechat.accounts.models import User
from livechat.chat import messages, rooms
from livechat.chat.models import Message, Room
from livechat.db import Database
from livechat.realtime import broadcasts
from livechat.realtime.hub import Broadcast
from livechat.realtime.presence import Presence, PresenceRequest
from livechat.realtime.rooms import RoomRequest, RoomServer
from livechat.realtime.supervisor import MAX_RESTARTS
from tests.helpers import MakeUser
from tests.live import LiveServer, MessageList, session_cookie

# Coverage's tracer multiplies the cost of every line run: untraced, the latencies compared
# are the server's, not the tracer's.
pytestmark = [pytest.mark.latency, pytest.mark.no_cover]

ROOMS = 5
PAGES_PER_ROOM = 10
FAULTY_ROOMS = 2  # the first two; the others are the ones whose latency is compared
# Twelve hundred deliveries a phase in the three rooms timed: a message reaches ten pages
# at about the same moment, so with fewer, one message slowed by anything at all would be
# the p99 on its own.
MESSAGES_PER_PHASE = 4
STORM_MESSAGES = 2
# Between one acknowledged send and the next: about twenty-six messages a second in all, a
# busy server but not a saturated one, so that latency measures the faults, not a queue.
PACE_S = (1.4, 2.4)
# The monkey's pace: one crash in a faulty room every turn, the rooms taking turns, so each
# crashes at most three times in five seconds and is restarted; Presence every other
# turn, as it is a permanent process whose crash loop would rightly stop the whole server.
CRASH_EVERY_S = 1.2
PRESENCE_EVERY_TURNS = 2
PHASE_TIMEOUT_S = 90.0
# Twice the calm p99, unless that is under this: calm runs alike in every way put their
# p99 anywhere from 60 to 120 ms here, so below that a doubling is noise, not a fault.
P99_FLOOR_S = 0.1
ACK_TIMEOUT_S = 5.0
SETTLE_TIMEOUT_S = 20.0
SEED = 20261125

_RETRY_IN = re.compile(r"try again in (\d+) s")
_BODY = re.compile(r'<div class="message-body">([^<]*)</div>')


class Fault(RuntimeError):
    """A crash the monkey planted."""


@dataclass
class Monkey:
    """Arms one-shot crashes: in a room's server as it takes a request, in the same server
    once it has stored a message but before it publishes it, or in Presence."""

    faulty_rooms: list[int]
    rng: random.Random
    storm: bool = False  # the next trap set crashes its room until it is given up on
    before_store: Counter[int] = field(default_factory=Counter)
    after_store: Counter[int] = field(default_factory=Counter)
    presence: bool = False
    crashes: int = 0

    def crash_before_store(self, room_id: int) -> None:
        if self.before_store[room_id] > 0:
            self.before_store[room_id] -= 1
            self.crashes += 1
            raise Fault(f"the monkey crashed room {room_id}")

    def crash_after_store(self, room_id: int) -> None:
        if self.after_store[room_id] > 0:
            self.after_store[room_id] -= 1
            self.crashes += 1
            raise Fault(f"the monkey crashed room {room_id} after it stored a message")

    def crash_presence(self) -> None:
        if self.presence:
            self.presence = False
            self.crashes += 1
            raise Fault("the monkey crashed Presence")

    async def run(self) -> None:
        await asyncio.sleep(PACE_S[1])  # once every page is chatting
        for turn in itertools.count():
            await asyncio.sleep(CRASH_EVERY_S)
            # A trap not sprung yet stays as it is: traps never pile up into a storm the
            # schedule did not ask for, whatever the traffic.
            room_id = self.faulty_rooms[turn % len(self.faulty_rooms)]
            if not self.before_store[room_id] and not self.after_store[room_id]:
                kind = self.before_store if self.rng.random() < 0.5 else self.after_store
                kind[room_id] = MAX_RESTARTS + 1 if self.storm else 1
                self.storm = False
            if turn % PRESENCE_EVERY_TURNS == 0:
                self.presence = True


def release(monkey: Monkey, monkeypatch: pytest.MonkeyPatch) -> None:
    """Route the servers' work through the monkey's traps."""
    handle_room, render, handle_presence = (
        RoomServer.handle,
        broadcasts.message_created,
        Presence.handle,
    )

    async def room(server: RoomServer, request: RoomRequest) -> object:
        monkey.crash_before_store(server.room_id)
        return await handle_room(server, request)

    def created(message: Message) -> Broadcast:
        monkey.crash_after_store(message.room_id)
        return render(message)

    async def presence(actor: Presence, request: PresenceRequest) -> object:
        monkey.crash_presence()
        return await handle_presence(actor, request)

    monkeypatch.setattr(RoomServer, "handle", room)
    monkeypatch.setattr(broadcasts, "message_created", created)
    monkeypatch.setattr(Presence, "handle", presence)


@dataclass
class Outcome:
    acknowledged: bool
    retry_after_s: float = 0.0


@dataclass
class Page:
    """One browser tab on a room: its message list outlives its sockets, as the DOM does.
    It notes how long each message of others took to arrive, by phase."""

    server: LiveServer
    user: User
    room: Room
    cookie: str
    rng: random.Random
    sent_at: dict[str, float]  # when each body was last sent, by any page: shared
    shown: MessageList = field(default_factory=MessageList)
    acknowledged: list[str] = field(default_factory=list)
    latencies: dict[str, list[float]] = field(default_factory=dict)
    reconnects: int = 0
    _outcomes: asyncio.Queue[Outcome] = field(default_factory=asyncio.Queue)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _caught_up: asyncio.Event = field(default_factory=asyncio.Event)
    _arrived: set[str] = field(default_factory=set)
    _socket: ClientConnection | None = None

    @asynccontextmanager
    async def open(self) -> AsyncIterator[None]:
        reader = asyncio.create_task(self._keep_connected())
        try:
            yield
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader

    async def _keep_connected(self) -> None:
        headers = {"Origin": self.server.url, "Cookie": f"{SESSION_COOKIE}={self.cookie}"}
        url = f"{self.server.ws_url}/rooms/{self.room.slug}/ws"
        while True:
            with contextlib.suppress(ConnectionClosed, OSError):
                async with connect(url, additional_headers=headers, compression=None) as socket:
                    self._socket = socket
                    cursor = {"seq": str(self.shown.seq), "last_id": str(self.shown.last_id)}
                    await self._send(socket, "catch-up", **cursor)
                    async for frame in socket:
                        self._receive(str(frame))
            # Closed (1011, 1012, 1013) or dropped: htmx's ws extension reconnects after
            # up to a second at first ("full jitter"), and the composer sends again.
            self._socket = None
            self.reconnects += 1
            self._outcomes.put_nowait(Outcome(acknowledged=False))
            await asyncio.sleep(self.rng.random())

    def _receive(self, frame: str) -> None:
        self.shown.apply(frame)
        self._changed.set()
        if 'id="presence"' in frame:
            self._caught_up.set()
        for body in _BODY.findall(frame):
            if body not in self._arrived:  # a replay may bring it again: the first counts
                self._arrived.add(body)
                phase = body.split(" ", 1)[0]
                self.latencies.setdefault(phase, []).append(time.monotonic() - self.sent_at[body])
        if 'id="message-form" class="composer"' in frame:
            self._outcomes.put_nowait(Outcome(acknowledged=True))
        elif '<p class="flash flash-error">' in frame:
            wait = _RETRY_IN.search(frame)
            retry_after_s = float(wait[1]) if wait else 0.1
            self._outcomes.put_nowait(Outcome(acknowledged=False, retry_after_s=retry_after_s))

    @staticmethod
    async def _send(socket: ClientConnection, trigger: str, **values: str) -> None:
        headers = {"HX-Request": "true", "HX-Trigger": trigger, "HX-Current-URL": "/"}
        await socket.send(json.dumps({**values, "HEADERS": headers}))

    async def say(self, body: str) -> None:
        """Send until acknowledged, as the composer keeps its text and key until then."""
        key = uuid.uuid4().hex
        while True:
            while not self._outcomes.empty():
                self._outcomes.get_nowait()  # stale: about an earlier connection
            socket = self._socket
            if socket is None:
                await asyncio.sleep(0.05)
                continue
            self.sent_at[body] = time.monotonic()
            with contextlib.suppress(ConnectionClosed):
                await self._send(socket, "message-body", body=body[:3])
                await self._send(socket, "message-form", body=body, client_msg_id=key)
            try:
                async with asyncio.timeout(ACK_TIMEOUT_S):
                    outcome = await self._outcomes.get()
            except TimeoutError:
                continue
            if outcome.acknowledged:
                self.acknowledged.append(body)
                return
            await asyncio.sleep(outcome.retry_after_s)

    async def chat(self, phase: str, count: int) -> None:
        for number in range(count):
            await asyncio.sleep(self.rng.uniform(*PACE_S))
            await self.say(f"{phase} {number} from {self.user.display_name}")

    async def connected(self) -> None:
        """Wait for the page's first catch-up, so that connecting is not timed as chat."""
        async with asyncio.timeout(SETTLE_TIMEOUT_S):
            await self._caught_up.wait()

    async def shows(self, expected: list[int]) -> None:
        """Wait until the page shows exactly ``expected``, however long its socket takes."""
        async with asyncio.timeout(SETTLE_TIMEOUT_S):
            while self.shown.ids != expected:
                self._changed.clear()
                await self._changed.wait()


def p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100)[98]


@pytest.fixture
async def chat_rooms(db: Database, make_user: MakeUser) -> list[tuple[Room, list[User]]]:
    setup = []
    for number in range(ROOMS):
        people = [
            await make_user(f"Person {number}-{n}", f"p{number}-{n}@example.com")
            for n in range(PAGES_PER_ROOM)
        ]
        room = await rooms.create_room(db, people[0], name=f"Room {number}")
        for person in people[1:]:
            await rooms.join_room(db, person, room.slug)
        setup.append((room, people))
    return setup


async def test_fifty_pages_lose_nothing_and_see_nothing_twice_while_servers_crash(
    server: LiveServer,
    db: Database,
    chat_rooms: list[tuple[Room, list[User]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = random.Random(SEED)
    sent_at: dict[str, float] = {}
    pages = [
        Page(
            server,
            person,
            room,
            await session_cookie(server, person.email),
            random.Random(rng.random()),
            sent_at,
        )
        for room, people in chat_rooms
        for person in people
    ]
    faulty = {room.id for room, _ in chat_rooms[:FAULTY_ROOMS]}
    monkey = Monkey(sorted(faulty), rng)
    release(monkey, monkeypatch)

    async with contextlib.AsyncExitStack() as stack:
        for page in pages:
            await stack.enter_async_context(page.open())
        for page in pages:
            await page.connected()
        async with asyncio.timeout(PHASE_TIMEOUT_S), asyncio.TaskGroup() as calm:
            for page in pages:
                calm.create_task(page.chat("calm", MESSAGES_PER_PHASE))
        mischief = asyncio.create_task(monkey.run())
        try:
            async with asyncio.timeout(PHASE_TIMEOUT_S), asyncio.TaskGroup() as chaos:
                for page in pages:
                    chaos.create_task(page.chat("chaos", MESSAGES_PER_PHASE))
            monkey.storm = True
            async with asyncio.timeout(PHASE_TIMEOUT_S), asyncio.TaskGroup() as storm:
                for page in pages:
                    storm.create_task(page.chat("storm", STORM_MESSAGES))
        finally:
            mischief.cancel()

        for room, people in chat_rooms:
            stored = (await messages.history(db, people[0], room.slug, limit=1000)).messages
            members = [page for page in pages if page.room.id == room.id]
            # Every acknowledged message is stored, once; nothing unacknowledged is.
            acknowledged = [body for page in members for body in page.acknowledged]
            assert sorted(m.body for m in stored) == sorted(acknowledged)
            for page in members:
                await page.shows([m.id for m in stored])
                assert page.shown.doubled == []

    assert monkey.crashes >= 10, "the monkey hardly did anything"
    assert sum(page.reconnects for page in pages) >= PAGES_PER_ROOM  # a room was given up on
    assert server.fatal == []
    healthy = [page for page in pages if page.room.id not in faulty]
    calm_p99 = p99([s for page in healthy for s in page.latencies["calm"]])
    chaos_p99 = p99([s for page in healthy for s in page.latencies["chaos"]])
    bound = 2 * max(calm_p99, P99_FLOOR_S)
    assert chaos_p99 <= bound, f"p99 {calm_p99:.3f} s calm, {chaos_p99:.3f} s in chaos"
