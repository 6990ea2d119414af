"""Messages through the API: history by cursor, posting (once, however often a request is
retried with the same key), editing and deleting, through the room's server as the
pages' sockets do: the same checks, the same rate limit, the same live broadcast."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

from fastapi import APIRouter, Header, Query, Response

from livechat.accounts.tokens import Grant
from livechat.api.auth import Caller, Writer, reach
from livechat.api.schemas import History, MessageEdit, MessageIn, MessageOut
from livechat.chat import messages, rooms
from livechat.chat.models import CLIENT_MSG_ID_MAX_LENGTH
from livechat.db import Database
from livechat.errors import BadRequest, Unavailable
from livechat.inputs import MAX_ID
from livechat.realtime.actor import ActorBusy, ActorStopped
from livechat.realtime.rooms import RoomServer
from livechat.realtime.tree import Realtime
from livechat.web.deps import DB, PathId, RealtimeDep

router = APIRouter(tags=["messages"])

MAX_PAGE = 100

Cursor = Annotated[int | None, Query(ge=1, le=MAX_ID)]
IdempotencyKey = Annotated[
    str | None,
    Header(
        pattern=r"^[A-Za-z0-9_-]+$",
        max_length=CLIENT_MSG_ID_MAX_LENGTH,
        description=(
            "Any key of yours for this message. Sent again with the same key and the same"
            " content, the request is answered with the message stored the first time."
        ),
    ),
]

_Answer = TypeVar("_Answer")


async def _through_server(
    db: Database,
    realtime: Realtime,
    grant: Grant,
    room_id: int,
    action: Callable[[RoomServer], Awaitable[_Answer]],
) -> _Answer:
    """``action`` on the server of a room the caller may read (no server is started for a
    room that is not there); a server that just stopped for being idle is followed by its
    successor, and one too busy or restarting is a 503 to try again after a moment, as
    it is a refusal on the pages."""
    reach(grant, room_id)
    await rooms.get_room(db, grant.user, room_id)
    try:
        try:
            return await action(realtime.rooms.server_for(room_id))
        except ActorStopped:
            return await action(realtime.rooms.server_for(room_id))
    except ActorBusy as busy:
        raise Unavailable(
            "This room is very busy right now; try again.", busy.retry_after_s
        ) from busy
    except (ActorStopped, TimeoutError) as stopped:
        raise Unavailable("This room is restarting; try again in a moment.", 1) from stopped


@router.get("/rooms/{room_id}/messages")
async def history(
    db: DB,
    grant: Caller,
    room_id: PathId,
    before: Cursor = None,
    after: Cursor = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = messages.PAGE_SIZE,
) -> History:
    """The newest messages, or those just before message ``before``, or just after
    message ``after``, oldest first. Deleted messages are left out."""
    if before is not None and after is not None:
        raise BadRequest("Ask for the messages before one message, or after one, not both.")
    reach(grant, room_id)
    window = await messages.history(
        db, grant.user, room_id, before=before, after=after, limit=limit
    )
    return History(
        messages=[MessageOut.of(message) for message in window.messages],
        has_older=window.older,
        newer=window.newer,
    )


@router.post(
    "/rooms/{room_id}/messages",
    status_code=201,
    responses={200: {"model": MessageOut, "description": "Sent before with this key"}},
)
async def post_message(
    response: Response,
    db: DB,
    realtime: RealtimeDep,
    grant: Writer,
    room_id: PathId,
    message: MessageIn,
    idempotency_key: IdempotencyKey = None,
) -> MessageOut:
    """Post a message as a member of the room. With files uploaded to the room first (see
    attachments), the text may be empty; ``reply_to`` answers an earlier message of the
    room. Mentions notify as they do from the pages."""
    user = grant.user
    posted = await _through_server(
        db,
        realtime,
        grant,
        room_id,
        lambda server: server.post(
            user, message.body, idempotency_key, tuple(message.attachment_ids), message.reply_to
        ),
    )
    if not posted.created:
        response.status_code = 200
    return MessageOut.of(posted.message)


@router.patch("/rooms/{room_id}/messages/{message_id}")
async def edit_message(
    db: DB,
    realtime: RealtimeDep,
    grant: Writer,
    room_id: PathId,
    message_id: PathId,
    edit: MessageEdit,
) -> MessageOut:
    """Change the text of a message of yours."""
    user = grant.user
    edited = await _through_server(
        db, realtime, grant, room_id, lambda server: server.edit(user, message_id, edit.body)
    )
    return MessageOut.of(edited.message)


@router.delete("/rooms/{room_id}/messages/{message_id}", status_code=204)
async def delete_message(
    db: DB, realtime: RealtimeDep, grant: Writer, room_id: PathId, message_id: PathId
) -> Response:
    """Delete a message of yours, or any message of a room you administer."""
    user = grant.user
    await _through_server(
        db, realtime, grant, room_id, lambda server: server.delete(user, message_id)
    )
    return Response(status_code=204)
