"""How many room pages can one core serve?

Starts ``livechat serve`` in a process of its own on a fresh database with one public room
of 60 messages from a few people and a signed-in member who reads it. Then 16 clients,
each on a keep-alive connection of its own, GET that member's room page (``/rooms/{slug}``,
the newest 50 messages) over and over: a warm-up first, then measured rounds. The server
runs on one core and the clients on the other.

For each round it reports requests per second, p50 and p99 latency, and the server's CPU
time per page, read from ``/proc/<pid>/stat`` before and after; then the best round:
other work on the machine only ever adds to CPU time, so the best round is the closest to
the cost of the page alone.

    .venv/bin/python benchmarks/room_page.py [--seconds 10] [--rounds 3] [--clients 16]

To compare with another version of livechat, run it with that version's ``src`` first on
``PYTHONPATH``: the server process inherits it.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import tempfile
import time
from dataclasses import dataclass

import httpx
from harness import Server, cpu_seconds, migrated_database, populate, prepare, serving_livechat
from sqlalchemy import select, update

from livechat.accounts.auth import SESSION_COOKIE
from livechat.accounts.models import User
from livechat.chat.models import Message, Room
from livechat.db import Database
from livechat.web.csrf import CSRF_COOKIE

AUTHORS = 4  # the room's first members write its messages; the last one reads them
BODIES = (
    "Morning all, the release notes are up: https://example.com/releases/42",
    "Can someone review the migration before lunch?",
    "Looks good to me. The index on (room_id, id) makes the history query instant.",
    "I'll take the flaky test; it fails one run in fifty on CI.",
    "Standup moved to 10:15 today <3",
)


@dataclass(frozen=True, slots=True)
class Round:
    requests: int
    seconds: float
    latencies: list[float]
    cpu_seconds: float

    def __str__(self) -> str:
        cuts = statistics.quantiles(self.latencies, n=100)
        return (
            f"{self.requests / self.seconds:>5,.0f} requests/s"
            f"   p50 {cuts[49] * 1000:5.1f} ms   p99 {cuts[98] * 1000:5.1f} ms"
            f"   server CPU {self.cpu_seconds * 1000 / self.requests:.2f} ms a page"
        )


async def _populate(database_url: str, messages: int) -> tuple[str, str]:
    """The room's slug, and the session token of a member who reads it."""
    slug, tokens = await populate(database_url, AUTHORS + 1)
    db = Database(database_url)
    async with db.write() as session:
        room_id = await session.scalar(select(Room.id).where(Room.slug == slug))
        people = list(await session.scalars(select(User.id).order_by(User.id)))
        authors = people[:AUTHORS]
        # One author with a picture, the others shown by their initials.
        await session.execute(
            update(User)
            .where(User.id == authors[1])
            .values(avatar_url="/avatars/0123456789abcdef.webp")
        )
        session.add_all(
            Message(
                room_id=room_id,
                user_id=authors[n % AUTHORS],
                body=f"{BODIES[n % len(BODIES)]} (#{n + 1})",
                seq=n + 1,
            )
            for n in range(messages)
        )
        await session.execute(update(Room).where(Room.id == room_id).values(last_seq=messages))
    await db.dispose()
    return slug, tokens[AUTHORS]


async def _read_response(reader: asyncio.StreamReader) -> int:
    """One HTTP/1.1 response with a Content-Length, as uvicorn sends every page: its status."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    length = next(
        int(line.partition(":")[2]) for line in lines if line.lower().startswith("content-length:")
    )
    await reader.readexactly(length)
    return int(lines[0].split()[1])


async def _client(
    port: int, request: bytes, measure_from: float, until: float, latencies: list[float]
) -> None:
    """Ask for the page again as soon as the last one arrived, on one connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while (started := time.perf_counter()) < until:
            writer.write(request)
            status = await _read_response(reader)
            if status != 200:
                raise RuntimeError(f"the room page answered {status}")
            if started >= measure_from:
                latencies.append(time.perf_counter() - started)
    finally:
        writer.close()


async def _round(
    server: Server, request: bytes, clients: int, warmup: float, seconds: float
) -> Round:
    latencies: list[float] = []
    start = time.perf_counter()
    measure_from, until = start + warmup, start + warmup + seconds
    runs = [
        asyncio.create_task(_client(server.port, request, measure_from, until, latencies))
        for _ in range(clients)
    ]
    await asyncio.sleep(max(0.0, measure_from - time.perf_counter()))
    cpu, measuring = cpu_seconds(server.pid), time.perf_counter()
    await asyncio.gather(*runs)
    # The requests still on their way at the end were sent inside the round: it lasts
    # until they are answered.
    elapsed = time.perf_counter() - measuring
    return Round(len(latencies), elapsed, latencies, cpu_seconds(server.pid) - cpu)


async def main(seconds: float, rounds: int, warmup: float, clients: int, messages: int) -> None:
    print(prepare())
    with tempfile.TemporaryDirectory() as folder:
        database_url = migrated_database(folder)
        slug, token = await _populate(database_url, messages)
        # A browser that has been here before sends its CSRF cookie and is given no new one.
        cookies = f"{SESSION_COOKIE}={token}; {CSRF_COOKIE}={secrets.token_urlsafe(32)}"
        async with serving_livechat(folder, database_url) as server:
            async with httpx.AsyncClient(headers={"Cookie": cookies}) as http:
                page = await http.get(f"{server.origin}/rooms/{slug}")
            shown = page.text.count('class="message"')
            if page.status_code != 200 or shown < min(messages, 50):
                raise RuntimeError(f"the room page answered {page.status_code}, {shown} messages")
            print(
                f"a room page of {shown} messages, {len(page.content) / 1024:.0f} KiB,"
                f" {clients} clients, server pid {server.pid}"
            )
            request = (
                f"GET /rooms/{slug} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
                f"Cookie: {cookies}\r\nAccept: text/html\r\n\r\n"
            ).encode()
            results = []
            for number in range(1, rounds + 1):
                # Only the first round warms up: the others find the server warm.
                result = await _round(
                    server, request, clients, warmup if number == 1 else 0.0, seconds
                )
                results.append(result)
                print(f"round {number}: {result}")
            best = min(results, key=lambda result: result.cpu_seconds / result.requests)
            print(f"   best: {best}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds before the first")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--messages", type=int, default=60)
    arguments = parser.parse_args()
    asyncio.run(
        main(
            arguments.seconds,
            arguments.rounds,
            arguments.warmup,
            arguments.clients,
            arguments.messages,
        )
    )
