"""Files shared in rooms: checked before anything is kept, stored under random names.

A file is accepted only when its extension is on the allow-list *and* its bytes agree:
images must decode with Pillow as the format their name claims, PDFs must start like one,
text must be UTF-8 without NUL bytes. The client's filename is kept for display only; on
disk a file is a random name in the uploads folder. An upload is *pending* until a message
carries it; pending uploads older than an hour are swept away, and deleting a message
deletes its files. Whoever may read a message may fetch its files; a pending file is its
uploader's alone.
"""

from __future__ import annotations

import asyncio
import io
import math
import re
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path, PurePath

from PIL import Image, UnidentifiedImageError
from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from livechat import files
from livechat.accounts.models import User
from livechat.chat.access import RoomRef, readable_by, readable_room, require_membership
from livechat.chat.models import Attachment, Membership, Message, Room
from livechat.db import Database, utcnow
from livechat.errors import BadRequest, LivechatError, NotFound, PayloadTooLarge
from livechat.inputs import is_id, is_text

MAX_PENDING = 3  # files one message may carry
MB = 1024 * 1024
ORIGINAL_NAME_MAX_LENGTH = 120
# A decoded image this large would take hundreds of megabytes of memory: refused.
MAX_IMAGE_PIXELS = 40_000_000

ALLOWED_TYPES = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".pdf": "application/pdf",
    ".txt": "text/plain",
}
SHAREABLE = "JPG, PNG, GIF, WebP, PDF and text files"
# Pillow's names for what each type may be. Cameras and phones write JPEGs that carry a
# second picture; Pillow calls those MPO, and they are JPEGs all the same.
_PILLOW_FORMATS = {
    "image/jpeg": {"JPEG", "MPO"},
    "image/png": {"PNG"},
    "image/gif": {"GIF"},
    "image/webp": {"WEBP"},
}
# Control characters, slashes, the bidirectional overrides that can make
# "invoice\u202egnp.exe" display as "invoiceexe.png", and lone surrogates, which no file
# name can store.
_UNSAFE_NAME_CHARACTERS = re.compile(
    r"[\x00-\x1f\x7f-\x9f/\\\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)


class TooManyFiles(BadRequest):
    """The message the file was for already carries all the files it can."""


@dataclass(frozen=True, slots=True)
class Inspected:
    content_type: str
    width: int | None
    height: int | None


@dataclass(frozen=True, slots=True)
class Chosen:
    """One file of an upload, and how to read it: each is read when its turn comes, so
    that those past a full message never are."""

    filename: str
    read: Callable[[], Awaitable[bytes]]


@dataclass(frozen=True, slots=True)
class Uploaded:
    """What became of the files of one upload: those kept, in the order chosen, and a
    refusal for each of the others."""

    kept: list[Attachment]
    refusals: list[LivechatError]


def size_text(size: int) -> str:
    """A size as people read it. It rounds up, so that a file just over a limit never
    reads as the limit itself."""
    if size < 1024:
        return f"{size} B"
    if size < MB:
        return f"{math.ceil(size / 1024)} KB"
    tenths = math.ceil(size * 10 / MB)
    return f"{tenths // 10} MB" if tenths % 10 == 0 else f"{tenths / 10:.1f} MB"


def allowance(max_bytes: int) -> str:
    """What may be attached, as the composer tells people before they choose."""
    return f"{SHAREABLE}, up to {size_text(max_bytes)} each, {MAX_PENDING} to a message"


def display_name(filename: str) -> str:
    """The client's filename, reduced to something safe to show (never used in a path)."""
    name = _UNSAFE_NAME_CHARACTERS.sub("", PurePath(filename.replace("\\", "/")).name).strip()
    return name[-ORIGINAL_NAME_MAX_LENGTH:] or "file"


def inspect(data: bytes, filename: str, max_bytes: int) -> Inspected:
    """Check an upload's bytes against its name; raise with a message naming the file."""
    name = display_name(filename)
    content_type = ALLOWED_TYPES.get(PurePath(name).suffix.lower())
    if content_type is None:
        raise BadRequest(f"{name}: only {SHAREABLE} can be shared.")
    if not data:
        raise BadRequest(f"{name} is empty.")
    if len(data) > max_bytes:
        raise PayloadTooLarge(
            f"{name} is {size_text(len(data))}: a file can be up to {size_text(max_bytes)}."
        )
    if content_type in _PILLOW_FORMATS:
        width, height = _image_size(data, _PILLOW_FORMATS[content_type], name)
        return Inspected(content_type, width, height)
    if content_type == "application/pdf" and not data.startswith(b"%PDF-"):
        raise BadRequest(f"{name} is not a PDF document.")
    if content_type == "text/plain" and not _is_text(data):
        raise BadRequest(f"{name} is not a UTF-8 text file.")
    return Inspected(content_type, None, None)


def _image_size(data: bytes, expected_formats: set[str], name: str) -> tuple[int, int]:
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format not in expected_formats:
                raise BadRequest(f"{name} is not the kind of image its name says.")
            if image.width * image.height > MAX_IMAGE_PIXELS:
                raise BadRequest(f"{name} has too many pixels.")
            image.load()  # decode it all: a truncated or corrupt file fails here
            return image.width, image.height
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError):
        raise BadRequest(f"{name} is not a valid image.") from None


