"""What happens in livechat, as typed events: what room servers and services publish on the
hub, and what every process turns into what its own listeners need, once each: HTML for
the pages (``web/rendered.py``), JSON for programs (``api/``).

An event names what changed with the data that changed, never how it is shown. It travels
between processes as JSON: ``encode`` and ``decode`` here, with the message, room and
person it carries rebuilt on arrival as the detached objects the store would have given,
every attribute loaded, so that the same templates and serialisers serve both.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, TypeVar

from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from livechat.accounts.models import User
from livechat.chat.models import Attachment, Message, Reaction, Room
from livechat.chat.notifications import Alerts
from livechat.realtime.presence import PresenceChange

_Row = TypeVar("_Row", User, Room, Message, Attachment, Reaction)


@dataclass(frozen=True, slots=True)
class MessageCreated:
    """A message was posted in its room."""

    kind: ClassVar[str] = "message.created"
    message: Message


@dataclass(frozen=True, slots=True)
class MessageChanged:
    """A message was edited, reacted to or deleted (a tombstone, its body cleared)."""

    kind: ClassVar[str] = "message.changed"
    message: Message


@dataclass(frozen=True, slots=True)
class MessagePosted:
    """That a message was posted, without the message: for room lists counting unread."""

    kind: ClassVar[str] = "message.posted"
    room_id: int
    message_id: int
    author_id: int


@dataclass(frozen=True, slots=True)
class RoomReached:
    """Where a room's sequence stands, for pages that may have missed an event."""

    kind: ClassVar[str] = "room.reached"
    room_id: int
    seq: int


@dataclass(frozen=True, slots=True)
class RoomChanged:
    """A room's name or description changed."""

    kind: ClassVar[str] = "room.changed"
    room: Room
    renamed: bool


@dataclass(frozen=True, slots=True)
class RoomClosed:
    """A room's pages, or one person's, must stop: the room was deleted, or they left it
    or were removed from it."""

    kind: ClassVar[str] = "room.closed"
    room_id: int
    reason: str


@dataclass(frozen=True, slots=True)
class RoomRestarting:
    """A room's server kept crashing: its pages reconnect and catch up."""

    kind: ClassVar[str] = "room.restarting"
    room_id: int


@dataclass(frozen=True, slots=True)
class RoomListed:
    """A room to add to room lists: new, or newly open to the list's person."""

    kind: ClassVar[str] = "room.listed"
    room: Room


@dataclass(frozen=True, slots=True)
class RoomJoined:
    """A person became a member of a room: they joined it, made it, were let in, or were
    sent a direct message. For what follows their rooms as they change: their streams
    and the unread counts of their room lists."""

    kind: ClassVar[str] = "room.joined"
    room: Room


@dataclass(frozen=True, slots=True)
class DirectListed:
    """A direct conversation to add to the room lists of one of its people, named for the
    other, ``partner``."""

    kind: ClassVar[str] = "direct.listed"
    room: Room
    partner: User


@dataclass(frozen=True, slots=True)
class MembersCounted:
    """Who belongs to a room changed: someone joined, left or was let in or out."""

    kind: ClassVar[str] = "room.members"
    room: Room
    member_count: int


@dataclass(frozen=True, slots=True)
class RoomUnlisted:
    """A room gone from room lists: deleted, or no longer open to the list's person."""

    kind: ClassVar[str] = "room.unlisted"
    room: Room


@dataclass(frozen=True, slots=True)
class OnlineCounted:
    """How many people are in a public room now."""

    kind: ClassVar[str] = "room.online"
    room_id: int
    count: int


@dataclass(frozen=True, slots=True)
class PresenceChanged:
    """Who is here and who is typing changed in a room: worked out by each process for
    its own pages, so never encoded."""

    kind: ClassVar[str] = "presence.changed"
    change: PresenceChange


@dataclass(frozen=True, slots=True)
class PersonChanged:
    """Someone's name or picture changed."""

    kind: ClassVar[str] = "person.changed"
    person: User


