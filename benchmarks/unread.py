"""Does a message cost more in a room whose members are not looking?

A room list counts a room's unread messages from one event per message, and a member
connected nowhere is counted nothing until they next load a page: a message should cost
the same in a room of 2,000 members as in a room of only the 50 who are connected.

Each scenario starts ``livechat serve`` on a fresh database with one public room, its
members each signed in with the room read, and connects 50 of them: 25 with the room open
(its socket, catching up as a page does) and 25 with the room list open (``/lobby/ws``).
The room has 2,000 members in the first scenario and only those 50 in the second. Once
the server is idle, messages are sent from the open rooms in turn, one after another at a
steady rate that keeps everyone well inside the rate limit.

For each scenario it reports, per message: p50 and p99 from send to the sender's
acknowledgement (its new form), p50 and p99 from send until every room list showed the
room's unread badge one higher, and the server's CPU time, read from ``/proc/<pid>/stat``
before and after; and whether every room page received every message and every room list
every badge. Last comes the ratio of CPU per message of the two: near 1 when the members
who are not looking cost nothing. With ``--rounds``, the scenarios take turns and the
ratio is of each one's best round: other work on the machine only ever adds to CPU time.
The server runs on one core and the pages on the other.

    .venv/bin/python benchmarks/unread.py [--messages 300] [--rate 20] [--rounds 3]

To compare with another version of livechat, run it with that version's ``src`` first on
``PYTHONPATH``: the server process inherits it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from harness import (
    Page,
    Server,
    cpu_seconds,
    migrated_database,
    populate,
    prepare,
    serving_livechat,
)
from sqlalchemy import select

from livechat.chat.models import Room
from livechat.db import Database
from livechat.realtime.rate_limiter import REFILL_SECONDS

MEMBERS = 2_000
ROOM_PAGES = 25  # the senders, in turn: together, at most one message each a refill
ROOM_LISTS = 25
ACK_TIMEOUT_S = 5.0
DRAIN_S = 5.0  # after the last send, how long a message or a badge may still arrive
QUIET_S = 1.0  # a room whose pages were sent nothing for this long...
IDLE_CHECK_S = 1.0
IDLE_CPU_SHARE = 0.05  # ...on a server using under this share of a core has settled
_TOKEN = re.compile(rb"bench-(\d+)")
_ACK = b'id="message-form"'
_REFUSED = b'class="flash flash-error"'
_HEADERS = {"HX-Request": "true", "HX-Trigger": "message-form", "HX-Current-URL": "/"}
_CATCH_UP = '{"seq": "0", "last_id": "0", "HEADERS": {"HX-Trigger": "catch-up"}}'


def _badge_text(count: int) -> bytes:
    """What a room list's unread badge shows for ``count`` messages."""
    return b"99+" if count > 99 else str(count).encode()