def _is_text(data: bytes) -> bool:
    if b"\x00" in data:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def stored_path(uploads_dir: Path, stored_name: str) -> Path:
    return uploads_dir / stored_name[:2] / stored_name


async def _pending_count(session: AsyncSession, user: User, room_id: int) -> int:
    count = await session.scalar(
        select(func.count(Attachment.id)).where(
            Attachment.uploader_id == user.id,
            Attachment.room_id == room_id,
            Attachment.message_id.is_(None),
        )
    )
    return count or 0


async def upload(
    db: Database,
    user: User,
    room_ref: RoomRef,
    *,
    filename: str,
    data: bytes,
    uploads_dir: Path,
    max_bytes: int,
) -> Attachment:
    """Check and keep one file for the user's next message in the room."""
    async with db.read() as session:
        room = await readable_room(session, user.id, room_ref)
        await require_membership(session, user.id, room)
        if await _pending_count(session, user, room.id) >= MAX_PENDING:
            raise TooManyFiles(f"A message can carry {MAX_PENDING} files at most.")
    inspected = await asyncio.to_thread(inspect, data, filename, max_bytes)
    extension = PurePath(display_name(filename)).suffix.lower()
    stored_name = secrets.token_hex(16) + extension
    path = stored_path(uploads_dir, stored_name)
    await files.write_file(path, data)
    try:
        async with db.write() as session:
            # Where writers run side by side (PostgreSQL), the person's uploads to the room
            # take turns here, so that two at once cannot both find room for one more.
            await session.execute(
                select(Membership.id)
                .where(Membership.user_id == user.id, Membership.room_id == room.id)
                .with_for_update()
            )
            if await _pending_count(session, user, room.id) >= MAX_PENDING:
                raise TooManyFiles(f"A message can carry {MAX_PENDING} files at most.")
            attachment = Attachment(
                room_id=room.id,
                uploader_id=user.id,
                stored_name=stored_name,
                original_name=display_name(filename),
                content_type=inspected.content_type,
                size=len(data),
                width=inspected.width,
                height=inspected.height,
            )
            session.add(attachment)
    except BaseException:
        await files.remove_files([path])
        raise
    return attachment


async def upload_many(
    db: Database,
    user: User,
    room_ref: RoomRef,
    chosen: Sequence[Chosen],
    *,
    uploads_dir: Path,
    max_bytes: int,
) -> Uploaded:
    """Check and keep each chosen file, in the order chosen, for the user's next message:
    each is kept or refused on its own, and those the message has no room left for are
    refused together. A room the user may not upload into refuses them all."""
    async with db.read() as session:
        room = await readable_room(session, user.id, room_ref)
        await require_membership(session, user.id, room)
    kept: list[Attachment] = []
    refusals: list[LivechatError] = []
    for index, file in enumerate(chosen):
        try:
            data = await file.read()
            kept.append(
                await upload(
                    db,
                    user,
                    room.id,
                    filename=file.filename,
                    data=data,
                    uploads_dir=uploads_dir,
                    max_bytes=max_bytes,
                )
            )
        except TooManyFiles:
            refusals.append(TooManyFiles(_not_added([left.filename for left in chosen[index:]])))
            break
        except LivechatError as error:
            refusals.append(error)
    return Uploaded(kept, refusals)


