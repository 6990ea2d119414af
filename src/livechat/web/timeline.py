"""Messages as one reader sees them: times in their time zone, a divider where a day
begins, and a run of messages from one person within a few minutes shown as one group.

A message's fragment is rendered once for every reader (see ``fragments``), with its times
in UTC. What depends on the reader is added here, to the HTML on its way out: each
``<time>`` our templates write is rewritten in the reader's zone, and each message that a
list *appends* is compared with the one before it. A page's list is flowed as it renders;
a socket keeps, for its page, where the list ends, so that a message appended live gets
its divider or joins its group as it would have in a page just loaded.

The HTML is our own: templates write these tags in exactly this shape, and user text is
escaped before it gets here, so a message cannot contain a ``<time`` or an ``<article``.
"""

from __future__ import annotations

import dataclasses
import re
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo

from markupsafe import Markup, escape

from livechat.accounts.models import User
from livechat.chat.messages import Stamp
from livechat.realtime.hub import Broadcast
from livechat.time_zones import zone_named

ZONE_COOKIE = "tz"
# How close two messages of one person must be to be shown as one group.
GROUPED_WITHIN = timedelta(minutes=5)

# An appended message's opening tag (partials/message.html); an edit, swapped in place out
# of band, ends ``hx-swap-oob="true">`` and is not appended.
_APPENDED = re.compile(
    r'<article id="message-\d+" class="message" data-author-id="(\d+)" data-at="([^"]+)">'
)
# A page's whole list, sent anew to a page too far behind (broadcasts/reload_list.html).
_LIST_ANEW = '<div id="messages" class="messages"'
# A moment, as templates write one: ``data-shows`` says in what words.
_MOMENT = re.compile(
    r'<time datetime="([^"]+)" data-shows="(clock|day and clock)" title="[^"]*">[^<]*</time>'
)


@dataclass(slots=True)
class Reader:
    """Whose eyes a list is shown to: their time zone, and the message their list ends
    with (None before the first, or when it is not known)."""

    zone: tzinfo = UTC
    last: Stamp | None = None


def reader_zone(user: User | None, cookies: Mapping[str, str]) -> tzinfo:
    """The zone to show ``user`` times in: the one their profile names, or else the one
    their browser reported (``static/app.js`` keeps it in a cookie), or else UTC."""
    name = (user.time_zone if user is not None else None) or cookies.get(ZONE_COOKIE, "")
    return zone_named(name) or UTC


def local_day(moment: datetime, zone: tzinfo) -> date:
    return moment.astimezone(zone).date()


def moment_html(moment: datetime, zone: tzinfo = UTC, shows: str = "clock") -> Markup:
    """A ``<time>`` element for ``moment``, in words for ``zone``: the shape ``flow``
    rewrites for another zone."""
    local = moment.astimezone(zone)
    words = local.strftime("%H:%M") if shows == "clock" else local.strftime("%a %-d %b %Y %H:%M")
    title = local.strftime("%A %-d %B %Y, %H:%M %Z")
    return Markup(  # noqa: S704  (every value is ours, and escaped)
        f'<time datetime="{moment.isoformat()}" data-shows="{shows}" title="{escape(title)}">'
        f"{escape(words)}</time>"
    )


def localize(html: str, zone: tzinfo) -> str:
    """``html`` with every moment in it shown in ``zone``."""
    if zone is UTC:
        return html
    return _MOMENT.sub(lambda found: _moment_in(found, zone), html)


def _moment_in(found: re.Match[str], zone: tzinfo) -> str:
    return str(moment_html(datetime.fromisoformat(found[1]), zone, found[2]))


def flow(html: str, reader: Reader) -> str:
    """``html`` as ``reader`` sees it: the messages it appends after ``reader.last``, each
    with a divider before it where a day begins and marked where it continues a group,
    every moment in the reader's zone; ``reader.last`` moves to the last one appended."""
    zone = reader.zone
    if _LIST_ANEW in html:
        reader.last = None
    parts: list[str] = []
    position = 0
    for found in _APPENDED.finditer(html):
        author_id, at = int(found[1]), datetime.fromisoformat(found[2])
        day = local_day(at, zone)
        last = reader.last
        tag = found[0]
        if last is None or local_day(last.at, zone) != day:
            parts.append(html[position : found.start()])
            parts.append(_divider(day))
            position = found.start()
        elif last.author_id == author_id and at - last.at < GROUPED_WITHIN:
            parts.append(html[position : found.start()])
            parts.append(tag.replace('class="message"', 'class="message message-continued"', 1))
            position = found.end()
        reader.last = Stamp(author_id, at)
    parts.append(html[position:])
    return localize("".join(parts), zone)


# A room event as its pages' readers see it, for the last few events: the pages of a room
# take an event one after another, and readers in one zone whose lists end alike see it
# alike, so they share one copy, which the socket layer then encodes once for all of them.
_SHARED_VARIANTS = 64
_variants: OrderedDict[tuple[int, tzinfo, Stamp | None], tuple[Broadcast, Broadcast, Stamp | None]]
_variants = OrderedDict()


def as_read(event: Broadcast, reader: Reader) -> Broadcast:
    """``event`` as ``reader`` sees it (see ``flow``)."""
    key = (id(event), reader.zone, reader.last)
    kept = _variants.get(key)
    # Kept with its event, so that the id cannot name a later one meanwhile.
    if kept is not None and kept[0] is event:
        reader.last = kept[2]
        return kept[1]
    html = flow(event.html, reader)
    variant = event if html == event.html else dataclasses.replace(event, html=html)
    _variants[key] = (event, variant, reader.last)
    if len(_variants) > _SHARED_VARIANTS:
        _variants.popitem(last=False)
    return variant


def _divider(day: date) -> str:
    # The id lets a page of older messages, which may end on the day a list begins with,
    # take that day's divider to its own place (partials/history.html).
    return (
        f'<h2 class="day-divider" id="day-{day.isoformat()}">'
        f'<time datetime="{day.isoformat()}">{day:%A %-d %B %Y}</time></h2>'
    )
