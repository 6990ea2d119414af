"""Searching and files through the API: search over the messages the caller may read,
uploading files for their next message, and fetching shared ones."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Query, UploadFile
from fastapi.responses import Response

from livechat.api.auth import Caller, Writer, reach
from livechat.api.schemas import AttachmentOut, SearchHit, SearchPage
from livechat.chat import attachments, rooms, search
from livechat.errors import BadRequest
from livechat.inputs import MAX_ID
from livechat.web.deps import DB, PathId, SettingsDep
from livechat.web.uploads import served_file

router = APIRouter()


@router.get("/search", tags=["search"])
async def search_messages(
    db: DB,
    grant: Caller,
    q: Annotated[str, Query(max_length=200, description="words; a quoted phrase; word*")],
    room_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    offset: Annotated[int, Query(ge=0, le=search.MAX_RESULTS)] = 0,
) -> SearchPage:
    """Messages that match ``q``, newest first: in one room you may read, or in every
    room you belong to that the token reaches."""
    slug = None
    if room_id is not None:
        reach(grant, room_id)
        slug = (await rooms.get_room(db, grant.user, room_id)).room.slug
    found = await search.search_messages(
        db, grant.user, q, slug, limit=search.PAGE_SIZE + 1, offset=offset
    )
    more = len(found) > search.PAGE_SIZE
    # Kept to some rooms, the token is shown those rooms' messages only.
    found = [result for result in found if grant.reaches(result.room_id)]
    return SearchPage(
        results=[
            SearchHit(
                message_id=result.message_id,
                room=result.room_slug,
                room_name=result.room_name,
                author=result.author_name,
                author_id=result.author_id,
                created_at=result.inserted_at,
                snippet=str(result.snippet),
            )
            for result in found[: search.PAGE_SIZE]
        ],
        next_offset=offset + search.PAGE_SIZE if more else None,
    )


@router.post("/rooms/{room_id}/attachments", status_code=201, tags=["files"])
async def upload(
    db: DB,
    settings: SettingsDep,
    grant: Writer,
    room_id: PathId,
    file: Annotated[UploadFile, File()],
) -> AttachmentOut:
    """Upload one file for your next message in the room, then name its id in the
    message's ``attachment_ids``. Images, PDF and text files, up to the server's limit."""
    reach(grant, room_id)
    if not file.filename:
        raise BadRequest("Name the file: its name says what kind of file it is.")
    uploaded = await attachments.upload_many(
        db,
        grant.user,
        room_id,
        [attachments.Chosen(file.filename, file.read)],
        uploads_dir=settings.uploads_dir,
        max_bytes=settings.upload_max_bytes,
    )
    if uploaded.refusals:
        raise uploaded.refusals[0]
    return AttachmentOut.of(uploaded.kept[0])


@router.get(
    "/files/{stored_name}",
    tags=["files"],
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}, "description": "The file"}},
)
async def fetch(db: DB, settings: SettingsDep, grant: Caller, stored_name: str) -> Response:
    """A file of a message you may read, or one you uploaded and have not sent yet."""
    attachment = await attachments.readable_file(db, grant.user, stored_name)
    reach(grant, attachment.room_id)
    return await served_file(settings, attachment)