@dataclass(frozen=True, slots=True)
class AlertsChanged:
    """How many notifications a person has unread, by room, now."""

    kind: ClassVar[str] = "alerts.changed"
    alerts: Alerts = field(default_factory=Alerts)


@dataclass(frozen=True, slots=True)
class Notified:
    """A message notified ``people``: it mentions them, or was sent to them directly (or,
    edited, no longer mentions some). For whatever acts on a notification but a page:
    bots' webhooks."""

    kind: ClassVar[str] = "notified"
    room_id: int
    message_id: int
    people: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class SignedOut:
    """Sessions of a person ended; their pages stop for good."""

    kind: ClassVar[str] = "session.ended"
    reason: str


Event = (
    MessageCreated
    | MessageChanged
    | MessagePosted
    | RoomReached
    | RoomChanged
    | RoomClosed
    | RoomRestarting
    | RoomListed
    | RoomJoined
    | DirectListed
    | MembersCounted
    | RoomUnlisted
    | OnlineCounted
    | PresenceChanged
    | PersonChanged
    | AlertsChanged
    | Notified
    | SignedOut
)


# Across processes, as JSON.


def encode(event: Event) -> dict[str, Any]:
    """``event`` as JSON, named by its kind."""
    match event:
        case MessageCreated(message) | MessageChanged(message):
            return {"kind": event.kind, "message": _message_json(message)}
        case RoomChanged(room, renamed):
            return {"kind": event.kind, "room": _room_json(room), "renamed": renamed}
        case RoomListed(room) | RoomJoined(room) | RoomUnlisted(room):
            return {"kind": event.kind, "room": _room_json(room)}
        case DirectListed(room, partner):
            return {"kind": event.kind, "room": _room_json(room), "partner": _person_json(partner)}
        case MembersCounted(room, count):
            return {"kind": event.kind, "room": _room_json(room), "member_count": count}
        case PersonChanged(person):
            return {"kind": event.kind, "person": _person_json(person)}
        case AlertsChanged(alerts):
            return {"kind": event.kind, "by_room": list(alerts.by_room.items())}
        case Notified(room_id, message_id, people):
            return {
                "kind": event.kind,
                "room_id": room_id,
                "message_id": message_id,
                "people": people,
            }
        case PresenceChanged():
            raise TypeError("presence is worked out by each process, never sent between them")
        case _:
            # The rest carry plain values only.
            return {"kind": event.kind, **{name: getattr(event, name) for name in event.__slots__}}


def decode(data: dict[str, Any]) -> Event:
    """The event ``encode`` made ``data`` of."""
    data = dict(data)
    kind = data.pop("kind")
    rebuild = _DECODERS.get(kind)
    if rebuild is not None:
        return rebuild(data)
    return _PLAIN[kind](**data)


