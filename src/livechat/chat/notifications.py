"""Mentions and the notifications they raise, and how far each person has read.

A message mentions a member of its room by their handle (``@alice``); the mention is kept
on the message, handle as written with the person it named, and the person gets a
notification. So does the other person of a direct conversation, for every message sent
to them. A notification counts until its person reads its room or their Mentions page.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field

from sqlalchemy import (
    ColumnElement,
    Exists,
    ScalarSelect,
    Select,
    delete,
    exists,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from livechat.accounts.handles import HANDLE_MIN_LENGTH
from livechat.accounts.models import HANDLE_MAX_LENGTH, User
from livechat.chat.access import RoomRef, readable_by, room_key
from livechat.chat.models import Kind, Membership, Message, Notification, Room
from livechat.db import Database, utcnow

# An @ that does not end a word, an email address or a path, and a handle's characters.
MENTION = re.compile(
    rf"(?<![\w@/.+-])@([A-Za-z0-9_]{{{HANDLE_MIN_LENGTH},{HANDLE_MAX_LENGTH}}})(?![A-Za-z0-9_])"
)
# Past this many different people a message is a roll call, not a conversation: the rest
# of its handles stay plain text, and no one posts a message that notifies a thousand.
MAX_MENTIONS = 20
MENTIONS_PAGE_SIZE = 50


def handles_in(body: str) -> list[str]:
    """The handles ``body`` names, lowercased, each once, in order, at most ``MAX_MENTIONS``."""
    if "@" not in body:
        return []
    handles = dict.fromkeys(match.lower() for match in MENTION.findall(body))
    return list(handles)[:MAX_MENTIONS]


# A handle being typed at the end of a draft: an @ starting a word, and what follows it.
_TYPING_MENTION = re.compile(rf"(?<![\w@/.+-])@([A-Za-z0-9_]{{0,{HANDLE_MAX_LENGTH}}})$")
SUGGESTIONS = 6


def mention_typed(draft: str) -> str | None:
    """The start of the handle ``draft`` ends with, lowercased ("" for a bare @); None
    if it does not end with one."""
    match = _TYPING_MENTION.search(draft)
    return None if match is None else match[1].lower()


async def members_named(
    db: Database, room_id: int, start: str, *, besides: int, limit: int = SUGGESTIONS
) -> list[User]:
    """Members of a room whose handle or name begins with ``start``, but ``besides``, by
    handle: whom an @ being typed may mean."""
    async with db.read() as session:
        found = await session.scalars(
            select(User)
            .join(Membership, Membership.user_id == User.id)
            .where(
                Membership.room_id == room_id,
                User.id != besides,
                User.handle.startswith(start, autoescape=True)
                | func.lower(User.display_name).startswith(start, autoescape=True),
            )
            .order_by(User.handle)
            .limit(limit)
        )
        return list(found)


async def mentioned(
    session: AsyncSession, room: RoomRef, author_id: int, body: str
) -> dict[str, int]:
    """The members of ``room`` that ``body`` mentions, by handle: not its author, nor
    anyone outside the room, whom a mention must not tell the room exists."""
    handles = handles_in(body)
    if not handles:
        return {}
    rows = await session.execute(
        select(User.handle, User.id)
        .join(Membership, Membership.user_id == User.id)
        .join(Room, Room.id == Membership.room_id)
        .where(room_key(room), User.handle.in_(handles), User.id != author_id)
    )
    return dict(rows.tuples().all())


async def notify(session: AsyncSession, message: Message, people: Mapping[int, Kind]) -> None:
    """Notify ``people`` of ``message``, each for their reason."""
    if people:
        await session.execute(
            insert(Notification),
            [
                {
                    "user_id": person,
                    "message_id": message.id,
                    "room_id": message.room_id,
                    "kind": kind,
                }
                for person, kind in people.items()
            ],
        )


# fastapi-users declares is_active as a plain bool; the table's column is what queries use.
_CALLED = (User.is_bot.is_(True), User.webhook_url.is_not(None), User.__table__.c.is_active)


async def bots_to_call(
    db: Database, message_id: int, people: Collection[int]
) -> list[tuple[User, Kind]]:
    """The bots with a webhook among ``people`` that ``message_id`` notified and that are
    not called about it yet, each with why, now taken as called: whichever process asks
    first calls each one, once. Their notifications count as read, as a bot reads none.
    A read first, so that a message that notified only people costs no write."""
    async with db.read() as session:
        bots = list(await session.scalars(select(User.id).where(User.id.in_(people), *_CALLED)))
    if not bots:
        return []
    async with db.write() as session:
        claimed = await session.execute(
            update(Notification)
            .where(
                Notification.message_id == message_id,
                Notification.user_id.in_(bots),
                Notification.read_at.is_(None),
            )
            .values(read_at=utcnow())
            .returning(Notification.user_id, Notification.kind)
        )
        kinds = {user_id: Kind(kind) for user_id, kind in claimed}
        if not kinds:
            return []
        called = await session.scalars(select(User).where(User.id.in_(kinds)).order_by(User.id))
        return [(bot, kinds[bot.id]) for bot in called]


async def renotify(session: AsyncSession, message: Message, mentions: dict[str, int]) -> set[int]:
    """Bring the notifications of an edited ``message`` in line with its new ``mentions``:
    people newly mentioned are notified, and those no longer mentioned lose the notification
    if they have not read it. Who was affected."""
    before = set((message.mentions or {}).values())
    after = set(mentions.values())
    gone = before - after
    if gone:
        await session.execute(
            delete(Notification).where(
                Notification.message_id == message.id,
                Notification.user_id.in_(gone),
                Notification.kind == Kind.MENTION,
                Notification.read_at.is_(None),
            )
        )
    # A direct conversation's other person is notified of the message already.
    notified = await session.scalars(
        select(Notification.user_id).where(Notification.message_id == message.id)
    )
    added = after - before - set(notified)
    await notify(session, message, dict.fromkeys(added, Kind.MENTION))
    message.mentions = mentions or None
    return gone | added


async def withdraw(session: AsyncSession, message: Message) -> set[int]:
    """Take back the notifications of a deleted ``message``; whose unread ones went."""
    gone = await session.execute(
        delete(Notification)
        .where(Notification.message_id == message.id)
        .returning(Notification.user_id, Notification.read_at)
    )
    return {person for person, read_at in gone.tuples() if read_at is None}


@dataclass(frozen=True, slots=True)
class Alerts:
    """Someone's notifications not yet read, counted by room."""

    by_room: dict[int, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.by_room.values())


