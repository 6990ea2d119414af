"""Events between processes: what one process publishes, another receives whole, and
shows exactly as the first would have."""

from __future__ import annotations

from pathlib import Path

import pytest

from livechat.accounts.models import User
from livechat.chat import attachments, messages, rooms
from livechat.chat.models import Message, Room
from livechat.db import Database
from livechat.realtime import broadcasts
from livechat.realtime.events import (
    MessageChanged,
    MessageCreated,
    PresenceChanged,
    RoomChanged,
    RoomJoined,
)
from livechat.realtime.hub import Broadcast
from livechat.realtime.presence import Person, PresenceChange
from livechat.web.fragments import MessageFragments
from livechat.web.templating import templates

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def shown(message: Message) -> str:
    """The message's fragment, rendered afresh rather than found among those kept."""
    return MessageFragments(templates.env).html(message)


def across(broadcast: Broadcast) -> Broadcast:
    """``broadcast`` as another process receives it."""
    return Broadcast.decode(broadcast.encode())


async def test_a_message_with_everything_it_can_carry_arrives_whole_and_shows_the_same(
    db: Database, general: Room, alice: User, bob: User, tmp_path: Path
) -> None:
    original = await messages.create_message(db, alice, general.id, "Plans for @bob?")
    plan = await attachments.upload(
        db, bob, general.id, filename="plan.pdf", data=PDF, uploads_dir=tmp_path, max_bytes=1000
    )
    reply = await messages.create_message(
        db, bob, general.id, "Here <b>they</b> are", attachment_ids=[plan.id],
        reply_to=original.message.id,
    )  # fmt: skip
    reacted = await messages.toggle_reaction(db, alice, reply.message.id, "🎉", room_id=general.id)

    sent = broadcasts.message_changed(reacted)
    arrived = across(sent)

    assert isinstance(arrived.event, MessageChanged)
    assert arrived.seq == sent.seq == reacted.seq
    received = arrived.event.message
    assert received.reply_to is not None
    assert received.reply_to.body == "Plans for @bob?"
    assert [file.original_name for file in received.attachments] == ["plan.pdf"]
    assert [(r.emoji, r.person.display_name) for r in received.reactions] == [
        ("🎉", alice.display_name)
    ]
    assert shown(received) == shown(reacted)


async def test_a_mention_and_a_deletion_arrive_as_they_were_made(
    db: Database, general: Room, alice: User, bob: User
) -> None:
    posted = await messages.create_message(db, alice, general.id, f"Over to you, @{bob.handle}")
    deleted = await messages.delete_message(db, alice, posted.message.id, room_id=general.id)

    created = across(broadcasts.message_created(posted.message)).event
    assert isinstance(created, MessageCreated)
    assert created.message.mentions == {bob.handle: bob.id}
    gone = across(broadcasts.message_changed(deleted.message)).event
    assert isinstance(gone, MessageChanged)
    assert gone.message.is_deleted


async def test_a_renamed_room_arrives_with_its_new_name_and_address(
    db: Database, general: Room, alice: User
) -> None:
    renamed = await rooms.update_room(db, alice, general.slug, name="Town square", description="")

    arrived = across(broadcasts.room_changed(renamed, renamed=True)).event

    assert isinstance(arrived, RoomChanged)
    assert arrived.renamed
    assert (arrived.room.id, arrived.room.name, arrived.room.slug) == (
        general.id, "Town square", "town-square",
    )  # fmt: skip


def test_a_room_joined_arrives_with_the_room_its_listeners_follow(general: Room) -> None:
    sent = broadcasts.room_joined(general)

    arrived = across(sent)

    assert isinstance(arrived.event, RoomJoined)
    assert arrived.room_id == general.id
    assert (arrived.event.room.id, arrived.event.room.name) == (general.id, general.name)


def test_presence_is_worked_out_by_each_process_and_never_sent_between_them() -> None:
    change = PresenceChange(room_id=1, version=3, joined=(Person(1, "Alice"),))

    with pytest.raises(TypeError, match="never sent"):
        broadcasts.presence_changed(change).encode()
    assert isinstance(broadcasts.presence_changed(change).event, PresenceChanged)
