"""What does it cost when a big room fills up, or reconnects all at once?

Starts ``livechat serve`` in a process of its own on a fresh database with one public room
of N members, each signed in, then opens a room socket for every one of them, as their
pages would (catching up on connect), in two rounds:

- **arrival**: N people open the room, a few dozen handshakes at a time;
- **storm**: every socket is dropped and all N reconnect at once, as after a deploy.

For each round it reports the frames and bytes the sockets received until the room went
quiet, how long until every page showed everyone online, how many sockets were still
open at the end (and why the others closed), and the server's CPU time. The server runs
on one core and the pages on the other, with the harness's light client.

    .venv/bin/python benchmarks/presence.py [--people 500]

To compare with another version of livechat, run it with that version's ``src`` first on
``PYTHONPATH``: the server process inherits it.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections import Counter

from harness import (
    Page,
    Server,
    cpu_seconds,
    migrated_database,
    populate,
    prepare,
    serving_livechat,
)

QUIET_S = 1.0  # a room that sent nothing for this long has settled
HANDSHAKES_AT_ONCE = 50
SETTLE_TIMEOUT_S = 120.0
_CATCH_UP = '{"seq": "0", "last_id": "0", "HEADERS": {"HX-Trigger": "catch-up"}}'


class Round:
    """The pages of one round, and when each first showed everyone online."""

    def __init__(self, people: int) -> None:
        self.everyone = f">{people} online<".encode()
        self.saw_everyone: dict[Page, float] = {}

    def on_frame(self, page: Page, payload: bytes) -> None:
        if page not in self.saw_everyone and self.everyone in payload:
            self.saw_everyone[page] = time.monotonic()


async def _round(name: str, server: Server, path: str, tokens: list[str], gate: int) -> list[Page]:
    people = len(tokens)
    watching = Round(people)
    cpu, started = cpu_seconds(server.pid), time.monotonic()
    semaphore = asyncio.Semaphore(gate)

    async def open_one(token: str) -> Page:
        async with semaphore:
            page = await Page.open(server.origin, path, token, watching.on_frame)
            page.send(_CATCH_UP)
            return page

    pages = await asyncio.gather(*(open_one(token) for token in tokens))
    deadline = started + SETTLE_TIMEOUT_S
    while time.monotonic() < deadline:
        last = max(page.last_frame for page in pages)
        if time.monotonic() - last > QUIET_S and len(watching.saw_everyone) == people:
            break
        await asyncio.sleep(0.1)
    seen = watching.saw_everyone.values()
    settled = f"{max(seen) - started:.1f} s" if len(seen) == people else "never"
    closed = Counter(page.closed.result() for page in pages if page.closed.done())
    why = "".join(f", {count} closed with {code}" for code, count in sorted(closed.items()))
    print(
        f"{name:>8}: {sum(p.frames for p in pages):>9,} frames"
        f" {sum(p.bytes for p in pages) / 1e6:>9.1f} MB"
        f"   all {people} shown online after {settled}"
        f"   open at the end {people - closed.total()}/{people}{why}"
        f"   server CPU {cpu_seconds(server.pid) - cpu:.1f} s"
    )
    return list(pages)


async def main(people: int) -> None:
    print(prepare())
    with tempfile.TemporaryDirectory() as folder:
        database_url = migrated_database(folder)
        slug, tokens = await populate(database_url, people)
        async with serving_livechat(folder, database_url) as server:
            path = f"/rooms/{slug}/ws"
            print(f"{people} people in one room, server pid {server.pid}")
            pages = await _round("arrival", server, path, tokens, HANDSHAKES_AT_ONCE)
            for page in pages:
                page.abort()
            await asyncio.sleep(QUIET_S)
            pages = await _round("storm", server, path, tokens, people)
            for page in pages:
                page.abort()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=500)
    asyncio.run(main(parser.parse_args().people))
