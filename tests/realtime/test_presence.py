"""Presence: who is connected to a room (people, not connections) and who is typing,
reported with each tick as one PresenceChange of what the room's pages must change."""

from __future__ import annotations

from dataclasses import replace

import pytest

from livechat.realtime import presence as presence_module
from livechat.realtime.actor import ActorBusy, Tick
from livechat.realtime.presence import (
    Gone,
    Here,
    PeerEvent,
    Person,
    Presence,
    PresenceChange,
    PresenceRequest,
    Sidebar,
    StoppedTyping,
    Track,
    Typing,
)
from tests.realtime.conftest import Background, FakeClock

ROOM, OTHER_ROOM = 7, 8
ALICE = Person(1, "Alice Martin", "/avatars/alice.png")
BOB = Person(2, "Bob Okafor")
CAROL = Person(3, "Carol Nguyen")


class Changes(list[PresenceChange]):
    """The notify callback: keeps every change, in order, and their versions apart (the
    test about versions reads them; the others compare what changed)."""

    def __init__(self) -> None:
        super().__init__()
        self.versions: list[int] = []

    async def __call__(self, change: PresenceChange) -> None:
        self.versions.append(change.version)
        self.append(replace(change, version=0, sidebar=_unversioned(change.sidebar)))


def _unversioned(sidebar: Sidebar | None) -> Sidebar | None:
    return None if sidebar is None else replace(sidebar, version=0)


async def told(presence: Presence, room: int = ROOM) -> Sidebar:
    """What a page that connects now is sent, but for its version."""
    return replace(await presence.online(room), version=0)


@pytest.fixture
def changes() -> Changes:
    return Changes()


@pytest.fixture
async def presence(background: Background, changes: Changes, clock: FakeClock) -> Presence:
    presence = Presence(changes, tick_seconds=None, clock=clock)  # the test sends every Tick
    background.start(presence.run())
    return presence


async def arrive(presence: Presence, person: Person, connection: str, room: int = ROOM) -> None:
    presence.track(room, person, connection, public=False)
    await presence.online(room)  # answered once the arrival before it has been handled


async def leave(presence: Presence, connection: str) -> None:
    presence.untrack(connection)
    await presence.online(ROOM)  # answered once the departure before it has been handled


async def tick(presence: Presence) -> None:
    presence.cast(Tick())
    await presence.online(ROOM)  # answered once the tick before it has been handled


async def type_in(presence: Presence, person: Person, room: int = ROOM) -> None:
    await presence.call(Typing(room, person.id))


async def test_arrivals_are_announced_at_the_next_tick_each_with_their_own_entry(
    presence: Presence, changes: Changes
) -> None:
    await arrive(presence, ALICE, "alice-1")
    assert changes == []  # not yet: changes go out with the tick

    await tick(presence)
    await arrive(presence, BOB, "bob-1")
    await tick(presence)

    assert changes == [
        PresenceChange(ROOM, joined=(ALICE,), count=1),
        PresenceChange(ROOM, joined=(BOB,), count=2),
    ]


async def test_a_burst_of_arrivals_between_two_ticks_is_one_change(
    presence: Presence, changes: Changes
) -> None:
    for person, connection in ((ALICE, "alice-1"), (BOB, "bob-1"), (CAROL, "carol-1")):
        await arrive(presence, person, connection)

    await tick(presence)
    await tick(presence)

    assert changes == [PresenceChange(ROOM, joined=(ALICE, BOB, CAROL), count=3)]


async def test_someone_who_comes_and_goes_between_two_ticks_is_never_announced(
    presence: Presence, changes: Changes
) -> None:
    await arrive(presence, ALICE, "alice-1")
    await tick(presence)

    await arrive(presence, BOB, "bob-1")
    await leave(presence, "bob-1")
    await tick(presence)

    assert changes == [PresenceChange(ROOM, joined=(ALICE,), count=1)]


