"""Replays: what a page missed, read from the store and rendered for its socket.

When a room server restarts after a crash it tells every page where the room stands, and
every page one event behind asks for the same replay at the same moment. ``SharedReplays``
reads and renders it once for all of them, instead of once per page: a crash in one room
then costs the process one replay, not one per open page, and the other rooms go on at
their usual pace.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from livechat.chat import messages
from livechat.chat.messages import Cursor
from livechat.chat.rooms import RoomSummary
from livechat.db import Database
from livechat.web import rendered

Replay = tuple[str, Cursor]  # the HTML that brings a page up to date, and its new cursor


async def read_replay(db: Database, user_id: int, room: RoomSummary, known: Cursor) -> Replay:
    """Everything after ``known``, from the store; the whole list anew for a page too far
    behind, or whose cursor is ahead of the room (no page of ours sends one)."""
    changes = None
    if known.seq >= 0:
        changes = await messages.changes_since(db, user_id, room.id, known.seq)
    if (
        changes is not None
        and changes.complete
        and known.seq <= changes.cursor.seq
        and known.last_id <= changes.cursor.last_id
    ):
        return rendered.replay(changes, known), changes.cursor
    page = await messages.latest_page(db, user_id, room.id)
    return rendered.reload_list(room, page), page.cursor


class SharedReplays:
    """Replays being read right now, by room and cursor, for others asking the same to
    share. Only replays in progress are shared, never kept: a replay read earlier could
    miss what happened since, and the pages are owed what the room holds now."""

    def __init__(self) -> None:
        self._reading: dict[tuple[int, Cursor], asyncio.Task[Replay]] = {}

    async def replay(
        self, room_id: int, known: Cursor, read: Callable[[], Awaitable[Replay]]
    ) -> Replay:
        key = (room_id, known)
        task = self._reading.get(key)
        if task is None:
            task = asyncio.ensure_future(read())
            self._reading[key] = task
            task.add_done_callback(lambda done: self._done(key, done))
        # One page closing while it waits does not cancel the reading for the others.
        return await asyncio.shield(task)

    def _done(self, key: tuple[int, Cursor], task: asyncio.Task[Replay]) -> None:
        if self._reading.get(key) is task:
            del self._reading[key]
        if not task.cancelled():
            task.exception()  # retrieved here too, for when every page waiting has gone
