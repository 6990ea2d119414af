"""Presence: who is connected to a room (people, not connections) and who is typing,
reported as PresenceChanges when something a page shows changes."""

from __future__ import annotations

import pytest

from livechat.realtime.actor import Tick
from livechat.realtime.presence import (
    Person,
    Presence,
    PresenceChange,
    StoppedTyping,
    Typing,
)
from tests.realtime.conftest import Background, FakeClock

ROOM, OTHER_ROOM = 7, 8
ALICE = Person(1, "Alice Martin", "/avatars/alice.png")
BOB = Person(2, "Bob Okafor")
CAROL = Person(3, "Carol Nguyen")


class Changes(list[PresenceChange]):
    """The notify callback: keeps every change, in order."""

    async def __call__(self, change: PresenceChange) -> None:
        self.append(change)


@pytest.fixture
def changes() -> Changes:
    return Changes()


@pytest.fixture
async def presence(background: Background, changes: Changes, clock: FakeClock) -> Presence:
    presence = Presence(changes, tick_seconds=None, clock=clock)  # the test sends every Tick
    background.start(presence.run())
    return presence


async def arrive(presence: Presence, person: Person, connection: str, room: int = ROOM) -> None:
    presence.track(room, person, connection)
    await presence.online(room)  # answered once the arrival before it has been handled


async def leave(presence: Presence, connection: str, room: int = ROOM) -> None:
    presence.untrack(room, connection)
    await presence.online(room)


async def expire_typing(presence: Presence) -> None:
    presence.cast(Tick())
    await presence.online(ROOM)  # answered once the tick before it has been handled


async def test_a_first_connection_announces_the_arrival_with_who_is_online(
    presence: Presence, changes: Changes
) -> None:
    await arrive(presence, ALICE, "alice-1")
    await arrive(presence, BOB, "bob-1")

    assert changes == [
        PresenceChange(ROOM, joined=(ALICE,), online=(ALICE,)),
        PresenceChange(ROOM, joined=(BOB,), online=(ALICE, BOB)),
    ]


async def test_a_second_connection_of_the_same_person_is_not_a_second_arrival(
    presence: Presence, changes: Changes
) -> None:
    await arrive(presence, ALICE, "alice-tab-1")
    await arrive(presence, ALICE, "alice-tab-2")

    assert changes == [PresenceChange(ROOM, joined=(ALICE,), online=(ALICE,))]
    assert await presence.online(ROOM) == [ALICE]
    assert presence.online_count(ROOM) == 1


async def test_closing_one_of_two_connections_keeps_the_person_online(
    presence: Presence, changes: Changes
) -> None:
    await arrive(presence, ALICE, "alice-tab-1")
    await arrive(presence, ALICE, "alice-tab-2")

    await leave(presence, "alice-tab-1")

    assert len(changes) == 1  # the arrival only
    assert await presence.online(ROOM) == [ALICE]


async def test_closing_the_last_connection_announces_the_departure(
    presence: Presence, changes: Changes
) -> None:
    await arrive(presence, ALICE, "alice-tab-1")
    await arrive(presence, ALICE, "alice-tab-2")
    await arrive(presence, BOB, "bob-1")

    await leave(presence, "alice-tab-1")
    await leave(presence, "alice-tab-2")

    assert changes[-1] == PresenceChange(ROOM, left=(ALICE,), online=(BOB,))
    assert await presence.online(ROOM) == [BOB]


async def test_the_last_person_leaving_empties_the_room(
    presence: Presence, changes: Changes
) -> None:
    await arrive(presence, ALICE, "alice-1")

    await leave(presence, "alice-1")

    assert changes[-1] == PresenceChange(ROOM, left=(ALICE,), online=())
    assert await presence.online(ROOM) == []
    assert presence.online_count(ROOM) == 0


async def test_closing_an_unknown_connection_changes_nothing(
    presence: Presence, changes: Changes
) -> None:
    await arrive(presence, ALICE, "alice-1")

    await leave(presence, "never-tracked")
    await leave(presence, "alice-1", OTHER_ROOM)

    assert len(changes) == 1
    assert await presence.online(ROOM) == [ALICE]


async def test_online_lists_people_in_the_order_they_arrived(presence: Presence) -> None:
    await arrive(presence, BOB, "bob-1")
    await arrive(presence, ALICE, "alice-1")
    await arrive(presence, CAROL, "carol-1")
    assert await presence.online(ROOM) == [BOB, ALICE, CAROL]

    await leave(presence, "bob-1")
    await arrive(presence, BOB, "bob-2")

    assert await presence.online(ROOM) == [ALICE, CAROL, BOB]  # back, so last to arrive


async def test_each_room_has_its_own_people(presence: Presence, changes: Changes) -> None:
    await arrive(presence, ALICE, "alice-1", room=ROOM)
    await arrive(presence, BOB, "bob-1", room=OTHER_ROOM)

    assert await presence.online(ROOM) == [ALICE]
    assert await presence.online(OTHER_ROOM) == [BOB]
    assert changes[-1] == PresenceChange(OTHER_ROOM, joined=(BOB,), online=(BOB,))


