"""Uploading files into a room's next message, and fetching shared files and avatars.

An upload answers with a preview for each file kept, appended to ``#upload-previews``, and
with the refusals of this upload in place of the last one's in ``#upload-refusals``: a
refusal says what was wrong until the next files are chosen, or until it is dismissed.
"""

from __future__ import annotations

import asyncio
import re
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, File, Request, UploadFile
from fastapi.responses import FileResponse, Response

from livechat.chat import attachments, rooms
from livechat.chat.attachments import MAX_PENDING, size_text
from livechat.chat.models import Attachment
from livechat.errors import BadRequest, LivechatError, NotFound, PayloadTooLarge
from livechat.settings import Settings
from livechat.web.deps import DB, CurrentUser, PathId, SettingsDep
from livechat.web.errors import error_response
from livechat.web.templating import is_htmx, render

router = APIRouter()

UPLOADS_PATH = re.compile(r"/rooms/(?P<slug>[^/]+)/uploads")
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
    attachment: Annotated[list[UploadFile] | None, File()] = None,
) -> Response:
    access = await rooms.get_room(db, user, slug)
    chosen = [
        attachments.Chosen(file.filename, file.read)
        for file in attachment or []
        if file.filename  # a browser sends a nameless file for a field left empty
    ]
    if not chosen:
        return _answer(request, access.room.slug, [], [BadRequest("Choose a file to attach.")])
    try:
        uploaded = await attachments.upload_many(
            db,
            user,
            access.room.id,
            chosen,
            uploads_dir=settings.uploads_dir,
            max_bytes=settings.upload_max_bytes,
        )
    except LivechatError as error:
        return _answer(request, access.room.slug, [], [error])
    return _answer(request, access.room.slug, uploaded.kept, uploaded.refusals)


def too_large_to_read(request: Request) -> Response:
    """The answer to an upload over what one message's files may come to, read no further
    than it was: the limits the attach control states, said again among the previews."""
    settings: Settings = request.app.state.settings
    declared = request.headers.get("content-length", "")
    amount = (
        f"is {size_text(int(declared))}"
        if declared.isdigit()
        else "is more than can be sent at once"
    )
    refusal = PayloadTooLarge(
        f"What you chose {amount}: a file can be up to {size_text(settings.upload_max_bytes)},"
        f" and a message can carry {MAX_PENDING}."
    )
    if not is_htmx(request):
        return error_response(request, refusal.status_code, refusal.message)
    found = UPLOADS_PATH.fullmatch(request.scope["path"])
    assert found is not None, "only the upload route's limit answers this way"
    return _answer(request, found["slug"], [], [refusal])


def _answer(
    request: Request, slug: str, kept: list[Attachment], refusals: list[LivechatError]
) -> Response:
    # Refused outright, the request fails as its first refusal says; anything kept and
    # it succeeded, though some files were refused.
    status_code = refusals[0].status_code if refusals and not kept else 200
    return render(
        request,
        "partials/uploaded.html",
        {
            # The fresh upload form posts back where this request came from.
            "room": {"slug": slug},
            "kept": kept,
            "refusals": [refusal.message for refusal in refusals],
        },
        status_code=status_code,
    )


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
    return await served_file(settings, attachment)


async def served_file(settings: Settings, attachment: Attachment) -> Response:
    """A shared file, to someone who may fetch it: as data, never as a page."""
    path = attachments.stored_path(settings.uploads_dir, attachment.stored_name)
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