async def test_a_second_connection_of_the_same_person_is_not_a_second_arrival(
    presence: Presence, changes: Changes
) -> None:
    await arrive(presence, ALICE, "alice-tab-1")
    await tick(presence)
    await arrive(presence, ALICE, "alice-tab-2")
    await tick(presence)

    assert changes == [PresenceChange(ROOM, joined=(ALICE,), count=1)]
    assert await told(presence, ROOM) == Sidebar((ALICE,), 1)
    assert presence.online_count(ROOM) == 1


async def test_closing_one_of_two_connections_keeps_the_person_online(
    presence: Presence, changes: Changes
) -> None:
    await arrive(presence, ALICE, "alice-tab-1")
    await arrive(presence, ALICE, "alice-tab-2")
    await tick(presence)

    await leave(presence, "alice-tab-1")
    await tick(presence)

    assert len(changes) == 1  # the arrival only
    assert await told(presence, ROOM) == Sidebar((ALICE,), 1)


async def test_closing_the_last_connection_announces_the_departure(
    presence: Presence, changes: Changes
) -> None:
    await arrive(presence, ALICE, "alice-tab-1")
    await arrive(presence, ALICE, "alice-tab-2")
    await arrive(presence, BOB, "bob-1")
    await tick(presence)

    await leave(presence, "alice-tab-1")
    await leave(presence, "alice-tab-2")
    await tick(presence)

    assert changes[-1] == PresenceChange(ROOM, left=(ALICE,), count=1)
    assert await told(presence, ROOM) == Sidebar((BOB,), 1)


async def test_the_last_person_leaving_empties_the_room(
    presence: Presence, changes: Changes
) -> None:
    await arrive(presence, ALICE, "alice-1")
    await tick(presence)

    await leave(presence, "alice-1")
    await tick(presence)

    assert changes[-1] == PresenceChange(ROOM, left=(ALICE,), count=0)
    assert await told(presence, ROOM) == Sidebar()
    assert presence.online_count(ROOM) == 0


async def test_closing_an_unknown_connection_changes_nothing(
    presence: Presence, changes: Changes
) -> None:
    await arrive(presence, ALICE, "alice-1")
    await tick(presence)

    await leave(presence, "never-tracked")
    await tick(presence)

    assert len(changes) == 1
    assert await told(presence, ROOM) == Sidebar((ALICE,), 1)


async def test_someone_who_left_the_room_is_out_at_once_though_their_pages_are_still_open(
    presence: Presence, changes: Changes
) -> None:
    await arrive(presence, ALICE, "alice-tab-1")
    await arrive(presence, ALICE, "alice-tab-2")
    await arrive(presence, ALICE, "alice-elsewhere", OTHER_ROOM)
    await arrive(presence, BOB, "bob-1")
    await tick(presence)

    presence.left(ROOM, ALICE.id)
    await tick(presence)

    assert presence.online_count(ROOM) == 1
    assert changes[-1] == PresenceChange(ROOM, left=(ALICE,), count=1)
    assert await told(presence, OTHER_ROOM) == Sidebar((ALICE,), 1)  # only that room
    changes.clear()
    await leave(presence, "alice-tab-1")  # her pages' sockets close after all
    await leave(presence, "alice-tab-2")
    await tick(presence)
    assert changes == []


async def test_someone_who_left_is_out_of_what_other_processes_said_and_they_are_told(
    background: Background, changes: Changes, clock: FakeClock
) -> None:
    told_peers: list[PeerEvent] = []
    presence = Presence(changes, tick_seconds=None, clock=clock, tell_peers=told_peers.append)
    background.start(presence.run())
    await arrive(presence, ALICE, "alice-here")
    presence.from_peer("other-process", Here(ROOM, BOB, public=False))
    presence.from_peer("other-process", Here(ROOM, ALICE, public=False))
    await tick(presence)

    presence.left(ROOM, ALICE.id)
    presence.from_peer("other-process", Gone(ROOM, ALICE.id))  # its socket there closed
    await tick(presence)

    assert await told(presence) == Sidebar((BOB,), 1)
    assert told_peers[-1] == Gone(ROOM, ALICE.id)


