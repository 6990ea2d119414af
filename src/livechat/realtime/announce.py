"""What the rest of livechat hears when a room or its members change, whoever changed
them: a page's form or a program through the API."""

from __future__ import annotations

from livechat.chat import rooms
from livechat.chat.models import Room
from livechat.db import Database
from livechat.realtime import broadcasts
from livechat.realtime.hub import LOBBY_TOPIC, membership_topic, user_topic
from livechat.realtime.tree import Realtime


async def room_created(realtime: Realtime, room: Room, creator_id: int) -> None:
    """Open room lists show the new room: everyone's for a public room, and only its
    creator's other lists for a private one. Its creator is its first member."""
    topic = user_topic(creator_id) if room.is_private else LOBBY_TOPIC
    await realtime.hub.publish(topic, broadcasts.room_listed(room))
    await joined(realtime, room, creator_id)


async def joined(realtime: Realtime, room: Room, user_id: int) -> None:
    """``user_id`` is a member of ``room`` now: their open streams follow it, and their
    open room lists count what is posted in it."""
    await realtime.hub.publish(user_topic(user_id), broadcasts.room_joined(room))


async def members_changed(db: Database, realtime: Realtime, room: Room) -> None:
    """Tell open room lists how many members a room has now: everyone's for a public room,
    and only its members' own for a private one."""
    if room.is_private:
        members = await rooms.member_ids(db, room)
        topics, count = [user_topic(member) for member in members], len(members)
    else:
        topics, count = [LOBBY_TOPIC], await rooms.member_count(db, room)
    changed = broadcasts.members_counted(room, count)
    for topic in topics:
        await realtime.hub.publish(topic, changed)


async def left(db: Database, realtime: Realtime, room: Room, user_id: int, reason: str) -> None:
    """Someone is no longer a member of ``room``: they left, or were removed. Their pages
    of it close as the broadcast reaches them, saying ``reason``; the room lists they are
    sent to, and everyone else's, must not count them as there meanwhile."""
    realtime.presence.left(room.id, user_id)
    closed = broadcasts.room_closed(room.id, reason)
    await realtime.hub.publish(membership_topic(room.id, user_id), closed)
    await members_changed(db, realtime, room)
