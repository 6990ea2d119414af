"""What pages are sent of who is online, whichever page asked first."""

from __future__ import annotations

from livechat.realtime.presence import Person, Sidebar
from livechat.web import rendered

ALICE = Person(1, "Alice")
BOB = Person(2, "Bob <the builder>")


def test_two_rooms_at_the_same_version_each_get_their_own_sidebar() -> None:
    # An empty room is answered with the latest version, which another room's change holds.
    busy = rendered.presence_snapshot(Sidebar((ALICE,), count=1, version=7))
    empty = rendered.presence_snapshot(Sidebar(version=7))

    assert "Alice" in busy
    assert "Alice" not in empty
    assert "0 online" in empty


def test_a_sidebar_asked_for_again_is_the_same_and_a_new_name_shows_at_once() -> None:
    sidebar = Sidebar((ALICE, BOB), count=2, version=3)
    renamed = Sidebar((ALICE, Person(2, "Robert")), count=2, version=3)

    assert rendered.presence_snapshot(sidebar) == rendered.presence_snapshot(sidebar)
    assert "Bob &lt;the builder&gt;" in rendered.presence_snapshot(sidebar)
    assert "Robert" in rendered.presence_snapshot(renamed)