async def test_online_answers_what_the_pages_were_last_told_so_later_changes_apply_to_it(
    presence: Presence,
) -> None:
    await arrive(presence, ALICE, "alice-1")
    await tick(presence)
    await arrive(presence, BOB, "bob-1")

    assert await told(presence, ROOM) == Sidebar((ALICE,), 1)
    assert presence.online_count(ROOM) == 2  # the room list's count is the live one

    await tick(presence)
    assert await told(presence, ROOM) == Sidebar((ALICE, BOB), 2)


async def test_the_sidebar_lists_people_in_the_order_they_arrived(presence: Presence) -> None:
    await arrive(presence, BOB, "bob-1")
    await arrive(presence, ALICE, "alice-1")
    await arrive(presence, CAROL, "carol-1")
    await tick(presence)
    assert await told(presence, ROOM) == Sidebar((BOB, ALICE, CAROL), 3)

    await leave(presence, "bob-1")
    await tick(presence)
    await arrive(presence, BOB, "bob-2")
    await tick(presence)

    assert await told(presence, ROOM) == Sidebar((ALICE, CAROL, BOB), 3)  # back, so last


async def test_each_room_has_its_own_people(presence: Presence, changes: Changes) -> None:
    await arrive(presence, ALICE, "alice-1", room=ROOM)
    await arrive(presence, BOB, "bob-1", room=OTHER_ROOM)
    await tick(presence)

    assert await told(presence, ROOM) == Sidebar((ALICE,), 1)
    assert await told(presence, OTHER_ROOM) == Sidebar((BOB,), 1)
    assert PresenceChange(OTHER_ROOM, joined=(BOB,), count=1) in changes


