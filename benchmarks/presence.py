"""What does it cost when a big room fills up, or reconnects all at once?

Starts ``livechat serve`` in a process of its own on a fresh database with one public room
of N members, each signed in, then opens a room socket for every one of them, as their
pages would (catching up on connect), in two rounds:

- **arrival**: N people open the room, a few dozen handshakes at a time;
- **storm**: every socket is dropped and all N reconnect at once, as after a deploy.

For each round it reports the frames and bytes the sockets received until the room went
quiet, how long until every page showed everyone online, how many sockets were still
open at the end, and the server's CPU time.

    .venv/bin/python benchmarks/presence.py [--people 500]

To compare with another version of livechat, run it with that version's ``src`` first on
``PYTHONPATH``: the server process inherits it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field

import httpx
from harness import cpu_seconds, free_port, populate
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from livechat import schema
from livechat.accounts.auth import SESSION_COOKIE

QUIET_S = 1.0  # a room that sent nothing for this long has settled
HANDSHAKES_AT_ONCE = 50
SETTLE_TIMEOUT_S = 120.0


@dataclass
class Page:
    token: str
    connection: ClientConnection | None = None
    frames: int = 0
    bytes: int = 0
    last_frame: float = 0.0
    saw_everyone: float | None = None
    closed: bool = False
    reader: asyncio.Task[None] | None = field(default=None, repr=False)


async def _read(page: Page, everyone: str) -> None:
    assert page.connection is not None
    try:
        async for frame in page.connection:
            page.frames += 1
            page.bytes += len(frame)
            page.last_frame = time.monotonic()
            if page.saw_everyone is None and everyone in frame:
                page.saw_everyone = page.last_frame
    except ConnectionClosed:
        pass
    page.closed = True


async def _open(page: Page, url: str, origin: str, everyone: str, gate: asyncio.Semaphore) -> None:
    async with gate:
        page.connection = await connect(
            url,
            additional_headers={"Origin": origin, "Cookie": f"{SESSION_COOKIE}={page.token}"},
            max_size=None,
        )
        page.closed = False
        catch_up = '{"seq": "0", "last_id": "0", "HEADERS": {"HX-Trigger": "catch-up"}}'
        await page.connection.send(catch_up)
    page.reader = asyncio.create_task(_read(page, everyone))


async def _round(
    name: str, pages: list[Page], url: str, origin: str, people: int, pid: int, gate: int
) -> None:
    everyone = f">{people} online<"
    for page in pages:
        page.frames = page.bytes = 0
        page.saw_everyone = None
    cpu, started = cpu_seconds(pid), time.monotonic()
    semaphore = asyncio.Semaphore(gate)
    await asyncio.gather(*(_open(page, url, origin, everyone, semaphore) for page in pages))
    deadline = started + SETTLE_TIMEOUT_S
    while time.monotonic() < deadline:
        last = max(page.last_frame for page in pages)
        if time.monotonic() - last > QUIET_S and all(p.saw_everyone for p in pages):
            break
        await asyncio.sleep(0.1)
    seen = [page.saw_everyone for page in pages if page.saw_everyone is not None]
    settled = f"{max(seen) - started:.1f} s" if len(seen) == people else "never"
    print(
        f"{name:>8}: {sum(p.frames for p in pages):>9,} frames"
        f" {sum(p.bytes for p in pages) / 1e6:>9.1f} MB"
        f"   all {people} shown online after {settled}"
        f"   open at the end {sum(not p.closed for p in pages)}/{people}"
        f"   server CPU {cpu_seconds(pid) - cpu:.1f} s"
    )


async def _drop(pages: list[Page]) -> None:
    for page in pages:
        if page.connection is not None:
            page.connection.transport.abort()
    await asyncio.gather(*(page.reader for page in pages if page.reader is not None))


async def main(people: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        database_url = f"sqlite+aiosqlite:///{folder}/livechat.db"
        schema.upgrade(database_url)
        slug, tokens = await populate(database_url, people)
        port = free_port()
        environment = {
            **os.environ,
            "LIVECHAT_DATABASE_URL": database_url,
            "LIVECHAT_UPLOADS_DIR": f"{folder}/uploads",
            "LIVECHAT_LOG_FORMAT": "text",
        }
        server = await asyncio.create_subprocess_exec(
            sys.executable, "-c", "from livechat.cli import main; main()", "serve",
            "--port", str(port),
            env=environment,
            stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        origin = f"http://127.0.0.1:{port}"
        try:
            async with asyncio.timeout(30):
                while True:
                    try:
                        async with httpx.AsyncClient() as http:
                            await http.get(f"{origin}/healthz")
                        break
                    except httpx.TransportError:
                        await asyncio.sleep(0.1)
            url = f"ws://127.0.0.1:{port}/rooms/{slug}/ws"
            pages = [Page(token) for token in tokens]
            print(f"{people} people in one room, server pid {server.pid}")
            await _round("arrival", pages, url, origin, people, server.pid, HANDSHAKES_AT_ONCE)
            await _drop(pages)
            await asyncio.sleep(QUIET_S)
            await _round("storm", pages, url, origin, people, server.pid, people)
            await _drop(pages)
        finally:
            server.terminate()
            await server.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=500)
    asyncio.run(main(parser.parse_args().people))
