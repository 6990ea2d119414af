"""How much does the Redis hop add to a room's deliveries?

Runs the rising-rate phases of ``benchmarks/fanout.py`` twice, each time on a fresh
database with one public room of N members, each signed in. First the embedded default:
one ``livechat serve`` with no Redis, all N sockets on it. Then two ``livechat serve`` on
two ports sharing the database and Redis (under a prefix of their own), half the sockets
on each, the sends taking turns between the two halves so that half the messages are
posted through each process. With Redis, a send first spends its person's rate limit in
a script in Redis, and its message goes out to Redis and back before any page sees it,
even the pages of the process it was posted through: that round trip is the hop.

Every socket, whichever process it is on, must receive every message a server accepted,
once. For each phase of each configuration it reports the sends accepted and refused,
loss (deliveries still missing a few seconds after the phase), duplicates, p50 and p99
from send to delivery, deliveries a second, CPU per delivery (the servers' together, and
Redis's: without Redis, what anything else using it spent), and p50 and p99 from send to
the sender's acknowledgement, which tell the store's part of a delay from the delivery's.
Each server's logged errors are reported as it stops. Last come, rate by rate, the
deliveries a second that rate asks for (sockets times rate: 500 sockets at 40 msg/s ask
for 20,000), what the hop added to p50 and p99, and whether the two processes delivered
every accepted message to every socket exactly once.

    .venv/bin/python benchmarks/fanout_redis.py [--sockets 500] [--rates 10,20,40,80]
        [--post-through both|one]

Caveats. As in ``fanout.py``, the servers run on one core and this process on the other,
so with Redis the two processes share one core between them: what is compared is the
hop at equal CPU, not what a second core would bring. The two processes also share
SQLite's one writer: a send that arrives while the other process is writing waits for
its lock in SQLite's busy wait, whose sleeps grow (1, 2, 5, 10 ms...). That is a cost of
two processes on one database rather than of Redis, and it shows before the
acknowledgement. ``--post-through one`` posts every message through the first process
alone (the pages on the second only receive): SQLite then has one writing process, and
what is added is the hop itself, for every page, since even the posting process's pages
hear a message only once it came back from Redis. Redis is not started here, nor pinned:
it runs on whichever core the scheduler gives it, and beside the servers' CPU, not in
it. It is reached on this machine; a Redis across a network adds that network's round
trips to the hop.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import tempfile
import uuid
from collections.abc import Sequence
from contextlib import AsyncExitStack

from fanout import PHASE_S, Result, Room, join_pages, settle
from harness import Server, migrated_database, populate, prepare, serving_livechat
from redis.asyncio import Redis

REDIS_URL = "redis://127.0.0.1:6379/0"  # a Redis on this machine, on its default port
RATES = "10,20,40,80"  # for 500 sockets, up to twice the 20,000 deliveries/s of 40 msg/s
PROCESSES = 2  # the fewest that put Redis between a send and some of its pages


async def _fresh_room(folder: str, sockets: int) -> tuple[str, str, list[str]]:
    """A new database in ``folder`` with one room of ``sockets`` members: its URL, the
    room's socket path and the members' session tokens."""
    os.makedirs(folder)
    database_url = migrated_database(folder)
    slug, tokens = await populate(database_url, sockets)
    return database_url, f"/rooms/{slug}/ws", tokens


async def _embedded(
    folder: str, sockets: int, rates: list[int], seconds: float, redis: Redis
) -> list[Result]:
    database_url, path, tokens = await _fresh_room(folder, sockets)
    async with serving_livechat(folder, database_url, "embedded") as server:
        return await _sweep("embedded", [server], [tokens], path, rates, seconds, redis)


async def _over_redis(
    folder: str,
    sockets: int,
    rates: list[int],
    seconds: float,
    redis_url: str,
    redis: Redis,
    post_through: str,
) -> list[Result]:
    database_url, path, tokens = await _fresh_room(folder, sockets)
    environment = {
        "LIVECHAT_REDIS_URL": redis_url,
        "LIVECHAT_REDIS_PREFIX": f"bench-{uuid.uuid4().hex}",
        # Every process of one chat must sign with the same key.
        "LIVECHAT_SECRET_KEY": secrets.token_urlsafe(48),
    }
    async with AsyncExitStack() as stack:
        servers = [
            await stack.enter_async_context(
                serving_livechat(folder, database_url, f"redis-{n + 1}", environment)
            )
            for n in range(PROCESSES)
        ]
        shares = [tokens[n::PROCESSES] for n in range(PROCESSES)]
        return await _sweep(
            "redis", servers, shares, path, rates, seconds, redis, one_poster=post_through == "one"
        )


async def _sweep(
    name: str,
    servers: Sequence[Server],
    shares: Sequence[list[str]],
    path: str,
    rates: list[int],
    seconds: float,
    redis: Redis,
    *,
    one_poster: bool = False,
) -> list[Result]:
    """The pages of ``shares[n]`` on ``servers[n]``, then a phase at each rate, until one
    loses more than half its deliveries; ``redis``'s CPU per delivery too. With
    ``one_poster``, only the pages of the first server send."""
    room = Room()
    joined = await asyncio.gather(
        *(
            join_pages(server, path, list(tokens), room.on_frame)
            for server, tokens in zip(servers, shares, strict=True)
        )
    )
    # Interleaved: a phase sends from consecutive pages, so its sends take turns between
    # the servers.
    room.pages = [page for turn in zip(*joined, strict=True) for page in turn]
    if one_poster:
        room.senders = joined[0]
    await settle(servers, room.pages)
    results = []
    try:
        for rate in rates:
            redis_cpu = await _cpu_seconds(redis)
            result = await room.measure(servers, rate, seconds)
            redis_cpu = await _cpu_seconds(redis) - redis_cpu
            delivered = (result.sent - result.refused) * len(room.pages) - result.loss
            _print(name, result, redis_cpu / max(delivered, 1) * 1e6)
            results.append(result)
            await settle(servers, room.pages)
            if not result.healthy and result.loss > result.sent * len(room.pages) / 2:
                break  # past the ceiling: the next rate would only lose more
    finally:
        for page in room.pages:
            page.abort()
    return results


async def _cpu_seconds(redis: Redis) -> float:
    """User and system CPU time of the Redis server so far."""
    cpu = await redis.info("cpu")
    return float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"])


def _print(name: str, result: Result, redis_cpu_us: float) -> None:
    acks = (
        f"{_ms(result.ack_p50)} / {_ms(result.ack_p99)}"
        if result.ack_p50 is not None and result.ack_p99 is not None
        else "-"
    )
    print(
        f"{name:>9} {result.rate:>4} msg/s  accepted {result.sent - result.refused:>5,}"
        f"  refused {result.refused:>4}  loss {result.loss:>6,}  dup {result.duplicates:>3}"
        f"  p50 {result.p50 * 1000:7.1f} ms  p99 {result.p99 * 1000:7.1f} ms"
        f"  {result.deliveries_per_s:>8,.0f} deliveries/s"
        f"  {result.cpu_per_delivery_us:6.1f} µs CPU each, Redis {redis_cpu_us:5.1f} µs"
        f"  ack p50/p99 {acks}"
    )


def _compare(sockets: int, rates: list[int], alone: list[Result], shared: list[Result]) -> None:
    """Rate by rate, what the hop added: two processes on Redis minus one alone."""
    print(
        f"\n{'rate':>10}  {'asks for':>17}  {'p50 alone':>9}  {'Redis':>9}  {'added':>8}"
        f"  {'p99 alone':>9}  {'Redis':>9}  {'added':>8}  with Redis, each message to each"
        " socket once"
    )
    ours, theirs = ({r.rate: r for r in results} for results in (alone, shared))
    for rate in rates:
        asks = f"{rate * sockets:,} deliveries/s"
        one, two = ours.get(rate), theirs.get(rate)
        if one is None or two is None:
            print(f"{rate:>4} msg/s  {asks:>17}  not run by both: past a ceiling")
            continue
        once = (
            "yes"
            if two.loss == 0 and two.duplicates == 0
            else f"no: {two.loss:,} lost, {two.duplicates:,} twice"
        )
        print(
            f"{rate:>4} msg/s  {asks:>17}  {_ms(one.p50):>9}  {_ms(two.p50):>9}"
            f"  {(two.p50 - one.p50) * 1000:+5.1f} ms  {_ms(one.p99):>9}  {_ms(two.p99):>9}"
            f"  {(two.p99 - one.p99) * 1000:+5.1f} ms  {once}"
        )


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


async def main(
    sockets: int, rates: list[int], seconds: float, redis_url: str, post_through: str
) -> None:
    print(prepare())
    redis = Redis.from_url(redis_url)
    try:
        await redis.ping()  # a Redis that does not answer fails here, not a sweep later
        with tempfile.TemporaryDirectory() as folder:
            alone = await _embedded(f"{folder}/embedded", sockets, rates, seconds, redis)
            shared = await _over_redis(
                f"{folder}/redis", sockets, rates, seconds, redis_url, redis, post_through
            )
    finally:
        await redis.aclose()
    _compare(sockets, rates, alone, shared)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sockets", type=int, default=500)
    parser.add_argument("--rates", default=RATES)
    parser.add_argument("--phase-seconds", type=float, default=PHASE_S)
    parser.add_argument("--redis-url", default=REDIS_URL)
    parser.add_argument("--post-through", choices=("both", "one"), default="both")
    arguments = parser.parse_args()
    if arguments.sockets < PROCESSES or arguments.sockets % PROCESSES:
        parser.error(f"--sockets must be a multiple of {PROCESSES}: as many on each process")
    rates = [int(rate) for rate in arguments.rates.split(",")]
    asyncio.run(
        main(
            arguments.sockets,
            rates,
            arguments.phase_seconds,
            arguments.redis_url,
            arguments.post_through,
        )
    )