class Watch:
    """What the pages of one scenario saw of its messages: each room page the messages it
    was sent, each room list when its badge changed and to what, each sender its answer."""

    def __init__(self, room_id: int) -> None:
        self._badge = re.compile(rb'id="room-%d-unread"[^>]*>([^<]*)' % room_id)
        self.sent_at: list[float] = []
        self.acks: list[float] = []
        self.shown: dict[Page, set[int]] = {}
        self.badges: dict[Page, list[float]] = {}
        self.miscounted = 0  # badges that did not show one message more than before
        self._answer: dict[Page, asyncio.Future[bool]] = {}
        self._all_sent = False
        self._delivered = asyncio.Event()

    def start(self) -> None:
        """Forget what the pages were sent as they opened: from now on, only messages."""
        self.shown = {page: set() for page in self.shown}
        self.badges = {page: [] for page in self.badges}
        self.miscounted = 0

    def on_room_page(self, page: Page, payload: bytes) -> None:
        self.shown.setdefault(page, set()).update(int(m[1]) for m in _TOKEN.finditer(payload))
        answer = self._answer.get(page)
        if answer is not None and (_ACK in payload or _REFUSED in payload):
            del self._answer[page]
            answer.set_result(_ACK in payload)
        self._check()

    def on_room_list(self, page: Page, payload: bytes) -> None:
        now = time.monotonic()
        changed = self.badges.setdefault(page, [])
        for match in self._badge.finditer(payload):
            changed.append(now)
            if match[1] != _badge_text(len(changed)):
                self.miscounted += 1
        self._check()

    async def send(self, page: Page, number: int) -> None:
        """Send message ``number`` from ``page``, and wait until it is acknowledged: the
        next is then stored after it, and the room lists count them in that order."""
        answer: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._answer[page] = answer
        sent_at = time.monotonic()
        self.sent_at.append(sent_at)
        frame = {"body": f"bench-{number}", "client_msg_id": uuid.uuid4().hex}
        page.send(json.dumps({**frame, "HEADERS": _HEADERS}))
        if not await asyncio.wait_for(answer, ACK_TIMEOUT_S):
            raise RuntimeError(f"message {number} was refused: send them more slowly")
        self.acks.append(time.monotonic() - sent_at)

    async def delivered(self) -> None:
        """Wait until every room page showed every message sent, and every room list
        every badge."""
        self._all_sent = True
        self._check()
        await self._delivered.wait()

    def _check(self) -> None:
        if not self._all_sent or self._delivered.is_set():
            return
        sent = len(self.sent_at)
        shown = all(len(numbers) == sent for numbers in self.shown.values())
        if shown and all(len(changed) >= sent for changed in self.badges.values()):
            self._delivered.set()

    def badge_latencies(self) -> list[float]:
        """For each message that every room list counted, how long until the last did."""
        counted = min(len(self.sent_at), *(len(changed) for changed in self.badges.values()))
        return [
            max(changed[number] for changed in self.badges.values()) - self.sent_at[number]
            for number in range(counted)
        ]


@dataclass(frozen=True, slots=True)
class Result:
    members: int
    messages: int
    acks: list[float]
    badges: list[float]
    cpu_seconds: float
    shown: list[int]  # how many messages each room page showed
    counted: list[int]  # how many badge changes each room list showed
    miscounted: int

    @property
    def cpu_per_message_ms(self) -> float:
        return self.cpu_seconds / self.messages * 1000

    @property
    def complete(self) -> bool:
        every = [*self.shown, *self.counted]
        return all(seen == self.messages for seen in every) and not self.miscounted

    def row(self) -> str:
        acks, badges = sorted(self.acks), sorted(self.badges) or [float("inf")]
        pages = sum(seen == self.messages for seen in self.shown)
        lists = sum(seen == self.messages for seen in self.counted)
        return (
            f"{self.members:>7,} {len(self.shown) + len(self.counted):>9}"
            f" {statistics.median(acks) * 1000:>7.1f} {_p99(acks) * 1000:>7.1f}"
            f" {statistics.median(badges) * 1000:>10.1f} {_p99(badges) * 1000:>10.1f}"
            f" {self.cpu_per_message_ms:>12.2f}"
            f"   {pages}/{len(self.shown)} pages, {lists}/{len(self.counted)} lists"
            f"{'' if self.complete else f', {self.miscounted} miscounted: INCOMPLETE'}"
        )


HEADER = (
    "members connected ack p50 ack p99 badges p50 badges p99  CPU/message   all received\n"
    "                       ms      ms         ms         ms           ms"
)


def _p99(ordered: list[float]) -> float:
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


async def _room_id(database_url: str, slug: str) -> int:
    db = Database(database_url)
    try:
        async with db.read() as session:
            room_id = await session.scalar(select(Room.id).where(Room.slug == slug))
    finally:
        await db.dispose()
    assert room_id is not None
    return room_id


