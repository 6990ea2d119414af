"""Messages: posting (idempotently), paging through history, editing and deleting.

Every change to a message stamps it with the room's next event sequence number, so that a
page which missed some events can ask for everything after the last one it saw.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Insert,
    Select,
    bindparam,
    delete,
    exists,
    func,
    insert,
    literal_column,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import make_transient_to_detached, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from livechat.accounts.models import User
from livechat.chat import notifications
from livechat.chat.access import (
    RoomRef,
    could_name_a_room,
    readable_by,
    readable_room,
    readable_room_as_member,
    require_membership,
)
from livechat.chat.models import (
    CLIENT_MSG_ID_MAX_LENGTH,
    REACTIONS,
    Attachment,
    Kind,
    Membership,
    Message,
    Reaction,
    Room,
)
from livechat.db import Database, Driver, DriverStatement, driver_of, utcnow
from livechat.errors import BadRequest, Conflict, Forbidden, NotFound
from livechat.inputs import MAX_ID, is_id, is_text

MESSAGE_MAX_LENGTH = 4000
PAGE_SIZE = 50
# How far past a window its newer messages are counted: "1,000+" says enough.
MAX_COUNTED = 1000
# A page that missed more than this many events reloads its message list instead of
# replaying them one by one.
REPLAY_LIMIT = 200

# Control characters have no business in chat text, and search highlighting relies on two
# of them never occurring in a stored body.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# The pages send a UUID's hex; anything of this shape is as good a key.
CLIENT_MSG_ID = re.compile(rf"[A-Za-z0-9_-]{{1,{CLIENT_MSG_ID_MAX_LENGTH}}}")


@dataclass(frozen=True, slots=True)
class Posted:
    message: Message
    created: bool  # False for a resend of a message already stored: nothing was stored
    # Whose notifications it changed: the people it mentions, or is sent to directly.
    alerted: frozenset[int] = frozenset()


@dataclass(frozen=True, slots=True)
class Changed:
    """A message as an edit or a deletion left it, and whose notifications that changed."""

    message: Message
    alerted: frozenset[int] = frozenset()


def content_digest(body: str, attachment_ids: Sequence[int]) -> str:
    """What a send carried, in a few bytes: its cleaned text and the files it named."""
    content = body + "\0" + ",".join(str(i) for i in sorted(set(attachment_ids)))
    return hashlib.sha256(content.encode()).hexdigest()[:32]


def clean_body(body: str, *, allow_empty: bool = False) -> str:
    body = CONTROL_CHARACTERS.sub("", body.replace("\r\n", "\n").replace("\r", "\n")).strip()
    if not is_text(body):
        raise BadRequest("That message has characters that are not valid text.")
    if not body and not allow_empty:
        raise BadRequest("A message can't be empty.")
    if len(body) > MESSAGE_MAX_LENGTH:
        raise BadRequest(
            f"Messages are at most {MESSAGE_MAX_LENGTH:,} characters; this one has {len(body):,}."
        )
    return body


def _messages() -> Select[tuple[Message]]:
    """Messages with what rendering them needs, loaded up front (lazy loads are refused)."""
    return select(Message).options(
        selectinload(Message.author),
        selectinload(Message.attachments),
        selectinload(Message.reactions).selectinload(Reaction.person),
        selectinload(Message.reply_to).selectinload(Message.author),
    )


async def _next_seq(session: AsyncSession, room_id: int) -> int:
    seq = await session.scalar(
        update(Room)
        .where(Room.id == room_id)
        .values(last_seq=Room.last_seq + 1)
        .returning(Room.last_seq)
    )
    if seq is None:
        raise NotFound("This room no longer exists.")
    return seq


# Posting writes through the tables, in statements built once. Every post in the process
# queues on the one writer, and there building a statement, or running one through the
# ORM, costs more CPU than SQLite spends on the SQL; rows written once and then only
# rendered have no use for the unit of work.
_ROOMS = Room.metadata.tables[Room.__tablename__]
_MEMBERSHIPS = Membership.metadata.tables[Membership.__tablename__]
_MESSAGES = Message.metadata.tables[Message.__tablename__]
_SENT = (
    "user_id",
    "body",
    "client_msg_id",
    "content_digest",
    "reply_to_id",
    "mentions",
    "inserted_at",
)


def _post(room: ColumnElement[bool], *, locking: bool = False) -> Insert:
    """Insert a message under the next sequence number of ``room`` and return its id, room
    and number: only if the poster is a member and the send repeats none already stored.
    A refusal or a resend inserts nothing, and the common case needs no statement of its
    own to check. A send without a key binds NULL, which equals no stored key.

    On SQLite, whose writers take turns, the insert's trigger then moves the room on to
    the number (migration 0005). Where writers run side by side (``locking``), the room is
    moved on first, in the same statement: its row lock holds every other post to the room
    until this one commits, and they then read the number it left."""
    sent = {name: bindparam(name, type_=_MESSAGES.c[name].type) for name in _SENT}
    is_member = exists().where(
        _MEMBERSHIPS.c.room_id == _ROOMS.c.id, _MEMBERSHIPS.c.user_id == sent["user_id"]
    )
    resent = exists().where(
        _MESSAGES.c.room_id == _ROOMS.c.id,
        _MESSAGES.c.user_id == sent["user_id"],
        _MESSAGES.c.client_msg_id == sent["client_msg_id"],
        _MESSAGES.c.content_digest == sent["content_digest"],
    )
    if locking:
        moved_on = (
            update(_ROOMS)
            .where(room, is_member, ~resent)
            .values(
                last_seq=_ROOMS.c.last_seq + literal_column("1"), updated_at=sent["inserted_at"]
            )
            .returning(_ROOMS.c.id, _ROOMS.c.last_seq)
            .cte("moved_on")
        )
        numbered = select(moved_on.c.id, moved_on.c.last_seq, *sent.values())
    else:
        numbered = select(
            _ROOMS.c.id, _ROOMS.c.last_seq + literal_column("1"), *sent.values()
        ).where(room, is_member, ~resent)
    return (
        insert(_MESSAGES)
        .from_select(["room_id", "seq", *_SENT], numbered)
        .returning(_MESSAGES.c.id, _MESSAGES.c.room_id, _MESSAGES.c.seq)
    )


_BY_ID = _ROOMS.c.id == bindparam("room")
_BY_SLUG = _ROOMS.c.slug == bindparam("room")
_POST_BY_ID = DriverStatement(_post(_BY_ID), postgresql=_post(_BY_ID, locking=True))
_POST_BY_SLUG = DriverStatement(_post(_BY_SLUG), postgresql=_post(_BY_SLUG, locking=True))


async def create_message(
    db: Database,
    user: User,
    room_ref: RoomRef,
    body: str,
    client_msg_id: str | None = None,
    attachment_ids: Sequence[int] = (),
    reply_to: int | None = None,
    recipients: Sequence[int] = (),
) -> Posted:
    """Post a message, carrying the user's pending uploads named in ``attachment_ids``; with
    files, the text may be empty. With ``reply_to``, it answers that message, which must
    be one of the room's that is not deleted. The members it mentions are notified, and
    so are ``recipients`` but its author (the people of a direct conversation). A send
    repeated with the same ``client_msg_id`` and the same content returns the first
    message unchanged, so a retried or doubled send is stored once; the same key with
    other content is another message, since a page keeps its key until a send is
    acknowledged."""
    body = clean_body(body, allow_empty=bool(attachment_ids))
    if client_msg_id is not None and not CLIENT_MSG_ID.fullmatch(client_msg_id):
        raise BadRequest("This message form has expired; reload the page to send again.")
    if not all(is_id(attachment_id) for attachment_id in attachment_ids):
        raise BadRequest("Those files are no longer waiting to be sent; attach them again.")
    digest = None if client_msg_id is None else content_digest(body, attachment_ids)
    # Checked before the insert, which then need not: a message is never moved to another
    # room, and one deleted meanwhile stays a tombstone the reply can still point at.
    original = None if reply_to is None else await replied_to(db, user, room_ref, reply_to)
    mentions = await _mentioned(db, room_ref, user, body)
    alerted = {person: Kind.DIRECT for person in recipients if person != user.id}
    alerted.update(dict.fromkeys(mentions.values(), Kind.MENTION))
    sent = {
        "room": room_ref,
        "user_id": user.id,
        "body": body,
        "client_msg_id": client_msg_id,
        "content_digest": digest,
        "reply_to_id": reply_to,
        "mentions": mentions or None,
    }
    message = None
    files: list[Attachment] = []
    if could_name_a_room(room_ref):
        post = _POST_BY_ID if isinstance(room_ref, int) else _POST_BY_SLUG
        try:
            if attachment_ids or alerted:
                async with db.write() as session:
                    message = await _store(await driver_of(session), post, sent)
                    if message is not None:
                        files = await _attach(session, user, message, attachment_ids)
                        await notifications.notify(session, message, alerted)
            else:
                async with db.write_alone() as driver:
                    message = await _store(driver, post, sent)
        except Conflict:
            # The same send through two processes at once, where writers run side by
            # side: both found it new, and the unique key let one store it.
            message = None
    if message is None:
        return Posted(await _resent(db, user, room_ref, client_msg_id, digest), created=False)
    # Built from what was written rather than read back, the message is handed on as one
    # read whole would be: every attribute loaded, nothing left to load.
    set_committed_value(message, "author", user)
    set_committed_value(message, "attachments", files)
    set_committed_value(message, "reactions", [])
    set_committed_value(message, "reply_to", original)
    make_transient_to_detached(message)
    return Posted(message, created=True, alerted=frozenset(alerted))


async def _mentioned(db: Database, room_ref: RoomRef, user: User, body: str) -> dict[str, int]:
    """The members a message mentions; read only for a body that names a handle."""
    if not notifications.handles_in(body) or not could_name_a_room(room_ref):
        return {}
    async with db.read() as session:
        return await notifications.mentioned(session, room_ref, user.id, body)


async def _store(driver: Driver, post: DriverStatement, sent: dict[str, Any]) -> Message | None:
    """Run ``post`` on the writer's ``driver``; the message it stored, or None if it stored
    none. The time is taken there, so that the times of a room's messages rise with seq."""
    now = utcnow()
    stored = await post.rows(driver, {**sent, "inserted_at": now})
    if not stored:
        return None
    [(message_id, room_id, seq)] = stored
    return Message(
        id=message_id,
        room_id=room_id,
        seq=seq,
        user_id=sent["user_id"],
        body=sent["body"],
        client_msg_id=sent["client_msg_id"],
        content_digest=sent["content_digest"],
        reply_to_id=sent["reply_to_id"],
        mentions=sent["mentions"],
        inserted_at=now,
        edited_at=None,
        deleted_at=None,
    )


