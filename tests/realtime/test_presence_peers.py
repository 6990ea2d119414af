"""Presence across processes: what each process's connections put in a room reaches the
Presence of every other process sharing the Redis, which shows them as its own pages'
would be, and takes them out when their process stops or falls silent."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from livechat.realtime.presence import Person, Presence, PresenceChange, Sidebar
from livechat.realtime.presence_peers import PresencePeers
from tests.helpers import eventually
from tests.realtime.conftest import Background

ROOM = 7
ALICE = Person(1, "Alice Martin", "/avatars/alice.png")
BOB = Person(2, "Bob Okafor")
TICK_S = 0.02


@dataclass
class Process:
    """One server process's presence: its actor, its link to the others, and the changes
    its pages were told."""

    presence: Presence
    peers: PresencePeers
    changes: list[PresenceChange]
    link: asyncio.Task[None]

    async def sidebar(self) -> Sidebar:
        return await self.presence.online(ROOM)

    async def shows(self, *people: Person) -> bool:
        sidebar = await self.sidebar()
        return sidebar.shown == people and sidebar.count == len(people)

    async def typers(self) -> tuple[Person, ...]:
        return (await self.sidebar()).typers


Start = Callable[..., Awaitable[Process]]


@pytest.fixture
def start(redis_url: str, background: Background) -> Start:
    prefix = f"test-{uuid.uuid4().hex}"

    async def start(**options: Any) -> Process:
        changes: list[PresenceChange] = []

        async def notify(change: PresenceChange) -> None:
            changes.append(change)

        peers = PresencePeers(redis_url, prefix=prefix, **options)
        presence = Presence(notify, tick_seconds=TICK_S, tell_peers=peers.tell)
        background.start(presence.run())
        return Process(presence, peers, changes, background.start(peers.run(presence)))

    return start


async def until(condition: Callable[[], Awaitable[bool]]) -> None:
    await eventually(condition, timeout_s=5.0)


async def stop(process: Process) -> None:
    process.link.cancel()
    with pytest.raises(asyncio.CancelledError):
        await process.link


async def test_a_person_connected_through_one_process_shows_on_another(start: Start) -> None:
    here, there = await start(), await start()

    here.presence.track(ROOM, ALICE, "tab-1", public=True)

    await until(lambda: there.shows(ALICE))
    assert there.presence.online_count(ROOM) == 1


async def test_two_tabs_on_two_processes_are_one_person_until_both_close(start: Start) -> None:
    here, there = await start(), await start()
    here.presence.track(ROOM, ALICE, "tab-1", public=False)
    there.presence.track(ROOM, ALICE, "tab-2", public=False)
    await until(lambda: here.shows(ALICE))
    await until(lambda: there.shows(ALICE))

    here.presence.untrack("tab-1")
    there.presence.track(ROOM, BOB, "tab-3", public=False)
    await until(lambda: here.shows(ALICE, BOB))
    assert await there.shows(ALICE, BOB)

    there.presence.untrack("tab-2")
    await until(lambda: here.shows(BOB))
    await until(lambda: there.shows(BOB))


async def test_an_arrival_elsewhere_reaches_pages_as_one_entry_not_the_list(start: Start) -> None:
    here, there = await start(), await start()
    there.presence.track(ROOM, ALICE, "tab-1", public=False)
    await until(lambda: here.shows(ALICE))
    told = len(here.changes)

    there.presence.track(ROOM, BOB, "tab-2", public=False)

    await until(lambda: here.shows(ALICE, BOB))
    [change] = here.changes[told:]
    assert change.joined == (BOB,)
    assert change.sidebar is None


async def test_typing_through_one_process_shows_on_another_until_it_stops(start: Start) -> None:
    here, there = await start(), await start()
    here.presence.track(ROOM, ALICE, "tab-1", public=False)
    await until(lambda: there.shows(ALICE))

    here.presence.typing(ROOM, ALICE.id)
    await until(lambda: _is(there.typers(), (ALICE,)))

    here.presence.stopped_typing(ROOM, ALICE.id)
    await until(lambda: _is(there.typers(), ()))


async def test_a_new_name_shows_on_every_process(start: Start) -> None:
    here, there = await start(), await start()
    here.presence.track(ROOM, ALICE, "tab-1", public=False)
    await until(lambda: there.shows(ALICE))
    renamed = Person(ALICE.id, "Alice M.", None)

    there.presence.changed(renamed)

    await until(lambda: there.shows(renamed))
    await until(lambda: here.shows(renamed))


async def test_a_process_that_starts_later_learns_who_is_already_there(start: Start) -> None:
    first = await start()
    first.presence.track(ROOM, ALICE, "tab-1", public=False)
    await until(lambda: first.shows(ALICE))

    later = await start()

    await until(lambda: later.shows(ALICE))


async def test_a_process_that_missed_changes_catches_up_from_the_others_state(
    start: Start,
) -> None:
    here, there = await start(), await start()
    here.presence.track(ROOM, ALICE, "tab-1", public=False)
    await until(lambda: there.shows(ALICE))
    await stop(there)  # cut off from Redis, as a lost connection would

    here.presence.track(ROOM, BOB, "tab-2", public=False)
    here.presence.untrack("tab-1")
    await until(lambda: here.shows(BOB))
    there.link = asyncio.create_task(there.peers.run(there.presence))

    try:
        await until(lambda: there.shows(BOB))
    finally:
        await stop(there)


async def test_more_changes_than_the_queue_holds_go_as_the_whole_state(start: Start) -> None:
    crowded, there = await start(queue_size=2), await start()
    await until(lambda: there.shows())
    people = [Person(id_, f"Person {id_}") for id_ in range(10, 20)]

    for person in people:
        crowded.presence.track(ROOM, person, f"tab-{person.id}", public=False)
    crowded.presence.untrack("tab-10")

    await until(lambda: _is(_ids(there.sidebar()), {person.id for person in people[1:]}))


async def test_a_process_that_stops_cleanly_takes_its_people_out_at_once(start: Start) -> None:
    here, there = await start(expiry_s=60.0), await start(expiry_s=60.0)
    here.presence.track(ROOM, ALICE, "tab-1", public=False)
    there.presence.track(ROOM, BOB, "tab-2", public=False)
    await until(lambda: there.shows(BOB, ALICE))

    await stop(here)

    await until(lambda: there.shows(BOB))


async def test_a_process_not_heard_from_for_the_expiry_is_taken_out(start: Start) -> None:
    # One that never beats is, to the other, a process killed after it said who it had.
    silent = await start(heartbeat_s=3600.0)
    listening = await start(heartbeat_s=0.05, expiry_s=0.3)
    silent.presence.track(ROOM, ALICE, "tab-1", public=False)
    await until(lambda: listening.shows(ALICE))

    await until(lambda: listening.shows())
    assert listening.changes[-1].left == (ALICE,)


async def _ids(sidebar: Awaitable[Sidebar]) -> set[int]:
    return {person.id for person in (await sidebar).shown}


async def _is(actual: Awaitable[object], expected: object) -> bool:
    return await actual == expected