_DECODERS: dict[str, Callable[[dict[str, Any]], Event]] = {
    MessageCreated.kind: lambda data: MessageCreated(_message(data["message"])),
    MessageChanged.kind: lambda data: MessageChanged(_message(data["message"])),
    RoomChanged.kind: lambda data: RoomChanged(_room(data["room"]), data["renamed"]),
    RoomListed.kind: lambda data: RoomListed(_room(data["room"])),
    RoomJoined.kind: lambda data: RoomJoined(_room(data["room"])),
    RoomUnlisted.kind: lambda data: RoomUnlisted(_room(data["room"])),
    DirectListed.kind: lambda data: DirectListed(_room(data["room"]), _person(data["partner"])),
    MembersCounted.kind: lambda data: MembersCounted(_room(data["room"]), data["member_count"]),
    PersonChanged.kind: lambda data: PersonChanged(_person(data["person"])),
    AlertsChanged.kind: lambda data: AlertsChanged(Alerts(dict(map(tuple, data["by_room"])))),
    Notified.kind: lambda data: Notified(
        data["room_id"], data["message_id"], tuple(data["people"])
    ),
}
_PLAIN: dict[str, type[Event]] = {
    kind.kind: kind
    for kind in (MessagePosted, RoomReached, RoomClosed, RoomRestarting, OnlineCounted, SignedOut)
}


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _parsed(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _person_json(person: User) -> dict[str, Any]:
    return {
        "id": person.id,
        "display_name": person.display_name,
        "handle": person.handle,
        "avatar_url": person.avatar_url,
    }


def _person(data: dict[str, Any]) -> User:
    return _detached(User(**data))


def _room_json(room: Room) -> dict[str, Any]:
    return {
        "id": room.id,
        "name": room.name,
        "slug": room.slug,
        "description": room.description,
        "is_private": room.is_private,
        "direct_key": room.direct_key,
    }


def _room(data: dict[str, Any]) -> Room:
    return _detached(Room(**data))


def _message_json(message: Message) -> dict[str, Any]:
    original = message.reply_to
    return {
        **_message_columns(message),
        "author": _person_json(message.author),
        "reply_to": None
        if original is None
        else {**_message_columns(original), "author": _person_json(original.author)},
        "attachments": [
            {
                "id": file.id,
                "room_id": file.room_id,
                "uploader_id": file.uploader_id,
                "message_id": file.message_id,
                "stored_name": file.stored_name,
                "original_name": file.original_name,
                "content_type": file.content_type,
                "size": file.size,
                "width": file.width,
                "height": file.height,
                "inserted_at": _time(file.inserted_at),
            }
            for file in message.attachments
        ],
        "reactions": [
            {
                "id": reaction.id,
                "emoji": reaction.emoji,
                "user_id": reaction.user_id,
                "person": _person_json(reaction.person),
            }
            for reaction in message.reactions
        ],
    }


def _message_columns(message: Message) -> dict[str, Any]:
    return {
        "id": message.id,
        "room_id": message.room_id,
        "user_id": message.user_id,
        "seq": message.seq,
        "body": message.body,
        "reply_to_id": message.reply_to_id,
        "mentions": message.mentions,
        "inserted_at": _time(message.inserted_at),
        "edited_at": _time(message.edited_at),
        "deleted_at": _time(message.deleted_at),
    }


def _message(data: dict[str, Any]) -> Message:
    original = data["reply_to"]
    message = _message_alone(data)
    set_committed_value(message, "reply_to", None if original is None else _message_alone(original))
    set_committed_value(message, "attachments", [_attachment(file) for file in data["attachments"]])
    set_committed_value(message, "reactions", [_reaction(given) for given in data["reactions"]])
    return _detached(message)


def _message_alone(data: dict[str, Any]) -> Message:
    """A message with its author, as a quote shows it: what it replies to, its files and
    reactions not loaded."""
    message = Message(
        id=data["id"],
        room_id=data["room_id"],
        user_id=data["user_id"],
        seq=data["seq"],
        body=data["body"],
        reply_to_id=data["reply_to_id"],
        mentions=data["mentions"],
        inserted_at=_parsed(data["inserted_at"]),
        edited_at=_parsed(data["edited_at"]),
        deleted_at=_parsed(data["deleted_at"]),
    )
    set_committed_value(message, "author", _person(data["author"]))
    return message


def _attachment(data: dict[str, Any]) -> Attachment:
    return _detached(Attachment(**{**data, "inserted_at": _parsed(data["inserted_at"])}))


def _reaction(data: dict[str, Any]) -> Reaction:
    reaction = Reaction(id=data["id"], emoji=data["emoji"], user_id=data["user_id"])
    set_committed_value(reaction, "person", _person(data["person"]))
    return _detached(reaction)


def _detached(instance: _Row) -> _Row:
    """``instance`` as the store hands out a row it read: detached, with what it holds
    taken as loaded, so that reading it never reaches for a session."""
    make_transient_to_detached(instance)
    return instance