async def replied_to(db: Database, user: User, room_ref: RoomRef, message_id: int) -> Message:
    """The message a reply answers: one of the room's, readable by ``user``, not deleted."""
    if not is_id(message_id):
        raise NotFound("The message you are replying to no longer exists.")
    async with db.read() as session:
        room = await readable_room(session, user.id, room_ref)
        original = await session.scalar(
            select(Message)
            .where(
                Message.id == message_id,
                Message.room_id == room.id,
                Message.deleted_at.is_(None),
            )
            .options(selectinload(Message.author))
        )
    if original is None:
        raise NotFound("The message you are replying to no longer exists.")
    return original


async def room_of(db: Database, user: User, message_id: int) -> str:
    """The slug of the room a message is in, if ``user`` may read it: where a link to the
    message leads. To anyone else the message does not exist."""
    if not is_id(message_id):
        raise NotFound("There is no such message.")
    async with db.read() as session:
        slug = await session.scalar(
            select(Room.slug)
            .join(Message, Message.room_id == Room.id)
            .where(Message.id == message_id, readable_by(user.id))
        )
    if slug is None:
        raise NotFound("There is no such message.")
    return slug


async def _resent(
    db: Database,
    user: User,
    room_ref: RoomRef,
    client_msg_id: str | None,
    digest: str | None,
) -> Message:
    """For a send that stored nothing: the refusal every room lookup gives when the user
    may not post in the room, or else the stored message the send repeats."""
    async with db.read() as session:
        room = await readable_room_as_member(session, user.id, room_ref)
        assert client_msg_id is not None, "a member's send without a key is always stored"
        stored = await session.scalars(
            _messages().where(
                Message.room_id == room.id,
                Message.user_id == user.id,
                Message.client_msg_id == client_msg_id,
                Message.content_digest == digest,
            )
        )
        return stored.one()


