"""Rooms, who belongs to them, and what is said in them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from livechat.accounts.models import User
from livechat.db import Base, UTCDateTime, utcnow

ROOM_NAME_MAX_LENGTH = 60
# A slug is at most a name long, and may take a number to tell it from its namesakes.
ROOM_SLUG_MAX_LENGTH = ROOM_NAME_MAX_LENGTH + 8
ROOM_DESCRIPTION_MAX_LENGTH = 280
CLIENT_MSG_ID_MAX_LENGTH = 64
DIRECT_KEY_MAX_LENGTH = 40  # two 64-bit ids and a colon


class Role(StrEnum):
    ADMIN = "admin"
    MEMBER = "member"


class Room(Base):
    __tablename__ = "rooms"
    # As for messages: a deleted room's id is never another's (migration 0015).
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(ROOM_NAME_MAX_LENGTH))
    slug: Mapped[str] = mapped_column(String(ROOM_SLUG_MAX_LENGTH), unique=True)
    description: Mapped[str] = mapped_column(String(ROOM_DESCRIPTION_MAX_LENGTH), default="")
    creator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    is_private: Mapped[bool] = mapped_column(Boolean, default=False)
    # For a direct conversation, the ids of its two people, lower first ("3:7"): there is
    # one per pair, and it is private by construction (``chat/rooms.py``).
    direct_key: Mapped[str | None] = mapped_column(
        String(DIRECT_KEY_MAX_LENGTH), unique=True, index=True
    )
    # The room's event sequence: bumped by every create, edit and delete of a message, so
    # a reconnecting page can ask for exactly what it missed.
    last_seq: Mapped[int] = mapped_column(default=0)
    inserted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    @property
    def is_direct(self) -> bool:
        return self.direct_key is not None


class FormerSlug(Base):
    """An address a room had before a rename, so that links to it still lead to the room.
    No other room takes it while this one exists (``chat/rooms.py`` says why); the room
    itself takes it back by being renamed back."""

    __tablename__ = "former_slugs"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(ROOM_SLUG_MAX_LENGTH), unique=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"), index=True)


class Membership(Base):
    __tablename__ = "memberships"
    __table_args__ = (
        UniqueConstraint("user_id", "room_id"),
        CheckConstraint("role IN ('admin', 'member')", name="role"),
        Index("ix_memberships_room_id", "room_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(16), default=Role.MEMBER)
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The newest message of the room its person has seen: the ones after it are unread.
    last_read_id: Mapped[int] = mapped_column(default=0)

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        # Without AUTOINCREMENT SQLite hands the id of a deleted last row to the next
        # message, and a client holding the old id would confuse the two.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    body: Mapped[str] = mapped_column(Text)
    seq: Mapped[int] = mapped_column()
    # With the key a page sent the message under, a digest of what it sent: together they
    # tell a resend (same key, same content) from new text sent before the key changed.
    client_msg_id: Mapped[str | None] = mapped_column(String(CLIENT_MSG_ID_MAX_LENGTH))
    content_digest: Mapped[str | None] = mapped_column(String(32))
    inserted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A deleted message stays as a tombstone with its body cleared, so that pages which
    # were offline learn of the deletion when they catch up.
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The earlier message of the room this one answers (migration 0009 says why no key).
    reply_to_id: Mapped[int | None] = mapped_column()
    # The members it mentions, by the handle it names them with: what its text links, as
    # it was written, even after one of them takes another handle.
    mentions: Mapped[dict[str, int] | None] = mapped_column(JSON)

    author: Mapped[User] = relationship(lazy="raise")
    reply_to: Mapped[Message | None] = relationship(
        lazy="raise",
        primaryjoin="foreign(Message.reply_to_id) == remote(Message.id)",
        viewonly=True,
    )
    attachments: Mapped[list[Attachment]] = relationship(
        lazy="raise", order_by="Attachment.id", back_populates="message"
    )
    reactions: Mapped[list[Reaction]] = relationship(lazy="raise", order_by="Reaction.id")

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None


Index("ix_messages_room_id_id", Message.room_id, Message.id)
Index("ix_messages_room_id_seq", Message.room_id, Message.seq, unique=True)
Index(
    "ix_messages_room_id_user_id_client_msg_id_content_digest",
    Message.room_id,
    Message.user_id,
    Message.client_msg_id,
    Message.content_digest,
    unique=True,
)


class Attachment(Base):
    """A file uploaded into a room, attached to a message once that message is sent."""

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"), index=True)
    uploader_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), index=True
    )
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)
    original_name: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    inserted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    message: Mapped[Message | None] = relationship(lazy="raise", back_populates="attachments")


# The reactions on offer, in the order a message shows them: a small fixed set, as in
# Campfire, so that a count means the same thing to everyone.
REACTIONS = ("👍", "❤️", "😂", "🎉", "😮", "👀")


class Reaction(Base):
    """One person's emoji on one message; the unique key makes a second click take it back."""

    __tablename__ = "reactions"
    __table_args__ = (UniqueConstraint("message_id", "user_id", "emoji"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    emoji: Mapped[str] = mapped_column(String(16))

    person: Mapped[User] = relationship(lazy="raise")


def by_emoji(reactions: Iterable[Reaction]) -> list[tuple[str, list[User]]]:
    """Each reaction on offer, in the set's order, with who gave it, in the order they did
    (no one, for one not given): how a message's reactions are shown, on a page or to a
    program."""
    people: dict[str, list[User]] = {emoji: [] for emoji in REACTIONS}
    for reaction in reactions:
        people[reaction.emoji].append(reaction.person)
    return list(people.items())


class Kind(StrEnum):
    """Why someone is notified of a message."""

    MENTION = "mention"
    DIRECT = "direct"


class Notification(Base):
    """A message someone must not miss: one that mentions them, or one sent to them
    directly. It counts until they read it, and stays listed on their Mentions page."""

    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("user_id", "message_id"),
        CheckConstraint("kind IN ('mention', 'direct')", name="kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    message_id: Mapped[int] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), index=True
    )
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


# What the badges count, for one person: their notifications not yet read.
Index(
    "ix_notifications_unread",
    Notification.user_id,
    Notification.room_id,
    sqlite_where=Notification.read_at.is_(None),
    postgresql_where=Notification.read_at.is_(None),
)
Index("ix_notifications_user_id_id", Notification.user_id, Notification.id)
