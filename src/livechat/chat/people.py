"""People as others see them: whom one may look up."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import aliased

from livechat.accounts.models import User
from livechat.chat.access import readable_by
from livechat.chat.models import Membership, Room
from livechat.db import Database
from livechat.errors import NotFound
from livechat.inputs import is_id


async def find_person(db: Database, viewer: User, person_id: int) -> User:
    """Someone ``viewer`` may know of: themselves, or a member of a room they may read. To
    anyone else a person, like a private room, does not exist."""
    if not is_id(person_id):
        raise NotFound("There is no such person.")
    # Theirs under another name: readable_by asks of the viewer's own memberships.
    theirs = aliased(Membership)
    shares_a_room = (
        select(theirs.id)
        .join(Room, Room.id == theirs.room_id)
        .where(theirs.user_id == User.id, readable_by(viewer.id))
        .exists()
    )
    async with db.read() as session:
        person = await session.scalar(
            select(User).where(User.id == person_id, (User.id == viewer.id) | shares_a_room)
        )
    if person is None:
        raise NotFound("There is no such person.")
    return person