def _unread(user_ids: Collection[int]) -> Select[tuple[int, int, int]]:
    """Unread notifications by person and room, in rooms they still belong to."""
    return (
        select(Notification.user_id, Notification.room_id, func.count())
        .join(
            Membership,
            (Membership.user_id == Notification.user_id)
            & (Membership.room_id == Notification.room_id),
        )
        .where(Notification.user_id.in_(user_ids), Notification.read_at.is_(None))
        .group_by(Notification.user_id, Notification.room_id)
    )


async def alerts_of(db: Database, user_ids: Iterable[int]) -> dict[int, Alerts]:
    """The unread notifications of each of ``user_ids``, in one query."""
    people = set(user_ids)
    if not people:
        return {}
    async with db.read() as session:
        rows = (await session.execute(_unread(people))).tuples().all()
    alerts: dict[int, Alerts] = {person: Alerts() for person in people}
    for person, room_id, count in rows:
        alerts[person].by_room[room_id] = count
    return alerts


async def alerts_for(db: Database, user_id: int) -> Alerts:
    return (await alerts_of(db, [user_id]))[user_id]


async def read_room(db: Database, user_id: int, room_id: int, up_to: int) -> bool:
    """Mark what ``user_id`` has seen of a room, up to message ``up_to``: its messages, and
    their notifications there. Whether anything was unread."""
    async with db.write() as session:
        moved_on = await session.execute(
            update(Membership)
            .where(
                Membership.user_id == user_id,
                Membership.room_id == room_id,
                Membership.last_read_id < up_to,
            )
            .values(last_read_id=up_to)
            .returning(Membership.id)
        )
        read = await session.execute(
            update(Notification)
            .where(
                Notification.user_id == user_id,
                Notification.room_id == room_id,
                Notification.message_id <= up_to,
                Notification.read_at.is_(None),
            )
            .values(read_at=utcnow())
            .returning(Notification.id)
        )
        return moved_on.first() is not None or read.first() is not None