async def _attach(
    session: AsyncSession, user: User, message: Message, attachment_ids: Sequence[int]
) -> list[Attachment]:
    """Give ``message`` the user's pending uploads named in ``attachment_ids``; which."""
    attached = await session.scalars(
        update(Attachment)
        .where(
            Attachment.id.in_(attachment_ids),
            Attachment.uploader_id == user.id,
            Attachment.room_id == message.room_id,
            Attachment.message_id.is_(None),
        )
        .values(message_id=message.id)
        .returning(Attachment)
    )
    files = sorted(attached, key=lambda file: file.id)
    if not files and not message.body:
        raise BadRequest("Those files are no longer waiting to be sent; attach them again.")
    return files


@dataclass(frozen=True, slots=True)
class Stamp:
    """Who posted a message, and when: what the messages next to it are shown against."""

    author_id: int
    at: datetime


@dataclass(frozen=True, slots=True)
class Window:
    """A stretch of a room's history, oldest first, and what lies past its ends: whether
    older messages exist, how many newer ones (counted up to ``MAX_COUNTED``) lie between
    its last message and the bound it was asked for, and, for a window asked for before or
    after a message, that message's stamp (None if it never existed)."""

    messages: list[Message]
    older: bool = False
    newer: int = 0
    adjoins: Stamp | None = None