async def _open(
    server: Server,
    path: str,
    tokens: list[str],
    on_frame: Callable[[Page, bytes], None],
    catch_up: bool,
) -> list[Page]:
    """A page on ``path`` for each of ``tokens``, each answered once."""

    async def one(token: str) -> Page:
        page = await Page.open(server.origin, path, token, on_frame)
        if catch_up:
            page.send(_CATCH_UP)
        await page.answered
        return page

    return list(await asyncio.gather(*(one(token) for token in tokens)))


async def _settle(server: Server, pages: list[Page]) -> None:
    """Wait until the pages have been sent nothing for a while and the server is idle."""
    while True:
        quiet_for = time.monotonic() - max(page.last_frame for page in pages)
        if quiet_for < QUIET_S:
            await asyncio.sleep(QUIET_S - quiet_for)
            continue
        cpu = cpu_seconds(server.pid)
        await asyncio.sleep(IDLE_CHECK_S)
        if cpu_seconds(server.pid) - cpu < IDLE_CHECK_S * IDLE_CPU_SHARE:
            return


async def _scenario(members: int, messages: int, rate: float) -> Result:
    """A fresh room of ``members``, the first of whom connect, sent ``messages``."""
    with tempfile.TemporaryDirectory() as folder:
        database_url = migrated_database(folder)
        slug, tokens = await populate(database_url, members)
        watch = Watch(await _room_id(database_url, slug))
        async with serving_livechat(folder, database_url, name=f"{members:,} members") as server:
            senders = await _open(
                server, f"/rooms/{slug}/ws", tokens[:ROOM_PAGES], watch.on_room_page, True
            )
            lists = tokens[ROOM_PAGES : ROOM_PAGES + ROOM_LISTS]
            readers = await _open(server, "/lobby/ws", lists, watch.on_room_list, False)
            pages = senders + readers
            await _settle(server, pages)
            watch.start()
            cpu, started = cpu_seconds(server.pid), time.monotonic()
            for number in range(messages):
                await asyncio.sleep(max(0.0, started + number / rate - time.monotonic()))
                await watch.send(senders[number % len(senders)], number)
            # What is still missing after the drain time is reported as such.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(DRAIN_S):
                    await watch.delivered()
            cpu = cpu_seconds(server.pid) - cpu
            for page in pages:
                page.abort()
    return Result(
        members=members,
        messages=messages,
        acks=watch.acks,
        badges=watch.badge_latencies(),
        cpu_seconds=cpu,
        shown=[len(numbers) for numbers in watch.shown.values()],
        counted=[len(changed) for changed in watch.badges.values()],
        miscounted=watch.miscounted,
    )


async def main(messages: int, rate: float, rounds: int) -> None:
    print(prepare())
    connected = ROOM_PAGES + ROOM_LISTS
    print(
        f"{messages} messages at {rate:g} a second from {ROOM_PAGES} open rooms in turn;"
        f" {ROOM_LISTS} room lists count them"
    )
    results: dict[int, list[Result]] = {MEMBERS: [], connected: []}
    for _ in range(rounds):
        for members, done in results.items():
            done.append(await _scenario(members, messages, rate))
    print(HEADER)
    for done in results.values():
        for result in done:
            print(result.row())
    many, few = (min(done, key=lambda r: r.cpu_seconds) for done in results.values())
    print(
        f"CPU per message, {MEMBERS:,} members / {connected} members:"
        f" {many.cpu_per_message_ms:.2f} / {few.cpu_per_message_ms:.2f} ms"
        f" = {many.cpu_seconds / few.cpu_seconds:.2f}"
        f"{' (best round of each)' if rounds > 1 else ''}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--rate", type=float, default=20.0, help="messages a second")
    parser.add_argument("--rounds", type=int, default=3, help="turns of the two scenarios")
    arguments = parser.parse_args()
    if not 0 < arguments.rate < ROOM_PAGES / REFILL_SECONDS:
        parser.error(f"--rate must be under {ROOM_PAGES / REFILL_SECONDS:g}, the rate limit")
    asyncio.run(main(arguments.messages, arguments.rate, arguments.rounds))