def _not_added(filenames: list[str]) -> str:
    names = [display_name(filename) for filename in filenames]
    if len(names) <= 2:
        listed = " and ".join(names)
    else:
        listed = f"{names[0]}, {names[1]} and {len(names) - 2} more"
    verb = "was" if len(names) == 1 else "were"
    return f"{listed} {verb} not added: a message can carry {MAX_PENDING} files at most."


async def pending(db: Database, user: User, room_id: int) -> list[Attachment]:
    """The user's uploads in a room that no message carries yet, oldest first."""
    async with db.read() as session:
        found = await session.scalars(
            select(Attachment)
            .where(
                Attachment.uploader_id == user.id,
                Attachment.room_id == room_id,
                Attachment.message_id.is_(None),
            )
            .order_by(Attachment.id)
        )
        return list(found)


async def discard(db: Database, user: User, attachment_id: int, uploads_dir: Path) -> None:
    """Remove one of the user's pending uploads."""
    if not is_id(attachment_id):
        raise NotFound("That file is no longer waiting to be sent.")
    async with db.write() as session:
        # Locked, where writers run side by side: a post taking it meanwhile waits, and
        # then finds it gone, instead of sending a message whose file was just deleted.
        attachment = await session.scalar(
            select(Attachment)
            .where(
                Attachment.id == attachment_id,
                Attachment.uploader_id == user.id,
                Attachment.message_id.is_(None),
            )
            .with_for_update()
        )
        if attachment is None:
            raise NotFound("That file is no longer waiting to be sent.")
        await session.delete(attachment)
    await files.remove_files([stored_path(uploads_dir, attachment.stored_name)])


async def readable_file(db: Database, user: User, stored_name: str) -> Attachment:
    """The attachment behind a stored name, if the user may fetch it. To anyone else it
    does not exist."""
    if not is_text(stored_name):
        raise NotFound("There is no such file.")
    # Whoever may read a message may see its files, by the rule that scopes every read of
    # a room; a file no message carries yet is its uploader's alone. A deleted message's
    # files go with it.
    in_a_readable_message = and_(
        Message.id.is_not(None), Message.deleted_at.is_(None), readable_by(user.id)
    )
    pending_for_its_uploader = and_(
        Attachment.message_id.is_(None), Attachment.uploader_id == user.id
    )
    async with db.read() as session:
        attachment = await session.scalar(
            select(Attachment)
            .join(Room, Room.id == Attachment.room_id)
            .outerjoin(Message, Message.id == Attachment.message_id)
            .where(
                Attachment.stored_name == stored_name,
                or_(in_a_readable_message, pending_for_its_uploader),
            )
        )
        if attachment is None:
            raise NotFound("There is no such file.")
        return attachment


async def room_files(db: Database, room_id: int) -> list[str]:
    """The stored names of every file shared or waiting in a room."""
    async with db.read() as session:
        return list(
            await session.scalars(
                select(Attachment.stored_name).where(Attachment.room_id == room_id)
            )
        )


async def remove_files(uploads_dir: Path, stored_names: list[str]) -> None:
    await files.remove_files(stored_path(uploads_dir, name) for name in stored_names)


async def sweep_abandoned(db: Database, uploads_dir: Path, older_than_seconds: float) -> int:
    """Delete pending uploads no message took within ``older_than_seconds``; how many."""
    cutoff = utcnow() - timedelta(seconds=older_than_seconds)
    # One statement that finds and deletes: where writers run side by side, a post may
    # take an upload between a look and a delete, and its file would go with it.
    async with db.write() as session:
        stale = list(
            await session.scalars(
                delete(Attachment)
                .where(Attachment.message_id.is_(None), Attachment.inserted_at < cutoff)
                .returning(Attachment.stored_name),
                execution_options={"synchronize_session": False},
            )
        )
    await remove_files(uploads_dir, stale)
    return len(stale)
