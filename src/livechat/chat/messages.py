"""Messages: posting (idempotently), paging through history, editing and deleting.

Every change to a message stamps it with the room's next event sequence number, so that a
page which missed some events can ask for everything after the last one it saw.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Select, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.attributes import set_committed_value

from livechat.accounts.models import User
from livechat.chat.access import (
    RoomRef,
    readable_by,
    readable_room,
    require_membership,
    room_of_member,
)
from livechat.chat.models import CLIENT_MSG_ID_MAX_LENGTH, Attachment, Message, Room
from livechat.db import Database, utcnow
from livechat.errors import BadRequest, Forbidden, NotFound
from livechat.inputs import MAX_ID, is_id, is_text

MESSAGE_MAX_LENGTH = 4000
PAGE_SIZE = 50
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


def content_digest(body: str, attachment_ids: Sequence[int]) -> str:
    """What a send carried, in a few bytes: its cleaned text and the files it named."""
    content = body + "\0" + ",".join(str(i) for i in sorted(set(attachment_ids)))
    return hashlib.sha256(content.encode()).hexdigest()[:32]


def clean_body(body: str, *, allow_empty: bool = False) -> str:
    if not is_text(body):
        raise BadRequest("That message has characters that are not valid text.")
    body = CONTROL_CHARACTERS.sub("", body.replace("\r\n", "\n").replace("\r", "\n")).strip()
    if not body and not allow_empty:
        raise BadRequest("A message can't be empty.")
    if len(body) > MESSAGE_MAX_LENGTH:
        raise BadRequest(
            f"Messages are at most {MESSAGE_MAX_LENGTH:,} characters; this one has {len(body):,}."
        )
    return body


def _messages() -> Select[tuple[Message]]:
    """Messages with what rendering them needs, loaded up front (lazy loads are refused)."""
    return select(Message).options(selectinload(Message.author), selectinload(Message.attachments))


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


async def create_message(
    db: Database,
    user: User,
    room_ref: RoomRef,
    body: str,
    client_msg_id: str | None = None,
    attachment_ids: Sequence[int] = (),
) -> Posted:
    """Post a message, carrying the user's pending uploads named in ``attachment_ids``; with
    files, the text may be empty. A send repeated with the same ``client_msg_id`` and the
    same content returns the first message unchanged, so a retried or doubled send is
    stored once; the same key with other content is another message, since a page keeps
    its key until a send is acknowledged."""
    body = clean_body(body, allow_empty=bool(attachment_ids))
    if client_msg_id is not None and not CLIENT_MSG_ID.fullmatch(client_msg_id):
        raise BadRequest("This message form has expired; reload the page to send again.")
    if not all(is_id(attachment_id) for attachment_id in attachment_ids):
        raise BadRequest("Those files are no longer waiting to be sent; attach them again.")
    async with db.write() as session:
        room = await room_of_member(session, user.id, room_ref)
        digest = None
        if client_msg_id is not None:
            digest = content_digest(body, attachment_ids)
            seen = await session.scalar(
                _messages().where(
                    Message.room_id == room.id,
                    Message.user_id == user.id,
                    Message.client_msg_id == client_msg_id,
                    Message.content_digest == digest,
                )
            )
            if seen is not None:
                return Posted(seen, created=False)
        message = Message(
            room_id=room.id,
            user_id=user.id,
            body=body,
            client_msg_id=client_msg_id,
            content_digest=digest,
            seq=await _next_seq(session, room.id),
        )
        session.add(message)
        await session.flush()
        files: list[Attachment] = []
        if attachment_ids:
            files = await _attach(session, user, message, attachment_ids)
        # What rendering needs is at hand: no need to read the message back.
        set_committed_value(message, "author", user)
        set_committed_value(message, "attachments", files)
    return Posted(message, created=True)


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


async def list_messages(
    db: Database,
    user: User,
    slug: str,
    *,
    before: int | None = None,
    around: int | None = None,
    limit: int = PAGE_SIZE,
) -> list[Message]:
    """A page of a room's history, oldest first: the newest ``limit`` messages, those just
    before ``before``, or those surrounding ``around``. Deleted messages are left out."""
    if not all(is_id(bound) for bound in (before, around) if bound is not None):
        raise NotFound("There is no such message.")
    async with db.read() as session:
        room = await readable_room(session, user.id, slug)
        visible = _messages().where(Message.room_id == room.id, Message.deleted_at.is_(None))
        if around is not None:
            older = await session.scalars(
                visible.where(Message.id <= around)
                .order_by(Message.id.desc())
                .limit(limit - limit // 2)
            )
            newer = await session.scalars(
                visible.where(Message.id > around).order_by(Message.id).limit(limit // 2)
            )
            return [*reversed(older.all()), *newer.all()]
        if before is not None:
            visible = visible.where(Message.id < before)
        page = await session.scalars(visible.order_by(Message.id.desc()).limit(limit))
        return list(reversed(page.all()))


async def _editable_message(
    session: AsyncSession, user: User, message_id: int, room_id: int | None = None
) -> Message:
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
    message: Message = found.Message
    room: Room = found.Room
    membership = await require_membership(session, user.id, room)
    if message.user_id != user.id and not membership.is_admin:
        raise Forbidden("You can only change your own messages.")
    return message


async def edit_message(db: Database, user: User, message_id: int, body: str) -> Message:
    body = clean_body(body)
    async with db.write() as session:
        message = await _editable_message(session, user, message_id)
        if message.user_id != user.id:
            raise Forbidden("You can only edit your own messages.")
        message.body = body
        message.edited_at = utcnow()
        message.seq = await _next_seq(session, message.room_id)
    return message


async def delete_message(
    db: Database, user: User, message_id: int, *, room_id: int | None = None
) -> Message:
    """Delete a message (one's own, or any as an admin of its room), leaving a tombstone.
    With ``room_id``, a message of any other room is not found."""
    async with db.write() as session:
        message = await _editable_message(session, user, message_id, room_id)
        message.body = ""
        message.deleted_at = utcnow()
        message.seq = await _next_seq(session, message.room_id)
        # The rows go with the message; the caller removes the files after the commit,
        # from the attachments still listed on the returned message.
        await session.execute(delete(Attachment).where(Attachment.message_id == message.id))
    return message


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


async def latest_page(db: Database, user: User, room_ref: RoomRef) -> Page:
    """The newest page of a room together with the cursor it is current to."""
    async with db.read() as session:
        room = await readable_room(session, user.id, room_ref)
        page = await session.scalars(
            _messages()
            .where(Message.room_id == room.id, Message.deleted_at.is_(None))
            .order_by(Message.id.desc())
            .limit(PAGE_SIZE)
        )
        return Page(list(reversed(page.all())), await _cursor(session, room))


async def changes_since(
    db: Database, user: User, room_ref: RoomRef, seq: int, *, limit: int = REPLAY_LIMIT
) -> Changes:
    """Every message created, edited or deleted in the room after event ``seq``."""
    if not 0 <= seq <= MAX_ID:
        raise BadRequest("That is not a point in this room's history.")
    async with db.read() as session:
        room = await readable_room(session, user.id, room_ref)
        await require_membership(session, user.id, room)
        changed = (
            await session.scalars(
                _messages()
                .where(Message.room_id == room.id, Message.seq > seq)
                .order_by(Message.seq)
                .limit(limit + 1)
            )
        ).all()
        return Changes(list(changed[:limit]), await _cursor(session, room), len(changed) <= limit)
