"""Shared replays: pages behind by the same events share one reading while it runs."""

from __future__ import annotations

import asyncio

import pytest

from livechat.chat.messages import Cursor
from livechat.chat.models import Room
from livechat.web.replays import Replay, SharedReplays

ROOM = Room(id=1, name="General", slug="general")
OTHER_ROOM = Room(id=2, name="Random", slug="random")
BEHIND = Cursor(seq=4, last_id=9)


class Reading:
    """A replay read from the store that finishes when the test says so; counts readings."""

    def __init__(self) -> None:
        self.count = 0
        self.release = asyncio.Event()

    async def __call__(self) -> Replay:
        self.count += 1
        await self.release.wait()
        return f"<p>replay {self.count}</p>", Cursor(seq=5, last_id=10)


async def test_pages_asking_at_once_for_the_same_replay_share_one_reading() -> None:
    replays, read = SharedReplays(), Reading()
    asking = [asyncio.create_task(replays.replay(ROOM.id, BEHIND, read)) for _ in range(10)]
    await asyncio.sleep(0)

    read.release.set()
    answers = await asyncio.gather(*asking)

    assert read.count == 1
    assert set(answers) == {("<p>replay 1</p>", Cursor(seq=5, last_id=10))}


async def test_a_replay_is_never_kept_once_read() -> None:
    replays, read = SharedReplays(), Reading()
    read.release.set()

    await replays.replay(ROOM.id, BEHIND, read)
    again = await replays.replay(ROOM.id, BEHIND, read)

    assert read.count == 2  # the room may have moved on since the first reading
    assert again[0] == "<p>replay 2</p>"


@pytest.mark.parametrize(("room", "cursor"), [(OTHER_ROOM, BEHIND), (ROOM, Cursor(3, 9))])
async def test_another_room_or_cursor_gets_a_reading_of_its_own(room: Room, cursor: Cursor) -> None:
    replays, read = SharedReplays(), Reading()
    first = asyncio.create_task(replays.replay(ROOM.id, BEHIND, read))
    second = asyncio.create_task(replays.replay(room.id, cursor, read))
    await asyncio.sleep(0)

    read.release.set()
    await asyncio.gather(first, second)

    assert read.count == 2


async def test_a_page_that_closes_while_waiting_does_not_cancel_the_reading_of_others() -> None:
    replays, read = SharedReplays(), Reading()
    leaving = asyncio.create_task(replays.replay(ROOM.id, BEHIND, read))
    staying = asyncio.create_task(replays.replay(ROOM.id, BEHIND, read))
    await asyncio.sleep(0)

    leaving.cancel()
    with pytest.raises(asyncio.CancelledError):
        await leaving
    read.release.set()

    assert (await staying)[0] == "<p>replay 1</p>"
    assert read.count == 1


async def test_a_failed_reading_fails_every_page_that_shared_it_and_is_not_kept() -> None:
    replays = SharedReplays()

    async def broken() -> Replay:
        await asyncio.sleep(0)
        raise OSError("disk gone")

    asking = [asyncio.create_task(replays.replay(ROOM.id, BEHIND, broken)) for _ in range(3)]
    outcomes = await asyncio.gather(*asking, return_exceptions=True)

    assert all(isinstance(outcome, OSError) for outcome in outcomes)
    read = Reading()
    read.release.set()
    assert (await replays.replay(ROOM.id, BEHIND, read))[0] == "<p>replay 1</p>"
