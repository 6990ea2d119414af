"""Events as the pages see them: each event this process receives becomes HTML once, from
the same partials the pages use, for every page it reaches here.

The room servers and services publish events, never HTML (``realtime/events.py``), so
rendering is no part of posting a message: it happens here, as the hub hands a broadcast
to its first page. Fragments are shared by every viewer: per-viewer looks (one's own
messages, one's own typing, admin controls) come from ``/me.css`` and page classes.
"""

from __future__ import annotations

import dataclasses
import functools
from collections import OrderedDict
from typing import Any

from livechat.chat.messages import Changes, Cursor, Page
from livechat.chat.rooms import RoomSummary
from livechat.realtime.events import (
    AlertsChanged,
    DirectListed,
    Event,
    MembersCounted,
    MessageChanged,
    MessageCreated,
    MessagePosted,
    Notified,
    OnlineCounted,
    PersonChanged,
    PresenceChanged,
    RoomChanged,
    RoomClosed,
    RoomJoined,
    RoomListed,
    RoomReached,
    RoomRestarting,
    RoomUnlisted,
    SignedOut,
)
from livechat.realtime.hub import Broadcast
from livechat.realtime.presence import Sidebar
from livechat.web.templating import message_fragments, templates


def render(name: str, **context: Any) -> str:
    return templates.get_template(name).render(**context)


# The broadcasts rendered last: the hub hands one to every page of its topic in turn.
_RENDERED_KEPT = 64
_rendered: OrderedDict[int, tuple[Broadcast, Broadcast]] = OrderedDict()


def rendered(broadcast: Broadcast) -> Broadcast:
    """``broadcast`` with its event's HTML: rendered for the first page it reaches, and the
    same object for every other, which the socket layer then encodes once for all."""
    if broadcast.event is None or broadcast.html:
        return broadcast
    kept = _rendered.get(id(broadcast))
    # Kept with its broadcast, so that the id cannot name a later one meanwhile.
    if kept is not None and kept[0] is broadcast:
        return kept[1]
    shown = dataclasses.replace(broadcast, html=html(broadcast.event))
    _rendered[id(broadcast)] = (broadcast, shown)
    if len(_rendered) > _RENDERED_KEPT:
        _rendered.popitem(last=False)
    return shown


def html(event: Event) -> str:
    """What ``event`` changes on the pages that hear it."""
    match event:
        case MessageCreated(message):
            fragment = message_fragments.html(message)
            return render("broadcasts/message_created.html", html=fragment, message=message)
        case MessageChanged(message):
            # A tombstone needs no fragment: the page removes the message.
            changed = None if message.is_deleted else message_fragments.html(message, oob=True)
            return render("broadcasts/message_changed.html", html=changed, message=message)
        case MessagePosted() | RoomReached() | RoomJoined() | Notified():
            return ""  # counted, or acted on, by the socket or the webhooks; nothing to show
        case PresenceChanged(change):
            return render("broadcasts/presence.html", change=change)
        case AlertsChanged(alerts):
            return render("broadcasts/alerts.html", alerts=alerts)
        case PersonChanged(person):
            return render("broadcasts/person_changed.html", person=person)
        case RoomChanged(room, renamed):
            return render("broadcasts/room_changed.html", room=room, renamed=renamed)
        case RoomClosed(_, reason):
            return render("broadcasts/room_closed.html", reason=reason)
        case RoomRestarting():
            return render("broadcasts/room_restarting.html")
        case SignedOut(reason):
            return render("broadcasts/socket_refused.html", reason=reason)
        case RoomListed(room):
            return render("broadcasts/lobby_room_created.html", room=room)
        case DirectListed(room, partner):
            return render("broadcasts/lobby_direct_created.html", room=room, partner=partner)
        case MembersCounted(room, member_count):
            return render(
                "broadcasts/lobby_room_changed.html", room=room, member_count=member_count
            )
        case RoomUnlisted(room):
            return render("broadcasts/lobby_room_deleted.html", room=room)
        case OnlineCounted(room_id, count):
            return render("partials/room_online.html", room_id=room_id, online=count, oob=True)


def room_unread(counts: dict[int, int]) -> str:
    """The unread badges of rooms in a room list, by room id."""
    return render("broadcasts/room_unread.html", counts=counts.items())


def room_alerts(counts: dict[int, int]) -> str:
    """The mention badges of rooms in a room list, by room id."""
    return render("broadcasts/room_alerts.html", counts=counts.items())


def title(title: str, alerts: int) -> str:
    """A page's tab title, counting its reader's unread notifications."""
    return render("broadcasts/title.html", title=title, alerts=alerts)


def replay(changes: Changes, known: Cursor) -> str:
    """Bring a page from ``known`` up to ``changes.cursor`` with the fewest swaps: messages
    new to it are appended in order, others replaced or removed where it shows them."""
    new = sorted(
        (m for m in changes.messages if m.id > known.last_id and not m.is_deleted),
        key=lambda m: m.id,
    )
    changed = [m for m in changes.messages if m.id <= known.last_id]
    return render(
        "broadcasts/replay.html",
        new=[message_fragments.html(m) for m in new],
        changed=[(m, "" if m.is_deleted else message_fragments.html(m, oob=True)) for m in changed],
        cursor=changes.cursor,
    )


def reload_list(room: RoomSummary, page: Page) -> str:
    """For a page too far behind to replay: its whole message list, anew."""
    return render(
        "broadcasts/reload_list.html",
        room=room,
        window=page.window,
        cursor=page.cursor,
    )


# Sidebars rendered lately: every page that connects between two of Presence's ticks is
# sent the same one, and a reconnect storm brings a whole room within a few ticks.
SIDEBARS_KEPT = 64


@functools.lru_cache(maxsize=SIDEBARS_KEPT)
def presence_snapshot(sidebar: Sidebar) -> str:
    """The whole sidebar, for a page that just (re)connected and may have missed changes:
    rendered once for every page sent the same, as it costs far more than its lookup. The
    whole sidebar is the key, not its version, which an empty room's shares with
    another room's change."""
    return render("broadcasts/presence_snapshot.html", sidebar=sidebar)