async def test_typing_is_announced_once_when_someone_starts_not_at_every_keystroke(
    presence: Presence, changes: Changes, clock: FakeClock
) -> None:
    await arrive(presence, ALICE, "alice-1")
    await arrive(presence, BOB, "bob-1")
    del changes[:]

    for _ in range(3):
        await presence.call(Typing(ROOM, ALICE.id))
        clock.advance(0.5)
    await presence.call(Typing(ROOM, BOB.id))

    assert changes == [
        PresenceChange(ROOM, typing=(ALICE,)),
        PresenceChange(ROOM, typing=(ALICE, BOB)),
    ]


async def test_typing_clears_with_the_first_tick_two_seconds_after_the_last_keystroke(
    presence: Presence, changes: Changes, clock: FakeClock
) -> None:
    await arrive(presence, ALICE, "alice-1")
    await presence.call(Typing(ROOM, ALICE.id))
    del changes[:]

    clock.advance(1.9)
    await expire_typing(presence)
    assert changes == []

    clock.advance(0.1)
    await expire_typing(presence)
    assert changes == [PresenceChange(ROOM, typing=())]


async def test_each_keystroke_restarts_the_typing_timeout(
    presence: Presence, changes: Changes, clock: FakeClock
) -> None:
    await arrive(presence, ALICE, "alice-1")
    await presence.call(Typing(ROOM, ALICE.id))
    clock.advance(1.5)
    await presence.call(Typing(ROOM, ALICE.id))
    del changes[:]

    clock.advance(1.5)  # three seconds after the first keystroke, 1.5 after the last
    await expire_typing(presence)
    assert changes == []

    clock.advance(0.5)
    await expire_typing(presence)
    assert changes == [PresenceChange(ROOM, typing=())]


async def test_a_tick_clears_only_the_typing_that_timed_out(
    presence: Presence, changes: Changes, clock: FakeClock
) -> None:
    await arrive(presence, ALICE, "alice-1")
    await arrive(presence, BOB, "bob-1")
    await presence.call(Typing(ROOM, ALICE.id))
    clock.advance(1.0)
    await presence.call(Typing(ROOM, BOB.id))
    del changes[:]

    clock.advance(1.0)
    await expire_typing(presence)

    assert changes == [PresenceChange(ROOM, typing=(BOB,))]


async def test_stopped_typing_clears_at_once_and_only_when_they_were_typing(
    presence: Presence, changes: Changes
) -> None:
    await arrive(presence, ALICE, "alice-1")
    await arrive(presence, BOB, "bob-1")
    await presence.call(Typing(ROOM, ALICE.id))
    await presence.call(Typing(ROOM, BOB.id))
    del changes[:]

    await presence.call(StoppedTyping(ROOM, ALICE.id))
    await presence.call(StoppedTyping(ROOM, ALICE.id))  # sent the message twice, say

    assert changes == [PresenceChange(ROOM, typing=(BOB,))]


async def test_someone_leaving_while_typing_is_no_longer_shown_typing(
    presence: Presence, changes: Changes
) -> None:
    await arrive(presence, ALICE, "alice-1")
    await arrive(presence, BOB, "bob-1")
    await presence.call(Typing(ROOM, ALICE.id))

    await leave(presence, "alice-1")

    assert changes[-1] == PresenceChange(ROOM, left=(ALICE,), typing=(), online=(BOB,))


async def test_typing_from_someone_who_is_not_in_the_room_is_ignored(
    presence: Presence, changes: Changes, clock: FakeClock
) -> None:
    await arrive(presence, ALICE, "alice-1")
    await arrive(presence, BOB, "bob-1", room=OTHER_ROOM)
    del changes[:]

    await presence.call(Typing(ROOM, BOB.id))  # Bob is in the other room only
    await presence.call(Typing(OTHER_ROOM + 1, ALICE.id))  # nobody is in that room
    clock.advance(5.0)
    await expire_typing(presence)

    assert changes == []


async def test_a_restarted_presence_still_knows_who_is_where_and_resends_every_list(
    background: Background, changes: Changes, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    presence = Presence(changes, tick_seconds=None, clock=clock)
    first_run = background.start(presence.run())
    await arrive(presence, ALICE, "alice-1")
    await arrive(presence, BOB, "bob-1")
    await arrive(presence, CAROL, "carol-1", OTHER_ROOM)
    await presence.call(Typing(ROOM, ALICE.id))

    async def crash(_room_id: int, _user_id: int) -> None:
        raise RuntimeError("a bug in typing")

    monkeypatch.setattr(presence, "_typing", crash)
    with pytest.raises(RuntimeError, match="a bug in typing"):
        await presence.call(Typing(ROOM, BOB.id))
    with pytest.raises(RuntimeError):
        await first_run
    monkeypatch.undo()
    presence.untrack(ROOM, "bob-1")  # while it is down: only the ledger hears of it
    changes.clear()

    background.start(presence.run())  # as its supervisor would

    assert await presence.online(ROOM) == [ALICE]
    assert await presence.online(OTHER_ROOM) == [CAROL]
    assert changes == [
        PresenceChange(ROOM, updated=(ALICE,), typing=(), online=(ALICE,)),
        PresenceChange(OTHER_ROOM, updated=(CAROL,), typing=(), online=(CAROL,)),
    ]
