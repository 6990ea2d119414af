"""How chat events reach open pages: each event becomes one ``Broadcast`` for one topic,
rendered once from the same partials the pages use.

The RoomServer decides *when* to publish (after the commit); this module decides *what*
the pages receive. Fragments are shared by every viewer: per-viewer looks (one's own
messages, one's own typing, admin controls) come from ``/me.css`` and page classes.
"""

from __future__ import annotations

import functools
from typing import Any

from starlette.status import WS_1008_POLICY_VIOLATION, WS_1013_TRY_AGAIN_LATER

from livechat.accounts.models import User
from livechat.chat.messages import Changes, Cursor, Page
from livechat.chat.models import Message, Room
from livechat.chat.notifications import Alerts
from livechat.chat.rooms import RoomSummary
from livechat.realtime.hub import Broadcast, Revocation
from livechat.realtime.presence import PresenceChange, Sidebar
from livechat.web.templating import message_fragments, templates


def render(name: str, **context: Any) -> str:
    return templates.get_template(name).render(**context)


def message_created(message: Message) -> Broadcast:
    return Broadcast(
        render(
            "broadcasts/message_created.html", html=message_fragments.html(message), message=message
        ),
        seq=message.seq,
        message_id=message.id,
    )


def message_activity(message: Message) -> Broadcast:
    """That ``message`` was posted, for room lists to count: no HTML, which each list
    renders for itself."""
    return Broadcast("", message_id=message.id, room_id=message.room_id, author_id=message.user_id)


def alerts_changed(
    alerts: Alerts,
    *,
    room_id: int | None = None,
    message_id: int | None = None,
    read_up_to: int | None = None,
) -> Broadcast:
    """For every page of a person, how many notifications they have unread now: changed
    by message ``message_id`` of a room, by reading a room up to message ``read_up_to``,
    or, with neither, by reading them all."""
    return Broadcast(
        render("broadcasts/alerts.html", alerts=alerts),
        alerts=alerts.total,
        room_id=room_id,
        message_id=message_id,
        read_up_to=read_up_to,
    )


def room_unread(counts: dict[int, int]) -> str:
    """The unread badges of rooms in a room list, by room id."""
    return render("broadcasts/room_unread.html", counts=counts.items())


def room_alerts(counts: dict[int, int]) -> str:
    """The mention badges of rooms in a room list, by room id."""
    return render("broadcasts/room_alerts.html", counts=counts.items())


def title(title: str, alerts: int) -> str:
    """A page's tab title, counting its reader's unread notifications."""
    return render("broadcasts/title.html", title=title, alerts=alerts)


def room_reached(seq: int) -> Broadcast:
    """Where a room's sequence stands, for pages that may have missed an event: sent by a
    room server as it starts, since a predecessor that crashed between storing an event
    and publishing it left a gap that no later event may come to reveal."""
    return Broadcast("", seq=seq, sync=True)


def message_changed(message: Message) -> Broadcast:
    """An edit or a deletion: the message is replaced in place, or removed."""
    return Broadcast(
        render(
            "broadcasts/message_changed.html",
            html="" if message.is_deleted else message_fragments.html(message, oob=True),
            message=message,
        ),
        seq=message.seq,
    )


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


def person_changed(person: User) -> Broadcast:
    """Someone's new name and picture, for every message of theirs a room's pages show."""
    return Broadcast(render("broadcasts/person_changed.html", person=person))


def presence_changed(change: PresenceChange) -> Broadcast:
    html = render("broadcasts/presence.html", change=change)
    return Broadcast(html, presence=change.version)


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


def room_changed(room: Room, *, renamed: bool) -> Broadcast:
    """Sent to the pages of a room whose name or description changed: they show it, and
    carry on where they are, since the room's former slugs still lead to it."""
    return Broadcast(render("broadcasts/room_changed.html", room=room, renamed=renamed))


def room_closed(reason: str) -> Broadcast:
    """Sent to the pages of a room that was deleted, or of a person removed from it."""
    return Broadcast(
        render("broadcasts/room_closed.html", reason=reason), close=WS_1008_POLICY_VIOLATION
    )


def room_restarting() -> Broadcast:
    """Sent to the pages of a room whose server kept crashing: they reconnect by themselves
    (1013, try again later) and catch up from the store, whatever the crash lost."""
    return Broadcast(render("broadcasts/room_restarting.html"), close=WS_1013_TRY_AGAIN_LATER)


def signed_out(reason: str, revocation: Revocation) -> Broadcast:
    """Sent to every page of the sessions ``revocation`` names: they stop for good."""
    return Broadcast(
        render("broadcasts/socket_refused.html", reason=reason),
        close=WS_1008_POLICY_VIOLATION,
        revokes=revocation,
    )


def lobby_room_created(room: Room) -> Broadcast:
    """A room to add to open room lists: a new public room for everyone's, a private one
    only for the lists of its members."""
    return Broadcast(render("broadcasts/lobby_room_created.html", room=room))


def lobby_direct_created(room: Room, partner: User) -> Broadcast:
    """A direct conversation to add to the open room lists of one of its people, named
    for the other, ``partner``."""
    return Broadcast(render("broadcasts/lobby_direct_created.html", room=room, partner=partner))


def lobby_room_changed(room: Room, member_count: int) -> Broadcast:
    return Broadcast(
        render("broadcasts/lobby_room_changed.html", room=room, member_count=member_count)
    )


def lobby_online(room_id: int, count: int) -> Broadcast:
    """How many people are in a public room now, for the open room lists."""
    return Broadcast(render("partials/room_online.html", room_id=room_id, online=count, oob=True))


def lobby_room_deleted(room: Room) -> Broadcast:
    return Broadcast(render("broadcasts/lobby_room_deleted.html", room=room))
