"""Tokens kept to some rooms. Which rooms someone may read is chat's to say, so a token
that names rooms is issued through here: ``accounts`` keeps people and their tokens, and
knows nothing of rooms."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select

from livechat.accounts import tokens
from livechat.accounts.models import ApiToken, User
from livechat.accounts.tokens import Scope
from livechat.chat.access import readable_by
from livechat.chat.models import Room
from livechat.db import Database


async def issue_token(
    db: Database,
    user: User,
    *,
    name: str,
    scope: Scope,
    room_ids: Collection[int] | None = None,
) -> tuple[ApiToken, str]:
    """A new token of ``user``'s and its secret, as ``tokens.issue_token`` makes them,
    kept to ``room_ids`` if given: each a room ``user`` may read."""
    if room_ids is not None:
        rooms = tokens.clean_room_ids(room_ids)
        async with db.read() as session:
            readable = await session.scalars(
                select(Room.id).where(Room.id.in_(rooms), readable_by(user.id))
            )
            if len(set(readable)) != len(rooms):
                raise tokens.rooms_not_readable()
    return await tokens.issue_token(db, user, name=name, scope=scope, room_ids=room_ids)
