"""Messages as each reader sees them: in their time zone, with a divider where a day
begins, and one person's run of messages shown as one group."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from livechat import time_zones
from livechat.accounts.models import User
from livechat.chat.messages import Stamp
from livechat.chat.models import Message
from livechat.realtime.hub import Broadcast
from livechat.web.fragments import MessageFragments
from livechat.web.templating import templates
from livechat.web.timeline import Reader, as_read, flow, reader_zone

PARIS = ZoneInfo("Europe/Paris")
TOKYO = ZoneInfo("Asia/Tokyo")
EVENING = datetime(2026, 12, 3, 21, 30, tzinfo=UTC)  # 22:30 in Paris, the next day in Tokyo
ALICE = User(id=7, display_name="Alice Martin", avatar_url=None)
BOB = User(id=8, display_name="Bob Okafor", avatar_url=None)


def fragment(message_id: int, at: datetime, author: User = ALICE, body: str = "hi") -> str:
    message = Message(
        id=message_id,
        room_id=1,
        user_id=author.id,
        body=body,
        seq=message_id,
        inserted_at=at,
        author=author,
        attachments=[],
    )
    return str(MessageFragments(templates.env).html(message))


def edited(message_id: int, at: datetime) -> str:
    return fragment(message_id, at).replace(
        f'data-at="{at.isoformat()}">', f'data-at="{at.isoformat()}" hx-swap-oob="innerHTML">'
    )


def dividers(html: str) -> list[str]:
    return re.findall(r'<h2 class="day-divider" id="day-([\d-]+)">', html)


def continued(html: str) -> list[int]:
    return [
        int(n) for n in re.findall(r'id="message-(\d+)" class="message message-continued"', html)
    ]


def clocks(html: str) -> list[str]:
    return re.findall(r'data-shows="clock" title="[^"]*">([^<]*)</time>', html)


def test_times_are_shown_in_the_readers_zone_and_named_in_the_title() -> None:

    html = flow(fragment(1, EVENING), Reader(PARIS))

    assert clocks(html) == ["22:30"]
    assert 'datetime="2026-12-03T21:30:00+00:00"' in html
    assert 'title="Thursday 3 December 2026, 22:30 CET"' in html


def test_a_day_begins_where_the_reader_says_it_does() -> None:
    messages = fragment(1, EVENING - timedelta(hours=12)) + fragment(2, EVENING)

    in_utc = flow(messages, Reader())
    in_tokyo = flow(messages, Reader(TOKYO))

    assert dividers(in_utc) == ["2026-12-03"]
    assert dividers(in_tokyo) == ["2026-12-03", "2026-12-04"]
    assert "Friday 4 December 2026" in in_tokyo


def test_one_persons_messages_within_five_minutes_are_one_run() -> None:
    html = (
        fragment(1, EVENING)
        + fragment(2, EVENING + timedelta(minutes=4))
        + fragment(3, EVENING + timedelta(minutes=10))
        + fragment(4, EVENING + timedelta(minutes=11), author=BOB)
        + fragment(5, EVENING + timedelta(minutes=12))
    )

    assert continued(flow(html, Reader())) == [2]


def test_a_list_continues_from_where_the_readers_list_ends() -> None:
    reader = Reader(last=Stamp(ALICE.id, EVENING))

    html = flow(fragment(2, EVENING + timedelta(minutes=1)), reader)

    assert dividers(html) == []
    assert continued(html) == [2]
    assert reader.last == Stamp(ALICE.id, EVENING + timedelta(minutes=1))


def test_a_run_does_not_cross_midnight() -> None:
    reader = Reader(last=Stamp(ALICE.id, datetime(2026, 12, 3, 23, 59, tzinfo=UTC)))

    html = flow(fragment(2, datetime(2026, 12, 4, 0, 1, tzinfo=UTC)), reader)

    assert dividers(html) == ["2026-12-04"]
    assert continued(html) == []


def test_an_edit_swapped_in_place_is_localized_but_never_starts_a_day_or_joins_a_run() -> None:
    reader = Reader(PARIS, last=Stamp(ALICE.id, EVENING - timedelta(days=2)))

    html = flow(edited(1, EVENING), reader)

    assert clocks(html) == ["22:30"]
    assert dividers(html) == []
    assert reader.last == Stamp(ALICE.id, EVENING - timedelta(days=2))


def test_a_list_sent_anew_starts_its_days_and_runs_from_nothing() -> None:
    reader = Reader(last=Stamp(ALICE.id, EVENING))
    anew = '<div id="messages" class="messages" hx-swap-oob="outerHTML">' + fragment(2, EVENING)

    assert dividers(flow(anew + "</div>", reader)) == ["2026-12-03"]


@pytest.mark.parametrize(
    "body",
    [
        '<time datetime="2026-12-03T21:30:00+00:00" data-shows="clock" title="">99:99</time>',
        '<article id="message-9" class="message" data-author-id="8" data-at="2020-01-01T00:00:00">',
    ],
)
def test_text_that_looks_like_our_markup_is_shown_as_typed(body: str) -> None:
    html = flow(fragment(1, EVENING, body=body), Reader(PARIS))

    assert "99:99" not in clocks(html)
    assert dividers(html) == ["2026-12-03"]
    assert "&lt;" in html


def test_readers_in_one_zone_whose_lists_end_alike_share_one_copy_of_an_event() -> None:
    event = Broadcast(html=fragment(5, EVENING), seq=5, message_id=5)
    last = Stamp(BOB.id, EVENING - timedelta(minutes=1))
    first, second = Reader(PARIS, last), Reader(PARIS, last)

    shown = as_read(event, first)

    assert as_read(event, second) is shown
    assert second.last == first.last == Stamp(ALICE.id, EVENING)
    assert as_read(event, Reader(TOKYO, last)) is not shown
    assert as_read(event, Reader(UTC, last)) is event  # nothing to change: the event itself


def test_the_profiles_zone_comes_before_the_browsers_and_nonsense_is_utc() -> None:
    traveller = User(id=1, display_name="T", time_zone="Asia/Tokyo")
    homebody = User(id=2, display_name="H", time_zone=None)

    assert reader_zone(traveller, {"tz": "Europe/Paris"}) is TOKYO
    assert reader_zone(homebody, {"tz": "Europe/Paris"}) is PARIS
    assert reader_zone(homebody, {"tz": "../../etc/passwd"}) is UTC
    assert reader_zone(None, {}) is UTC


def test_zones_named_in_cookies_that_do_not_exist_are_not_kept() -> None:
    kept = time_zones._zone.cache_info().currsize

    for number in range(1000):
        assert reader_zone(None, {"tz": f"Nowhere/{number}"}) is UTC

    assert time_zones._zone.cache_info().currsize == kept
