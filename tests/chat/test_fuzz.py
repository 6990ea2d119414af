"""The Chat service's entry points, fed arbitrary strings and integers: whatever comes in,
the answer is a result or a refusal from ``livechat.errors``, never another exception.

Strings include lone surrogates and NULs, integers run far past 64 bits: the inputs that
once made the driver raise ``UnicodeEncodeError`` and ``OverflowError`` inside a write.
"""

from __future__ import annotations

from collections.abc import Awaitable
from pathlib import Path
from typing import TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from livechat.accounts.auth import Accounts
from livechat.accounts.models import User
from livechat.chat import attachments, messages, rooms, search
from livechat.chat.models import Room
from livechat.db import Database
from livechat.errors import LivechatError, NotFound
from livechat.inputs import is_text
from livechat.settings import Settings

# Each example runs real queries on a real database, so fewer of them than usual; the
# strategies below put their weight on the values that used to break things.
FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

texts = st.text(max_size=80) | st.sampled_from(["x\ud800", "\udfff", "\x00", "", " ", "a" * 5000])
T = TypeVar("T")

integers = st.integers() | st.sampled_from([0, -1, 2**63 - 1, 2**63, 2**64, -(2**63) - 1])


async def outcome(step: Awaitable[T]) -> T | LivechatError:
    """What a call gave back, or the refusal it raised; any other exception fails the test."""
    try:
        return await step
    except LivechatError as refusal:
        return refusal


@pytest.fixture
async def room(db: Database, alice: User, bob: User) -> Room:
    room = await rooms.create_room(db, alice, name="General")
    await rooms.join_room(db, bob, room.slug)
    await messages.create_message(db, bob, room.slug, "hello")
    return room


@FUZZ
@given(body=texts, client_msg_id=st.none() | texts, attachment_ids=st.lists(integers, max_size=4))
async def test_posting_anything_is_stored_or_refused(
    db: Database,
    room: Room,
    bob: User,
    body: str,
    client_msg_id: str | None,
    attachment_ids: list[int],
) -> None:
    posted = await outcome(
        messages.create_message(db, bob, room.id, body, client_msg_id, attachment_ids)
    )
    if isinstance(posted, messages.Posted):
        assert posted.message.body == messages.clean_body(body, allow_empty=True)


@FUZZ
@given(message_id=integers, body=texts)
async def test_editing_or_deleting_any_id_is_done_or_refused(
    db: Database, room: Room, bob: User, message_id: int, body: str
) -> None:
    edited = await outcome(messages.edit_message(db, bob, message_id, body))
    deleted = await outcome(messages.delete_message(db, bob, message_id, room_id=room.id))
    for changed in (edited, deleted):
        assert isinstance(changed, LivechatError) or changed.message.id == message_id


@FUZZ
@given(
    before=st.none() | integers,
    after=st.none() | integers,
    around=st.none() | integers,
    until=st.none() | integers,
    seq=integers,
    slug=texts,
)
async def test_reading_history_from_any_point_answers_or_refuses(
    db: Database,
    room: Room,
    bob: User,
    before: int | None,
    after: int | None,
    around: int | None,
    until: int | None,
    seq: int,
    slug: str,
) -> None:
    window = await outcome(
        messages.history(db, bob, room.slug, before=before, after=after, around=around, until=until)
    )
    assert isinstance(window, LivechatError) or len(window.messages) <= messages.PAGE_SIZE
    changes = await outcome(messages.changes_since(db, bob.id, room.id, seq))
    assert isinstance(changes, LivechatError) or all(m.seq > seq for m in changes.messages)
    elsewhere = await outcome(rooms.get_room(db, bob, slug))
    assert isinstance(elsewhere, LivechatError) or elsewhere.room.slug == slug


@FUZZ
@given(query=texts, slug=st.none() | texts, offset=integers)
async def test_searching_for_anything_answers_or_refuses(
    db: Database, room: Room, bob: User, query: str, slug: str | None, offset: int
) -> None:
    found = await outcome(search.search_messages(db, bob, query, slug, offset=offset))
    assert isinstance(found, LivechatError) or all(r.room_slug == room.slug for r in found)


@FUZZ
@given(name=texts, description=texts, email=texts)
async def test_rooms_take_any_names_and_invitations_or_refuse_them(
    db: Database, room: Room, alice: User, name: str, description: str, email: str
) -> None:
    created = await outcome(rooms.create_room(db, alice, name=name, description=description))
    assert isinstance(created, LivechatError) or created.name == " ".join(name.split())
    renamed = await outcome(
        rooms.update_room(db, alice, room.slug, name=name, description=description)
    )
    assert isinstance(renamed, LivechatError) or renamed.id == room.id
    invited = await outcome(rooms.add_member(db, alice, room.slug, email))
    assert isinstance(invited, LivechatError) or invited.room.id == room.id
    joined = await outcome(rooms.join_room(db, alice, name))
    assert isinstance(joined, LivechatError) or joined.user_id == alice.id


@FUZZ
@given(filename=texts, stored_name=texts, attachment_id=integers)
async def test_files_by_any_name_or_id_are_kept_found_or_refused(
    db: Database,
    room: Room,
    bob: User,
    tmp_path: Path,
    filename: str,
    stored_name: str,
    attachment_id: int,
) -> None:
    uploaded = await outcome(
        attachments.upload(
            db, bob, room.id, filename=filename, data=b"notes", uploads_dir=tmp_path, max_bytes=99
        )
    )
    assert isinstance(uploaded, LivechatError) or is_text(uploaded.original_name)
    found = await outcome(attachments.readable_file(db, bob, stored_name))
    assert isinstance(found, LivechatError) or found.stored_name == stored_name
    discarded = await outcome(attachments.discard(db, bob, attachment_id, tmp_path))
    assert discarded is None or isinstance(discarded, NotFound)


@FUZZ
@given(email=texts, password=texts, display_name=texts)
async def test_accounts_take_any_details_or_refuse_them(
    db: Database, settings: Settings, email: str, password: str, display_name: str
) -> None:
    accounts = Accounts(db, settings)
    registered = await outcome(
        accounts.register(email=email, password=password, display_name=display_name)
    )
    signed_in = await accounts.authenticate(email, password)
    assert (signed_in is not None) == (not isinstance(registered, LivechatError))
