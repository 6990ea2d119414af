"""How fast is search as you type while a big room is busy?

Starts ``livechat serve`` on a copy of the million-message database of
``benchmarks/search.py`` (built first if missing), with one more public room of 500
members added, each signed in. One of them searches over HTTP, as the search page does
as they type (each query once the previous one answered), first with the room idle, then
while the 500 pages of the room post at ``--rate`` messages a second, the fan-out phase
of ``benchmarks/fanout.py``. For each it reports p50 and p99 per kind of query, and for
the busy phase what the room's pages saw: sends refused, deliveries lost, p99.

    .venv/bin/python benchmarks/search_under_load.py [--rate 160] [--database PATH]

The server runs on one core, the pages and the searcher on the other. The searcher has a
process of its own, as a person's browser is not the one receiving 500 pages' messages:
in the pages' process, its answers would wait for their frames to be read first.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import httpx
from fanout import PHASE_S, Room, open_pages
from harness import migrated_database, populate, prepare, serving_livechat
from search import SEED, build, percentile, queries

from livechat.accounts.auth import SESSION_COOKIE

IDLE_PHASE_S = PHASE_S


def _search_in_process(origin: str, token: str, seconds: float) -> dict[str, list[float]]:
    return asyncio.run(_search(origin, token, seconds))


async def _search_apart(origin: str, token: str, seconds: float) -> dict[str, list[float]]:
    """``_search`` in a process of its own."""
    with ProcessPoolExecutor(max_workers=1) as searcher:
        return await asyncio.get_running_loop().run_in_executor(
            searcher, _search_in_process, origin, token, seconds
        )


async def _search(origin: str, token: str, seconds: float) -> dict[str, list[float]]:
    """As-you-type queries from one page, one after another, for ``seconds``: each kind's
    latencies in ms."""
    kinds = queries(random.Random(SEED))
    latencies: dict[str, list[float]] = {kind: [] for kind in kinds}
    # Each kind in turn, so that a phase too short for every query still measures each.
    rows = [[(kind, text) for text in texts] for kind, texts in kinds.items()]
    turns = [turn for group in itertools.zip_longest(*rows) for turn in group if turn]
    headers = {"HX-Request": "true", "Cookie": f"{SESSION_COOKIE}={token}"}
    deadline = time.monotonic() + seconds
    async with httpx.AsyncClient(base_url=origin, headers=headers) as http:
        while time.monotonic() < deadline:
            for kind, text in turns:
                started = time.perf_counter()
                response = await http.get("/search", params={"q": text})
                response.raise_for_status()
                latencies[kind].append((time.perf_counter() - started) * 1000)
                if time.monotonic() >= deadline:
                    return latencies
    return latencies


def _print(phase: str, latencies: dict[str, list[float]]) -> None:
    for kind, samples in latencies.items():
        if samples:
            print(
                f"{phase:>5} {kind:>20}: n={len(samples):>4}"
                f"  p50={percentile(samples, 0.50):6.1f} ms"
                f"  p99={percentile(samples, 0.99):6.1f} ms"
            )


async def main(database: Path, rate: int) -> None:
    print(prepare())
    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder) / "livechat.db"
        shutil.copyfile(database, copy)
        database_url = migrated_database(folder)  # at the newest schema, as a server wants
        slug, tokens = await populate(database_url, 500)
        async with serving_livechat(folder, database_url) as server:
            room = Room()
            room.pages = await open_pages(server, f"/rooms/{slug}/ws", list(tokens), room.on_frame)
            _print("idle", await _search_apart(server.origin, tokens[0], IDLE_PHASE_S))
            searching = asyncio.create_task(_search_apart(server.origin, tokens[0], PHASE_S))
            result = await room.run_phase(server, rate)
            _print("busy", await searching)
            print(
                f"the room at {rate} msg/s: refused {result.refused}, loss {result.loss},"
                f" p99 {result.p99 * 1000:.1f} ms"
            )
            for page in room.pages:
                page.abort()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=int, default=160)
    default_database = Path(tempfile.gettempdir()) / "livechat-bench.db"
    parser.add_argument("--database", type=Path, default=default_database)
    arguments = parser.parse_args()
    if not arguments.database.exists():
        print(f"building {arguments.database} with 1,000,000 messages…")
        build(arguments.database, 1_000_000)
    asyncio.run(main(arguments.database, arguments.rate))