async def test_a_crowded_sidebar_shows_the_first_arrivals_and_the_next_takes_a_place_freed(
    presence: Presence, changes: Changes, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(presence_module, "SIDEBAR_LIMIT", 2)
    for person, connection in ((ALICE, "alice-1"), (BOB, "bob-1"), (CAROL, "carol-1")):
        await arrive(presence, person, connection)
    await tick(presence)

    assert changes == [PresenceChange(ROOM, joined=(ALICE, BOB), count=3)]
    assert changes[0].more == 1
    assert await told(presence, ROOM) == Sidebar((ALICE, BOB), 3)

    await leave(presence, "alice-1")
    await tick(presence)

    assert changes[-1] == PresenceChange(ROOM, joined=(CAROL,), left=(ALICE,), count=2)
    assert changes[-1].more == 0


async def test_a_new_name_changes_only_that_persons_entry(
    presence: Presence, changes: Changes
) -> None:
    await arrive(presence, ALICE, "alice-1")
    await arrive(presence, BOB, "bob-1")
    await tick(presence)
    renamed = Person(ALICE.id, "Alice M.", ALICE.avatar_url)

    presence.changed(renamed)
    await tick(presence)

    assert changes[-1] == PresenceChange(ROOM, updated=(renamed,))
    assert await told(presence, ROOM) == Sidebar((renamed, BOB), 2)


async def test_typing_is_announced_once_when_someone_starts_not_at_every_keystroke(
    presence: Presence, changes: Changes, clock: FakeClock
) -> None:
    await arrive(presence, ALICE, "alice-1")
    await arrive(presence, BOB, "bob-1")
    await tick(presence)
    del changes[:]

    for _ in range(3):
        await type_in(presence, ALICE)
        clock.advance(0.5)
        await tick(presence)
    await type_in(presence, BOB)
    await tick(presence)

    assert changes == [
        PresenceChange(ROOM, typing=(ALICE,)),
        PresenceChange(ROOM, typing=(ALICE, BOB)),
    ]


async def test_typing_clears_with_the_first_tick_two_seconds_after_the_last_keystroke(
    presence: Presence, changes: Changes, clock: FakeClock
) -> None:
    await arrive(presence, ALICE, "alice-1")
    await type_in(presence, ALICE)
    await tick(presence)
    del changes[:]

    clock.advance(1.9)
    await tick(presence)
    assert changes == []

    clock.advance(0.1)
    await tick(presence)
    assert changes == [PresenceChange(ROOM, typing=())]


async def test_each_keystroke_restarts_the_typing_timeout(
    presence: Presence, changes: Changes, clock: FakeClock
) -> None:
    await arrive(presence, ALICE, "alice-1")
    await type_in(presence, ALICE)
    clock.advance(1.5)
    await type_in(presence, ALICE)
    await tick(presence)
    del changes[:]

    clock.advance(1.5)  # three seconds after the first keystroke, 1.5 after the last
    await tick(presence)
    assert changes == []

    clock.advance(0.5)
    await tick(presence)
    assert changes == [PresenceChange(ROOM, typing=())]


async def test_a_tick_clears_only_the_typing_that_timed_out(
    presence: Presence, changes: Changes, clock: FakeClock
) -> None:
    await arrive(presence, ALICE, "alice-1")
    await arrive(presence, BOB, "bob-1")
    await type_in(presence, ALICE)
    clock.advance(1.0)
    await type_in(presence, BOB)
    await tick(presence)
    del changes[:]

    clock.advance(1.0)
    await tick(presence)

    assert changes == [PresenceChange(ROOM, typing=(BOB,))]


async def test_stopped_typing_clears_at_the_next_tick_and_only_when_they_were_typing(
    presence: Presence, changes: Changes
) -> None:
    await arrive(presence, ALICE, "alice-1")
    await arrive(presence, BOB, "bob-1")
    await type_in(presence, ALICE)
    await type_in(presence, BOB)
    await tick(presence)
    del changes[:]

    await presence.call(StoppedTyping(ROOM, ALICE.id))
    await presence.call(StoppedTyping(ROOM, ALICE.id))  # sent the message twice, say
    await tick(presence)
    await tick(presence)

    assert changes == [PresenceChange(ROOM, typing=(BOB,))]


async def test_someone_leaving_while_typing_is_no_longer_shown_typing(
    presence: Presence, changes: Changes
) -> None:
    await arrive(presence, ALICE, "alice-1")
    await arrive(presence, BOB, "bob-1")
    await type_in(presence, ALICE)
    await tick(presence)

    await leave(presence, "alice-1")
    await tick(presence)

    assert changes[-1] == PresenceChange(ROOM, left=(ALICE,), count=1, typing=())


async def test_typing_from_someone_who_is_not_in_the_room_is_ignored(
    presence: Presence, changes: Changes, clock: FakeClock
) -> None:
    await arrive(presence, ALICE, "alice-1")
    await arrive(presence, BOB, "bob-1", room=OTHER_ROOM)
    await tick(presence)
    del changes[:]

    await type_in(presence, BOB)  # Bob is in the other room only
    await type_in(presence, ALICE, OTHER_ROOM + 1)  # nobody is in that room
    clock.advance(5.0)
    await tick(presence)

    assert changes == []


async def test_a_restarted_presence_still_knows_who_is_where_and_resends_every_sidebar(
    background: Background, changes: Changes, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    presence = Presence(changes, tick_seconds=None, clock=clock)
    first_run = background.start(presence.run())
    await arrive(presence, ALICE, "alice-1")
    await arrive(presence, BOB, "bob-1")
    await arrive(presence, CAROL, "carol-1", OTHER_ROOM)
    await type_in(presence, ALICE)
    await tick(presence)

    def crash(_room_id: int, _user_id: int) -> None:
        raise RuntimeError("a bug in typing")

    monkeypatch.setattr(presence, "_typing", crash)
    with pytest.raises(RuntimeError, match="a bug in typing"):
        await type_in(presence, BOB)
    with pytest.raises(RuntimeError):
        await first_run
    monkeypatch.undo()
    presence.untrack("bob-1")  # while it is down: only the ledger hears of it
    changes.clear()

    background.start(presence.run())  # as its supervisor would
    await tick(presence)

    assert await told(presence, ROOM) == Sidebar((ALICE,), 1)
    assert await told(presence, OTHER_ROOM) == Sidebar((CAROL,), 1)
    assert changes == [
        PresenceChange(ROOM, count=1, typing=(), sidebar=Sidebar((ALICE,), 1)),
        PresenceChange(OTHER_ROOM, count=1, typing=(), sidebar=Sidebar((CAROL,), 1)),
    ]


async def test_an_arrival_a_full_inbox_could_not_take_is_shown_from_the_ledger_at_the_next_tick(
    presence: Presence, changes: Changes, monkeypatch: pytest.MonkeyPatch
) -> None:
    await arrive(presence, ALICE, "alice-1")
    await tick(presence)
    cast = presence.cast

    def full(request: PresenceRequest | Tick) -> None:
        if isinstance(request, Track):
            raise ActorBusy("presence is overloaded")
        cast(request)

    monkeypatch.setattr(presence, "cast", full)
    presence.track(ROOM, BOB, "bob-1", public=False)  # only the ledger hears of it
    monkeypatch.undo()
    changes.clear()

    await tick(presence)

    assert await told(presence) == Sidebar((ALICE, BOB), 2)
    assert changes == [PresenceChange(ROOM, count=2, typing=(), sidebar=Sidebar((ALICE, BOB), 2))]


async def test_versions_rise_with_every_change_and_a_sidebar_says_which_it_holds(
    presence: Presence, changes: Changes
) -> None:
    await arrive(presence, ALICE, "alice-1")
    await tick(presence)
    await arrive(presence, BOB, "bob-1", OTHER_ROOM)
    await tick(presence)
    await arrive(presence, CAROL, "carol-1")
    await tick(presence)

    assert changes.versions == [1, 2, 3]
    assert (await presence.online(ROOM)).version == 3
    assert (await presence.online(OTHER_ROOM)).version == 2
    # A room no one is in holds every change so far: none of them is news to it.
    assert (await presence.online(OTHER_ROOM + 1)).version == 3


async def telling(
    pages_per_second: int, background: Background, changes: Changes, clock: FakeClock
) -> Presence:
    """A Presence that tells only so many pages a second of its changes, started."""
    presence = Presence(
        changes, tick_seconds=None, clock=clock, pages_told_per_second=pages_per_second
    )
    background.start(presence.run())
    await presence.online(ROOM)  # it has started, and will not take the arrivals for a restart
    return presence


async def test_a_room_too_big_to_tell_at_every_tick_gathers_its_changes_for_longer(
    background: Background, changes: Changes, clock: FakeClock
) -> None:
    # A room of two people hears a change a second at most.
    presence = await telling(2, background, changes, clock)
    await arrive(presence, ALICE, "alice-1")
    await arrive(presence, BOB, "bob-1")
    await tick(presence)

    await arrive(presence, CAROL, "carol-1")
    clock.advance(0.5)
    await tick(presence)
    held = list(changes)
    await leave(presence, "bob-1")
    clock.advance(0.5)
    await tick(presence)

    assert held == [PresenceChange(ROOM, joined=(ALICE, BOB), count=2)]
    assert changes[1:] == [PresenceChange(ROOM, joined=(CAROL,), left=(BOB,))]


async def test_a_room_that_empties_is_told_at_once_however_recently_it_was_told(
    background: Background, changes: Changes, clock: FakeClock
) -> None:
    presence = await telling(1, background, changes, clock)
    await arrive(presence, ALICE, "alice-1")
    await tick(presence)

    await leave(presence, "alice-1")
    await tick(presence)

    assert changes == [
        PresenceChange(ROOM, joined=(ALICE,), count=1),
        PresenceChange(ROOM, left=(ALICE,), count=0),
    ]