async def history(
    db: Database,
    user: User,
    slug: RoomRef,
    *,
    before: int | None = None,
    after: int | None = None,
    around: int | None = None,
    until: int | None = None,
    limit: int = PAGE_SIZE,
) -> Window:
    """A window on a room's history: the newest ``limit`` messages, those just before
    ``before``, those just after ``after``, or those surrounding ``around``; newer ones
    only up to message ``until`` when given. Deleted messages are left out."""
    bounds = (before, after, around, until)
    if not all(is_id(bound) for bound in bounds if bound is not None):
        raise NotFound("There is no such message.")
    async with db.read() as session:
        room = await readable_room(session, user.id, slug)
        visible = _messages().where(Message.room_id == room.id, Message.deleted_at.is_(None))
        if until is not None:
            visible = visible.where(Message.id <= until)
        if after is not None:
            shown = await _newer(session, visible, after, limit)
            last = shown[-1].id if shown else after
            counted = await _count_after(session, visible, last)
            return Window(shown, newer=counted, adjoins=await _stamp(session, room.id, after))
        if around is not None:
            older, more = await _older(
                session, visible.where(Message.id <= around), limit - limit // 2
            )
            newer = await _newer(session, visible, around, limit // 2)
            last = newer[-1].id if newer else around
            return Window(
                [*older, *newer], older=more, newer=await _count_after(session, visible, last)
            )
        if before is None:
            page, more = await _older(session, visible, limit)
            return Window(page, older=more)
        page, more = await _older(session, visible.where(Message.id < before), limit)
        return Window(page, older=more, adjoins=await _stamp(session, room.id, before))


async def find(db: Database, message_id: int) -> Message | None:
    """Message ``message_id`` with all it shows, whoever may read it: for the server's own
    work on a message (a bot's webhook), never a reader's."""
    async with db.read() as session:
        found: Message | None = await session.scalar(_messages().where(Message.id == message_id))
        return found


async def stamp(db: Database, room_id: int, message_id: int) -> Stamp | None:
    """The stamp of a message of the room, deleted or not; None if it has no such message."""
    if not is_id(message_id):
        return None
    async with db.read() as session:
        return await _stamp(session, room_id, message_id)


async def _stamp(session: AsyncSession, room_id: int, message_id: int) -> Stamp | None:
    found = await session.execute(
        select(Message.user_id, Message.inserted_at).where(
            Message.id == message_id, Message.room_id == room_id
        )
    )
    row = found.first()
    return None if row is None else Stamp(row.user_id, row.inserted_at)


async def _older(
    session: AsyncSession, visible: Select[tuple[Message]], limit: int
) -> tuple[list[Message], bool]:
    """The newest ``limit`` of ``visible``, oldest first, and whether any come before them:
    one row more is read, so that knowing costs no second query."""
    page = list((await session.scalars(visible.order_by(Message.id.desc()).limit(limit + 1))).all())
    return list(reversed(page[:limit])), len(page) > limit


async def _newer(
    session: AsyncSession, visible: Select[tuple[Message]], after: int, limit: int
) -> list[Message]:
    page = await session.scalars(
        visible.where(Message.id > after).order_by(Message.id).limit(limit)
    )
    return list(page.all())


async def _count_after(session: AsyncSession, visible: Select[tuple[Message]], last: int) -> int:
    """How many of ``visible`` come after message ``last``, counted up to ``MAX_COUNTED``:
    a reader needs to know how far the gap goes, not to have a long history counted."""
    counted = visible.with_only_columns(Message.id).where(Message.id > last).limit(MAX_COUNTED)
    return await session.scalar(select(func.count()).select_from(counted.subquery())) or 0


async def _changing(
    session: AsyncSession, user: User, message_id: int, room_id: int | None
) -> tuple[int, Message]:
    """The room's next sequence number and the message to change under it. With the room
    known, its row is taken first: it stays locked until the change commits, as for a post,
    so on a database with writers side by side an edit and a delete of one message, or two
    deletes, follow one another, and the second finds the message as the first left it."""
    if room_id is not None and is_id(message_id):
        seq = await _next_seq(session, room_id)
        return seq, await _editable_message(session, user, message_id, room_id)
    message = await _editable_message(session, user, message_id, room_id)
    return await _next_seq(session, message.room_id), message


async def _editable_message(
    session: AsyncSession, user: User, message_id: int, room_id: int | None = None
) -> Message:
    message, membership = await _members_message(session, user, message_id, room_id)
    if message.user_id != user.id and not membership.is_admin:
        raise Forbidden("You can only change your own messages.")
    return message


async def _members_message(
    session: AsyncSession, user: User, message_id: int, room_id: int | None = None
) -> tuple[Message, Membership]:
    """A message that is not deleted, in a room ``user`` belongs to, and their membership."""
    if not is_id(message_id):
        raise NotFound("This message no longer exists.")
    query = (
        _messages()
        .add_columns(Room)
        .join(Room, Room.id == Message.room_id)
        .where(Message.id == message_id, Message.deleted_at.is_(None), readable_by(user.id))
    )
    if room_id is not None:
        query = query.where(Message.room_id == room_id)
    found = (await session.execute(query)).first()
    if found is None:
        raise NotFound("This message no longer exists.")
    return found.Message, await require_membership(session, user.id, found.Room)


async def toggle_reaction(
    db: Database, user: User, message_id: int, emoji: str, *, room_id: int
) -> Message:
    """Add ``user``'s ``emoji`` to a message of the room, or take it back if it is there,
    as the room's next event: the message is shown again, with its reactions. Members
    react; the room's row is taken first, as for any change to a message."""
    if emoji not in REACTIONS:
        raise BadRequest("That reaction is not one on offer.")
    async with db.write() as session:
        seq = await _next_seq(session, room_id)
        message, _ = await _members_message(session, user, message_id, room_id)
        mine = (Reaction.message_id == message.id, Reaction.user_id == user.id)
        taken_back = await session.execute(
            delete(Reaction).where(*mine, Reaction.emoji == emoji).returning(Reaction.id)
        )
        if taken_back.first() is None:
            session.add(Reaction(message_id=message.id, user_id=user.id, emoji=emoji))
        message.seq = seq
        await session.flush()
        reactions = await session.scalars(
            select(Reaction)
            .where(Reaction.message_id == message.id)
            .order_by(Reaction.id)
            .options(selectinload(Reaction.person))
        )
        set_committed_value(message, "reactions", list(reactions))
    return message


async def own_message(db: Database, user: User, message_id: int, room_id: int) -> Message:
    """A message of the room that ``user`` wrote and may edit: not deleted, and theirs."""
    async with db.read() as session:
        return _authored_by(user, await _editable_message(session, user, message_id, room_id))


def _authored_by(user: User, message: Message) -> Message:
    if message.user_id != user.id:
        raise Forbidden("You can only edit your own messages.")
    return message


async def edit_message(
    db: Database, user: User, message_id: int, body: str, *, room_id: int | None = None
) -> Changed:
    """Give one's own message new text, marked as edited, as the room's next event: people
    it now mentions are notified, and those it no longer does are not. With ``room_id``, a
    message of any other room is not found."""
    body = clean_body(body)
    async with db.write() as session:
        seq, message = await _changing(session, user, message_id, room_id)
        _authored_by(user, message)
        mentions = await notifications.mentioned(session, message.room_id, user.id, body)
        alerted = await notifications.renotify(session, message, mentions)
        message.body = body
        message.edited_at = utcnow()
        message.seq = seq
    return Changed(message, frozenset(alerted))


async def delete_message(
    db: Database, user: User, message_id: int, *, room_id: int | None = None
) -> Changed:
    """Delete a message (one's own, or any as an admin of its room), leaving a tombstone,
    and the notifications it raised with it. With ``room_id``, a message of any other room
    is not found."""
    async with db.write() as session:
        seq, message = await _changing(session, user, message_id, room_id)
        message.body = ""
        message.mentions = None
        message.deleted_at = utcnow()
        message.seq = seq
        alerted = await notifications.withdraw(session, message)
        # The rows go with the message; the caller removes the files after the commit,
        # from the attachments still listed on the returned message.
        await session.execute(delete(Attachment).where(Attachment.message_id == message.id))
    return Changed(message, frozenset(alerted))


@dataclass(frozen=True, slots=True)
class Cursor:
    """How far a page has seen a room: its last event and the newest message id it knows
    of. Messages with a larger id are new to that page; the others it may be showing."""

    seq: int
    last_id: int


@dataclass(frozen=True, slots=True)
class Page:
    messages: list[Message]
    cursor: Cursor

    @property
    def window(self) -> Window:
        """The page as a window on history, which may go on before it if the page is full."""
        return Window(self.messages, older=len(self.messages) >= PAGE_SIZE)


@dataclass(frozen=True, slots=True)
class Changes:
    """What changed in a room after a cursor, in event order, tombstones included.
    ``complete`` is False when more changed than can be replayed one by one."""

    messages: list[Message]
    cursor: Cursor
    complete: bool


async def _cursor(session: AsyncSession, room: Room) -> Cursor:
    last_id = await session.scalar(select(func.max(Message.id)).where(Message.room_id == room.id))
    return Cursor(room.last_seq, last_id or 0)


async def cursors(db: Database, user_id: int, room_ids: Collection[int]) -> dict[int, Cursor]:
    """Where each of ``room_ids`` that ``user_id`` belongs to stands: its last event and
    its newest message, by room id."""
    newest = (
        select(func.coalesce(func.max(Message.id), 0))
        .where(Message.room_id == Room.id)
        .correlate(Room)
        .scalar_subquery()
    )
    async with db.read() as session:
        rows = await session.execute(
            select(Room.id, Room.last_seq, newest).where(
                Room.id.in_(list(room_ids)),
                exists().where(Membership.room_id == Room.id, Membership.user_id == user_id),
            )
        )
        return {room_id: Cursor(seq, last_id) for room_id, seq, last_id in rows}


async def latest_page(db: Database, user_id: int, room_ref: RoomRef) -> Page:
    """The newest page of a room, as ``user_id`` may read it, together with the cursor it
    is current to."""
    async with db.read() as session:
        room = await readable_room(session, user_id, room_ref)
        page = await session.scalars(
            _messages()
            .where(Message.room_id == room.id, Message.deleted_at.is_(None))
            .order_by(Message.id.desc())
            .limit(PAGE_SIZE)
        )
        return Page(list(reversed(page.all())), await _cursor(session, room))


async def changes_since(
    db: Database, user_id: int, room_ref: RoomRef, seq: int, *, limit: int = REPLAY_LIMIT
) -> Changes:
    """Every message created, edited or deleted in the room after event ``seq``, for a
    member, ``user_id``."""
    if not 0 <= seq <= MAX_ID:
        raise BadRequest("That is not a point in this room's history.")
    async with db.read() as session:
        room = await readable_room_as_member(session, user_id, room_ref)
        changed = (
            await session.scalars(
                _messages()
                .where(Message.room_id == room.id, Message.seq > seq)
                .order_by(Message.seq)
                .limit(limit + 1)
            )
        ).all()
        return Changes(list(changed[:limit]), await _cursor(session, room), len(changed) <= limit)
