"""The broadcasts publishers make: each event in the envelope its listeners route it by
(``hub.Broadcast``), the counterpart of a Phoenix ``broadcast`` call's topic and payload.

What an event looks like to a page or a program is no concern of these: each process
renders what it receives, once (``web/rendered.py``).
"""

from __future__ import annotations

from starlette.status import WS_1008_POLICY_VIOLATION, WS_1013_TRY_AGAIN_LATER

from livechat.accounts.models import User
from livechat.chat.models import Message, Room
from livechat.chat.notifications import Alerts
from livechat.realtime.events import (
    AlertsChanged,
    DirectListed,
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
from livechat.realtime.hub import Broadcast, Revocation
from livechat.realtime.presence import PresenceChange


def message_created(message: Message) -> Broadcast:
    return Broadcast(MessageCreated(message), seq=message.seq, message_id=message.id)


def message_changed(message: Message) -> Broadcast:
    """An edit, a reaction or a deletion: the message is replaced in place, or removed."""
    return Broadcast(MessageChanged(message), seq=message.seq)


def message_posted(message: Message) -> Broadcast:
    """That ``message`` was posted, for room lists to count."""
    return Broadcast(
        MessagePosted(message.room_id, message.id, message.user_id),
        message_id=message.id,
        room_id=message.room_id,
        author_id=message.user_id,
    )


def room_reached(room_id: int, seq: int) -> Broadcast:
    """Where a room's sequence stands: sent by a room server as it starts, since a
    predecessor that crashed between storing an event and publishing it left a gap that
    no later event may come to reveal."""
    return Broadcast(RoomReached(room_id, seq), seq=seq, sync=True)


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
        AlertsChanged(alerts),
        alerts=alerts.total,
        room_id=room_id,
        message_id=message_id,
        read_up_to=read_up_to,
    )


def person_changed(person: User) -> Broadcast:
    return Broadcast(PersonChanged(person))


def presence_changed(change: PresenceChange) -> Broadcast:
    return Broadcast(PresenceChanged(change), presence=change.version)


def room_changed(room: Room, *, renamed: bool) -> Broadcast:
    """To the pages of a room whose name or description changed: they carry on where they
    are, since the room's former slugs still lead to it."""
    return Broadcast(RoomChanged(room, renamed))


def room_closed(room_id: int, reason: str) -> Broadcast:
    return Broadcast(RoomClosed(room_id, reason), close=WS_1008_POLICY_VIOLATION)


def room_restarting(room_id: int) -> Broadcast:
    """Pages reconnect by themselves (1013, try again later) and catch up from the store,
    whatever the crash lost."""
    return Broadcast(RoomRestarting(room_id), close=WS_1013_TRY_AGAIN_LATER)


def signed_out(reason: str, revocation: Revocation) -> Broadcast:
    return Broadcast(SignedOut(reason), close=WS_1008_POLICY_VIOLATION, revokes=revocation)


def room_listed(room: Room) -> Broadcast:
    """For open room lists: a new public room for everyone's, a private one only for its
    members'."""
    return Broadcast(RoomListed(room))


def room_joined(room: Room) -> Broadcast:
    """For what follows one person's rooms: one more."""
    return Broadcast(RoomJoined(room), room_id=room.id)


def direct_listed(room: Room, partner: User) -> Broadcast:
    return Broadcast(DirectListed(room, partner))


def members_counted(room: Room, member_count: int) -> Broadcast:
    return Broadcast(MembersCounted(room, member_count))


def room_unlisted(room: Room) -> Broadcast:
    return Broadcast(RoomUnlisted(room))


def online_counted(room_id: int, count: int) -> Broadcast:
    return Broadcast(OnlineCounted(room_id, count))


def notified(message: Message, people: frozenset[int]) -> Broadcast:
    return Broadcast(Notified(message.room_id, message.id, tuple(sorted(people))))
