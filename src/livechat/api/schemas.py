"""What the API says, as the OpenAPI schema documents it: people, rooms, messages, files
and errors, built from the store's objects (and from the events the hub carries, whose
objects are the same)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from livechat.accounts.models import User
from livechat.accounts.tokens import Grant
from livechat.chat.attachments import display_name
from livechat.chat.messages import MESSAGE_MAX_LENGTH
from livechat.chat.models import (
    ROOM_DESCRIPTION_MAX_LENGTH,
    ROOM_NAME_MAX_LENGTH,
    Attachment,
    Message,
    by_emoji,
)
from livechat.chat.rooms import RoomListing
from livechat.inputs import MAX_ID

API_PREFIX = "/api/v1"
QUOTE_LENGTH = 120


class Person(BaseModel):
    id: int
    name: str
    handle: str
    avatar_url: str | None

    @classmethod
    def of(cls, user: User) -> Person:
        return cls(
            id=user.id, name=user.display_name, handle=user.handle, avatar_url=user.avatar_url
        )


class TokenInfo(BaseModel):
    scope: Literal["read", "write"] = Field(description="write includes read")
    room_ids: list[int] | None = Field(description="the rooms it reaches; null for all")


class Me(Person):
    is_bot: bool
    token: TokenInfo

    @classmethod
    def of_grant(cls, grant: Grant) -> Me:
        user = grant.user
        rooms = None if grant.room_ids is None else sorted(grant.room_ids)
        return cls(
            **Person.of(user).model_dump(),
            is_bot=user.is_bot,
            token=TokenInfo(scope=grant.scope.value, room_ids=rooms),
        )


class RoomOut(BaseModel):
    id: int
    slug: str
    name: str
    description: str
    is_private: bool
    is_direct: bool
    member_count: int
    role: Literal["admin", "member"] | None = Field(description="yours; null if not a member")
    unread: int = Field(description="messages by others since you last read the room")

    @classmethod
    def of(cls, listing: RoomListing) -> RoomOut:
        room = listing.room
        return cls(
            id=room.id,
            slug=room.slug,
            name=room.name,
            description=room.description,
            is_private=room.is_private,
            is_direct=room.is_direct,
            member_count=listing.member_count,
            role=None if listing.role is None else listing.role.value,
            unread=listing.unread,
        )


class RoomIn(BaseModel):
    name: str = Field(min_length=1, max_length=ROOM_NAME_MAX_LENGTH)
    description: str = Field(default="", max_length=ROOM_DESCRIPTION_MAX_LENGTH)
    is_private: bool = False


class Member(BaseModel):
    person: Person
    role: Literal["admin", "member"]


class AttachmentOut(BaseModel):
    id: int
    name: str
    content_type: str
    size: int = Field(description="in bytes")
    width: int | None = Field(description="an image's, in pixels")
    height: int | None
    url: str = Field(description="where the API serves it, to a caller who may read it")

    @classmethod
    def of(cls, file: Attachment) -> AttachmentOut:
        return cls(
            id=file.id,
            name=display_name(file.original_name),
            content_type=file.content_type,
            size=file.size,
            width=file.width,
            height=file.height,
            url=f"{API_PREFIX}/files/{file.stored_name}",
        )


class Quote(BaseModel):
    id: int
    author: Person | None = Field(description="null once the message is deleted")
    excerpt: str | None = Field(description="null once the message is deleted")


class ReactionOut(BaseModel):
    emoji: str
    people: list[Person]


class MessageOut(BaseModel):
    id: int
    room_id: int
    seq: int = Field(description="the room's event number of its latest change")
    author: Person
    body: str = Field(description="empty once deleted")
    mentions: dict[str, int] = Field(description="the handles it mentions, as written, by id")
    reply_to: Quote | None
    attachments: list[AttachmentOut]
    reactions: list[ReactionOut]
    created_at: datetime
    edited_at: datetime | None
    deleted: bool

    @classmethod
    def of(cls, message: Message) -> MessageOut:
        return cls(
            id=message.id,
            room_id=message.room_id,
            seq=message.seq,
            author=Person.of(message.author),
            body=message.body,
            mentions=message.mentions or {},
            reply_to=_quote(message),
            attachments=[AttachmentOut.of(file) for file in message.attachments],
            reactions=_reactions(message),
            created_at=message.inserted_at,
            edited_at=message.edited_at,
            deleted=message.is_deleted,
        )


def _quote(message: Message) -> Quote | None:
    if message.reply_to_id is None:
        return None
    original = message.reply_to
    if original is None or original.is_deleted:
        return Quote(id=message.reply_to_id, author=None, excerpt=None)
    excerpt = original.body[:QUOTE_LENGTH] + ("…" if len(original.body) > QUOTE_LENGTH else "")
    return Quote(id=original.id, author=Person.of(original.author), excerpt=excerpt)


def _reactions(message: Message) -> list[ReactionOut]:
    return [
        ReactionOut(emoji=emoji, people=[Person.of(person) for person in people])
        for emoji, people in by_emoji(message.reactions)
        if people
    ]


class MessageIn(BaseModel):
    body: str = Field(default="", max_length=MESSAGE_MAX_LENGTH)
    reply_to: int | None = Field(default=None, ge=1, le=MAX_ID)
    attachment_ids: list[int] = Field(
        default_factory=list,
        max_length=10,
        description="files uploaded to the room for this message",
    )


class MessageEdit(BaseModel):
    body: str = Field(max_length=MESSAGE_MAX_LENGTH)


class History(BaseModel):
    messages: list[MessageOut] = Field(description="oldest first")
    has_older: bool = Field(description="whether messages before the first exist")
    newer: int = Field(description="how many messages after the last (counted up to 1,000)")


class SearchHit(BaseModel):
    message_id: int
    room: str = Field(description="the room's slug")
    room_name: str
    author: str
    author_id: int
    created_at: datetime
    snippet: str = Field(description="HTML: the matching words in <mark>, the rest escaped")


class SearchPage(BaseModel):
    results: list[SearchHit]
    next_offset: int | None = Field(description="where the next page starts; null at the end")


class ErrorDetail(BaseModel):
    code: str = Field(description="stable, for programs: bad_request, not_found, …")
    message: str = Field(description="for people")


class ErrorOut(BaseModel):
    error: ErrorDetail
