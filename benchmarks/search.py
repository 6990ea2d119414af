"""How fast is search as you type over a million messages?

Builds (once, then reuses) a database of 1,000,000 messages in 200 rooms, written by 2,000
people from a vocabulary with a realistic long tail, then times ``search_messages``, the
code path the search page uses, for a set of typical as-you-type queries: prefixes of one
to four letters grown into words, two-word queries and a phrase. Reports p50, p95 and p99
latency per query kind.

    .venv/bin/python benchmarks/search.py [--messages 1000000] [--database PATH]

The process is pinned to one core where the platform allows it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sqlite3
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from livechat import schema
from livechat.accounts.models import User
from livechat.chat.search import search_messages
from livechat.db import Database

ROOMS = 200
PEOPLE = 2_000
MEMBERS_PER_ROOM = 40
BATCH = 20_000
SEED = 20261124

# Zipf-like vocabulary: a few very common words, many rare ones.
COMMON = "the a to and of is in it you that for on we this with be are have not can".split()
TOPICS = (
    "deploy release build review merge branch test flaky pipeline staging production "
    "database migration index search query latency cache redis queue worker socket "
    "design mockup palette font layout button modal sidebar dashboard report invoice "
    "customer support ticket refund meeting standup roadmap quarter budget hiring "
    "café résumé naïve coördinate façade piñata jalapeño crème brûlée déjà"
).split()


def _words(rng: random.Random) -> str:
    size = rng.randint(4, 24)
    words = []
    for _ in range(size):
        roll = rng.random()
        if roll < 0.55:
            words.append(rng.choice(COMMON))
        elif roll < 0.85:
            words.append(rng.choice(TOPICS))
        else:
            words.append(
                "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 9)))
            )
    return " ".join(words)


def build(path: Path, messages: int) -> None:
    url = f"sqlite+aiosqlite:///{path}"
    schema.upgrade(url)
    rng = random.Random(SEED)
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA synchronous = OFF")
    now = datetime.now(UTC).replace(tzinfo=None)
    with connection:
        connection.executemany(
            "INSERT INTO users (id, email, hashed_password, is_active, is_superuser,"
            " is_verified, display_name, inserted_at) VALUES (?, ?, 'x', 1, 0, 1, ?, ?)",
            ((i, f"user{i}@example.com", f"User {i}", now) for i in range(1, PEOPLE + 1)),
        )
        connection.executemany(
            "INSERT INTO rooms (id, name, slug, description, creator_id, is_private,"
            " last_seq, inserted_at, updated_at) VALUES (?, ?, ?, '', 1, ?, ?, ?, ?)",
            (
                (r, f"Room {r}", f"room-{r}", r % 4 == 0, messages // ROOMS, now, now)
                for r in range(1, ROOMS + 1)
            ),
        )
        connection.executemany(
            "INSERT OR IGNORE INTO memberships (user_id, room_id, role, joined_at)"
            " VALUES (?, ?, 'member', ?)",
            (
                (rng.randint(1, PEOPLE), r, now)
                for r in range(1, ROOMS + 1)
                for _ in range(MEMBERS_PER_ROOM)
            ),
        )
    start = now - timedelta(days=365)
    for offset in range(0, messages, BATCH):
        rows = []
        for number in range(offset, min(offset + BATCH, messages)):
            room = number % ROOMS + 1
            rows.append(
                (
                    room,
                    rng.randint(1, PEOPLE),
                    _words(rng),
                    number // ROOMS + 1,
                    start + timedelta(seconds=number * 30),
                )
            )
        with connection:
            connection.executemany(
                "INSERT INTO messages (room_id, user_id, body, seq, inserted_at)"
                " VALUES (?, ?, ?, ?, ?)",
                rows,
            )
        print(f"  {min(offset + BATCH, messages):,} messages", end="\r", flush=True)
    connection.execute("INSERT INTO messages_fts(messages_fts) VALUES ('optimize')")
    connection.commit()
    connection.close()
    print()


def queries(rng: random.Random) -> dict[str, list[str]]:
    words = [w for w in TOPICS if len(w) >= 5]
    typed = [word[:length] for word in rng.sample(words, 20) for length in (2, 3, 4, len(word))]
    pairs = [f"{rng.choice(TOPICS)} {rng.choice(words)[:3]}" for _ in range(40)]
    phrases = [f'"{rng.choice(TOPICS)} {rng.choice(COMMON)}"' for _ in range(20)]
    return {"as-you-type prefix": typed, "two words": pairs, "phrase": phrases}


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def measure(path: Path, rounds: int) -> None:
    db = Database(f"sqlite+aiosqlite:///{path}")
    reader = User(id=1, email="user1@example.com", display_name="User 1", hashed_password="x")
    rng = random.Random(SEED)
    try:
        await search_messages(db, reader, "warm")  # open the pool, load the index
        for kind, texts in queries(rng).items():
            samples = []
            for _ in range(rounds):
                for text in texts:
                    started = time.perf_counter()
                    await search_messages(db, reader, text)
                    samples.append((time.perf_counter() - started) * 1000)
            print(
                f"{kind:>20}: n={len(samples):>5}"
                f"  p50={percentile(samples, 0.50):6.1f} ms"
                f"  p95={percentile(samples, 0.95):6.1f} ms"
                f"  p99={percentile(samples, 0.99):6.1f} ms"
            )
    finally:
        await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    default_database = Path(tempfile.gettempdir()) / "livechat-bench.db"
    parser.add_argument("--database", type=Path, default=default_database)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    if not args.database.exists():
        print(f"building {args.database} with {args.messages:,} messages…")
        started = time.perf_counter()
        build(args.database, args.messages)
        print(f"built in {time.perf_counter() - started:.0f} s")
    asyncio.run(measure(args.database, args.rounds))


if __name__ == "__main__":
    main()