# Past this many unread messages a room shows "99+": counting further is work for nothing.
UNREAD_COUNTED = 100


def unread_here(user_id: ColumnElement[int]) -> Exists:
    """Whether ``user_id`` has a notification of the room, correlated, unread, whatever they
    have read of it: an edit may mention them in a message they read before."""
    return exists().where(
        Notification.user_id == user_id,
        Notification.room_id == Room.id,
        Notification.read_at.is_(None),
    )


def unread_count(user_id: int) -> ScalarSelect[int]:
    """How many messages of the membership's room, correlated, ``user_id`` has not read:
    others' messages after the last one they saw, up to ``UNREAD_COUNTED``."""
    unread = (
        select(literal(1))
        .select_from(Message)
        .where(
            Message.room_id == Membership.room_id,
            Message.id > Membership.last_read_id,
            Message.user_id != user_id,
            Message.deleted_at.is_(None),
        )
        .correlate(Membership)
        .limit(UNREAD_COUNTED)
        .subquery()
    )
    return select(func.count()).select_from(unread).correlate(Membership).scalar_subquery()


@dataclass(frozen=True, slots=True)
class Unread:
    """What a room list shows of a room: how many of its messages its reader has not read
    (counted up to ``UNREAD_COUNTED``), and the newest message it counted them up to."""

    count: int
    counted_to: int


async def unread_of(db: Database, user_id: int) -> dict[int, Unread]:
    """The unread messages of each room ``user_id`` belongs to, by room id."""
    newest = (
        select(func.coalesce(func.max(Message.id), 0))
        .where(Message.room_id == Membership.room_id)
        .correlate(Membership)
        .scalar_subquery()
    )
    async with db.read() as session:
        rows = await session.execute(
            select(Membership.room_id, unread_count(user_id), newest).where(
                Membership.user_id == user_id
            )
        )
        return {room_id: Unread(count, counted_to) for room_id, count, counted_to in rows}


async def read_all(db: Database, user_id: int) -> bool:
    """Mark every notification of ``user_id`` read; whether any was unread."""
    async with db.write() as session:
        read = await session.execute(
            update(Notification)
            .where(Notification.user_id == user_id, Notification.read_at.is_(None))
            .values(read_at=utcnow())
            .returning(Notification.id)
        )
        return read.first() is not None


@dataclass(frozen=True, slots=True)
class Mention:
    """A notification as the Mentions page lists it."""

    notification: Notification
    message: Message
    room: Room

    @property
    def unread(self) -> bool:
        return self.notification.read_at is None


async def recent(db: Database, user: User, limit: int = MENTIONS_PAGE_SIZE) -> list[Mention]:
    """The newest notifications of ``user``, of messages not deleted in rooms they may
    still read, newest first."""
    async with db.read() as session:
        rows = await session.execute(
            select(Notification, Message, Room)
            .join(Message, Message.id == Notification.message_id)
            .join(Room, Room.id == Notification.room_id)
            .where(
                Notification.user_id == user.id,
                Message.deleted_at.is_(None),
                readable_by(user.id),
            )
            .order_by(Notification.id.desc())
            .limit(limit)
            .options(selectinload(Message.author))
        )
        return [Mention(*row) for row in rows.tuples()]
