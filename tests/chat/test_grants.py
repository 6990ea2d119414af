"""Tokens kept to some rooms: only rooms their owner may read, and a private room of
others refused in the words of a room that is not there."""

from __future__ import annotations

import pytest

from livechat.accounts import tokens
from livechat.accounts.models import User
from livechat.accounts.tokens import Scope
from livechat.chat import grants, rooms
from livechat.chat.models import Room
from livechat.db import Database
from livechat.errors import BadRequest
from livechat.inputs import MAX_ID


@pytest.fixture
async def secret_room(db: Database, bob: User) -> Room:
    """A private room of Bob's that Alice is not in."""
    return await rooms.create_room(db, bob, name="Secret plans", is_private=True)


async def test_a_public_room_its_owner_has_not_joined_may_be_named(
    db: Database, carol: User, general: Room
) -> None:
    token, _ = await grants.issue_token(
        db, carol, name="Watcher", scope=Scope.READ, room_ids=[general.id]
    )

    assert token.room_ids == [general.id]


@pytest.mark.parametrize("unknown_id", [987654, 0, -1, MAX_ID + 1])
async def test_a_private_room_of_others_is_refused_in_the_words_of_a_room_that_is_not_there(
    db: Database, alice: User, general: Room, secret_room: Room, unknown_id: int
) -> None:
    with pytest.raises(BadRequest) as private:
        await grants.issue_token(
            db, alice, name="Spy", scope=Scope.READ, room_ids=[general.id, secret_room.id]
        )
    with pytest.raises(BadRequest) as unknown:
        await grants.issue_token(db, alice, name="Spy", scope=Scope.READ, room_ids=[unknown_id])

    assert private.value.message == unknown.value.message
    assert "Secret" not in private.value.message
    assert await tokens.tokens_of(db, alice.id) == []
