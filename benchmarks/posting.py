"""What does posting a message cost the database writer?

Creates a fresh database migrated to head, with one person in one room, then posts N
messages through ``create_message`` one after another, each under its own key as a page
sends them, in one event loop with nothing else running: the way a RoomServer stores
what its room is sent. A few untimed posts come first, so that statements are compiled
and cached as on a server that has been up for a while.

Reports the CPU time per post (the whole process's, so the driver's thread counts too)
and the statements one more post sent to SQLite, as SQLite's own trace reports them;
what the triggers (the room's sequence, the search index) and FTS5 run inside them is
left out. It posts in several rounds and reports the best and the
median: other work on the machine only ever adds to CPU time, so the best round is the
closest to the cost of posting alone.

    .venv/bin/python benchmarks/posting.py [--posts 2000] [--rounds 5]

To compare with another version of livechat, run it with that version's ``src`` first on
``PYTHONPATH``.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import tempfile
import time

from livechat import schema
from livechat.accounts.models import User
from livechat.chat import messages, rooms
from livechat.db import Database

WARM_UP_POSTS = 50


async def _statements_of_one_post(db: Database, user: User, room_id: int) -> list[str]:
    async with db.write() as session:
        connection = await session.connection()
        writer = (await connection.get_raw_connection()).driver_connection
    assert writer is not None
    traced: list[str] = []
    await writer.set_trace_callback(traced.append)
    try:
        await messages.create_message(db, user, room_id, "one more", secrets.token_hex(16))
    finally:
        await writer.set_trace_callback(None)
    # SQLite reports a statement again as each trigger it fires starts, the trigger's own
    # as comments, and what FTS5 runs on its tables, always naming their schema.
    return [
        statement.split()[0]
        for statement in dict.fromkeys(traced)
        if not statement.startswith("--") and "'main'." not in statement
    ]


async def _person_in_a_room(db: Database) -> tuple[User, int]:
    async with db.write() as session:
        user = User(
            email="poster@example.com",
            display_name="Pat Poster",
            handle="pat_poster",
            hashed_password="-",
        )
        session.add(user)
    room = await rooms.create_room(db, user, name="General")
    return user, room.id


async def _post(db: Database, user: User, room_id: int, keys: list[str]) -> None:
    for n, key in enumerate(keys):
        posted = await messages.create_message(db, user, room_id, f"message {n}", key)
        assert posted.created


async def main(posts: int, rounds: int) -> None:
    cpu_per_post: list[float] = []
    with tempfile.TemporaryDirectory() as folder:
        database_url = f"sqlite+aiosqlite:///{folder}/livechat.db"
        schema.upgrade(database_url)
        db = Database(database_url)
        try:
            user, room_id = await _person_in_a_room(db)
            await _post(db, user, room_id, [secrets.token_hex(16) for _ in range(WARM_UP_POSTS)])
            for _ in range(rounds):
                keys = [secrets.token_hex(16) for _ in range(posts)]
                started = time.process_time()
                await _post(db, user, room_id, keys)
                cpu_per_post.append((time.process_time() - started) / posts)
            statements = await _statements_of_one_post(db, user, room_id)
        finally:
            await db.dispose()
    print(f"{rounds} rounds of {posts} posts, one after another, after {WARM_UP_POSTS} untimed")
    print(f"  CPU per post   best {min(cpu_per_post) * 1000:.3f} ms", end="")
    print(f"   median {statistics.median(cpu_per_post) * 1000:.3f} ms")
    print(f"  statements     {len(statements)}: {', '.join(statements)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.posts, arguments.rounds))
