"""Uploading files into a room's next message, and fetching shared files and avatars."""

from __future__ import annotations

import asyncio
import re
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, File, Request, UploadFile
from fastapi.responses import FileResponse, Response

from livechat.chat import attachments, rooms
from livechat.errors import BadRequest, LivechatError, NotFound
from livechat.web.deps import DB, CurrentUser, PathId, SettingsDep
from livechat.web.templating import render

router = APIRouter()

_STORED_NAME = re.compile(r"[0-9a-f]{32}\.[a-z]{3,4}")
# A shared file is data, never a page: nothing in it may run, load or be framed.
FILE_POLICY = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"


@router.post("/rooms/{slug}/uploads")
async def upload(
    request: Request,
    db: DB,
    settings: SettingsDep,
    user: CurrentUser,
    slug: str,
    attachment: Annotated[UploadFile | None, File()] = None,
) -> Response:
    access = await rooms.get_room(db, user, slug)
    context = {"room": access.room}
    if attachment is None or not attachment.filename:
        return render(
            request,
            "partials/upload_rejected.html",
            {**context, "message": "Choose a file to attach."},
            status_code=400,
        )
    try:
        stored = await attachments.upload(
            db,
            user,
            access.room.id,
            filename=attachment.filename,
            data=await attachment.read(),
            uploads_dir=settings.uploads_dir,
            max_bytes=settings.upload_max_bytes,
        )
    except LivechatError as error:
        return render(
            request,
            "partials/upload_rejected.html",
            {**context, "message": error.message},
            status_code=error.status_code,
        )
    return render(request, "partials/upload_preview.html", {**context, "attachment": stored})


@router.delete("/uploads/{attachment_id}")
async def discard(
    db: DB, settings: SettingsDep, user: CurrentUser, attachment_id: PathId
) -> Response:
    await attachments.discard(db, user, attachment_id, settings.uploads_dir)
    return Response(status_code=200)


@router.get("/uploads/{stored_name}")
async def fetch(db: DB, settings: SettingsDep, user: CurrentUser, stored_name: str) -> Response:
    if not _STORED_NAME.fullmatch(stored_name):
        raise NotFound("There is no such file.")
    attachment = await attachments.readable_file(db, user, stored_name)
    path = attachments.stored_path(settings.uploads_dir, stored_name)
    if not await asyncio.to_thread(path.is_file):
        raise NotFound("That file is gone.")
    disposition = "inline" if attachment.content_type.startswith("image/") else "attachment"
    return FileResponse(
        path,
        media_type=attachment.content_type,
        headers={
            "Content-Disposition": (
                f"{disposition}; filename*=UTF-8''{quote(attachment.original_name)}"
            ),
            "Content-Security-Policy": FILE_POLICY,
            # Whoever may read its message may fetch it, and only while they may: a copy
            # the browser kept would outlive a removal from a private room, or the message.
            "Cache-Control": "private, no-store",
        },
    )


@router.get("/avatars/{stored_name}")
async def avatar(settings: SettingsDep, stored_name: str) -> Response:
    if not _STORED_NAME.fullmatch(stored_name):
        raise NotFound("There is no such picture.")
    path = settings.uploads_dir / "avatars" / stored_name
    if not await asyncio.to_thread(path.is_file):
        raise NotFound("There is no such picture.")
    # A new avatar gets a new name, so a name's picture never changes.
    return FileResponse(
        path,
        media_type="image/webp",
        headers={
            "Cache-Control": "public, max-age=31536000, immutable",
            "Content-Security-Policy": FILE_POLICY,
        },
    )


def ensure_file(upload_file: UploadFile | None) -> UploadFile:
    if upload_file is None or not upload_file.filename:
        raise BadRequest("Choose a file first.")
    return upload_file
