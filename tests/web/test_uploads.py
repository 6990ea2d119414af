"""Uploading files into a room's next message over HTTP, as htmx does, and fetching them:
previews and refusals come back as fragments, one for each file chosen, oversized bodies are
cut off with 413 and a refusal that says the limits, and a shared file is served only to
those who may read its message, as data that can never run as a page."""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from PIL import Image

from livechat.accounts.models import User
from livechat.app import create_app
from livechat.chat import attachments, rooms
from livechat.chat.models import Attachment, Room
from livechat.db import Database
from livechat.realtime.rooms import RoomServer
from livechat.realtime.tree import Realtime
from livechat.settings import Settings
from tests.helpers import csrf_token, log_in

MB = 1024 * 1024
BOUNDARY = "livechat-test-boundary"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
TEXT = "Meeting notes: café at 10:00.\n".encode()


def png(size: tuple[int, int] = (40, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (30, 120, 200)).save(buffer, format="PNG")
    return buffer.getvalue()


async def signed_in(client: httpx.AsyncClient, user: User) -> str:
    """Log ``user`` in and return the CSRF token their pages carry."""
    await log_in(client, user)
    return await csrf_token(client, "/rooms")


async def upload(
    client: httpx.AsyncClient,
    room: Room,
    token: str,
    filename: str = "photo.png",
    data: bytes | None = None,
    content_type: str = "application/octet-stream",
) -> httpx.Response:
    return await client.post(
        f"/rooms/{room.slug}/uploads",
        files={"attachment": (filename, png() if data is None else data, content_type)},
        headers={"X-CSRF-Token": token, "HX-Request": "true"},
    )


async def upload_files(
    client: httpx.AsyncClient, room: Room, token: str, files: list[tuple[str, bytes]]
) -> httpx.Response:
    """Upload several files in one request, as a file field chosen with several does."""
    return await client.post(
        f"/rooms/{room.slug}/uploads",
        files=[("attachment", (name, data, "application/octet-stream")) for name, data in files],
        headers={"X-CSRF-Token": token, "HX-Request": "true"},
    )


@dataclass
class UploadAnswer:
    """An upload's answer as the page takes it in: the names on the previews it appends,
    the refusals it puts in place of the last upload's, and the fresh upload form."""

    previews: list[str] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)
    replaces_the_last_refusals: bool = False
    resets_the_upload_form: bool = False


class _AnswerReader(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.answer = UploadAnswer()
        self._text: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        oob = attributes.get("hx-swap-oob")
        if attributes.get("id") == "upload-refusals":
            self.answer.replaces_the_last_refusals = oob == "innerHTML"
        elif attributes.get("id") == "upload-form":
            self.answer.resets_the_upload_form = oob == "true"
        elif attributes.get("class") == "upload-name":
            self._text = self.answer.previews
            self._text.append("")
        elif attributes.get("role") == "alert":
            self._text = self.answer.refusals
            self._text.append("")

    def handle_data(self, data: str) -> None:
        if self._text is not None:
            self._text[-1] += data

    def handle_endtag(self, tag: str) -> None:
        self._text = None


def read_answer(response: httpx.Response) -> UploadAnswer:
    reader = _AnswerReader()
    reader.feed(response.text)
    return reader.answer


async def pending_files(db: Database, user: User, room: Room) -> list[Attachment]:
    return await attachments.pending(db, user, room.id)


def stored_files(settings: Settings) -> list[Path]:
    return sorted(path for path in settings.uploads_dir.rglob("*") if path.is_file())


def room_server(app: FastAPI, room: Room) -> RoomServer:
    """The room's running server: what the room's socket posts and deletes through."""
    realtime: Realtime = app.state.realtime
    return realtime.rooms.server_for(room.id)


async def sent_file(app: FastAPI, user: User, room: Room, attachment: Attachment) -> None:
    """Send ``attachment`` in a message without text."""
    await room_server(app, room).post(user, "", None, (attachment.id,))


# Uploading


async def test_uploading_an_image_returns_its_preview_with_a_field_that_sends_it_along(
    client: httpx.AsyncClient, db: Database, alice: User, general: Room
) -> None:
    token = await signed_in(client, alice)

    response = await upload(client, general, token, "holiday photo.png", png(), "image/png")

    assert response.status_code == 200
    [stored] = await pending_files(db, alice, general)
    assert "holiday photo.png" in response.text
    assert f'<input type="hidden" name="attachment_ids" value="{stored.id}">' in response.text
    assert f'src="/uploads/{stored.stored_name}" width="40" height="30"' in response.text
    assert "upload-rejected" not in response.text


async def test_a_file_name_with_markup_is_shown_as_text_in_the_preview(
    client: httpx.AsyncClient, db: Database, alice: User, general: Room
) -> None:
    token = await signed_in(client, alice)

    response = await upload(client, general, token, "<img src=x onerror=alert(1)> it's.png")

    assert response.status_code == 200
    assert "&lt;img src=x onerror=alert(1)&gt; it&#39;s.png" in response.text
    assert "<img src=x" not in response.text


async def test_a_reloaded_room_page_shows_ones_own_uploads_still_waiting_to_be_sent(
    client: httpx.AsyncClient,
    other_client: httpx.AsyncClient,
    db: Database,
    alice: User,
    bob: User,
    general: Room,
) -> None:
    await upload(client, general, await signed_in(client, alice), "alices plan.png")
    await upload(other_client, general, await signed_in(other_client, bob), "bobs plan.png")
    [waiting] = await pending_files(db, alice, general)

    page = (await client.get(f"/rooms/{general.slug}")).text

    assert f'<div class="upload-preview" id="upload-{waiting.id}">' in page
    assert "alices plan.png" in page
    assert "bobs plan.png" not in page


@pytest.mark.parametrize(
    ("filename", "data", "content_type", "icon"),
    [
        ("plan.pdf", PDF, "application/pdf", "PDF"),
        ("notes.txt", TEXT, "text/plain", "TXT"),
    ],
)
async def test_a_pdf_or_a_text_file_previews_as_a_document(
    client: httpx.AsyncClient,
    db: Database,
    alice: User,
    general: Room,
    filename: str,
    data: bytes,
    content_type: str,
    icon: str,
) -> None:
    token = await signed_in(client, alice)

    response = await upload(client, general, token, filename, data, content_type)

    assert response.status_code == 200
    [stored] = await pending_files(db, alice, general)
    assert stored.content_type == content_type
    assert filename in response.text
    assert f'<span class="file-icon" aria-hidden="true">{icon}</span>' in response.text
    assert f'value="{stored.id}"' in response.text
    assert "upload-thumb" not in response.text


@pytest.mark.parametrize(
    ("filename", "data", "message"),
    [
        pytest.param(
            "setup.exe",
            b"MZ\x90\x00",
            "setup.exe: only JPG, PNG, GIF, WebP, PDF and text files can be shared.",
            id="wrong-extension",
        ),
        pytest.param(
            "logo.svg",
            b"<svg xmlns='http://www.w3.org/2000/svg'/>",
            "logo.svg: only JPG, PNG, GIF, WebP, PDF and text files can be shared.",
            id="svg",
        ),
        pytest.param(
            "cute.png",
            b"MZ\x90\x00\x03\x00\x00\x00" + bytes(64),
            "cute.png is not a valid image.",
            id="executable-renamed-png",
        ),
        pytest.param(
            "photo.jpg", png(), "photo.jpg is not the kind of image its name says.", id="png-as-jpg"
        ),
        pytest.param(
            "report.pdf", b"not a pdf at all", "report.pdf is not a PDF document.", id="fake-pdf"
        ),
        pytest.param("empty.txt", b"", "empty.txt is empty.", id="empty"),
    ],
)
async def test_a_refused_file_gets_its_own_message_in_a_rejection_fragment_and_is_not_kept(
    client: httpx.AsyncClient,
    db: Database,
    settings: Settings,
    alice: User,
    general: Room,
    filename: str,
    data: bytes,
    message: str,
) -> None:
    token = await signed_in(client, alice)

    response = await upload(client, general, token, filename, data)

    assert response.status_code == 400
    assert 'class="upload-preview upload-rejected"' in response.text
    assert message in response.text
    assert await pending_files(db, alice, general) == []
    assert stored_files(settings) == []


async def test_a_fourth_file_for_one_message_is_refused(
    client: httpx.AsyncClient, db: Database, alice: User, general: Room
) -> None:
    token = await signed_in(client, alice)
    for _ in range(attachments.MAX_PENDING):
        assert (await upload(client, general, token)).status_code == 200

    response = await upload(client, general, token, "one too many.png")

    assert response.status_code == 400
    assert read_answer(response).refusals == [
        "one too many.png was not added: a message can carry 3 files at most."
    ]
    assert len(await pending_files(db, alice, general)) == attachments.MAX_PENDING


async def test_a_rejection_puts_a_fresh_upload_form_back_in_place(
    client: httpx.AsyncClient, alice: User, general: Room
) -> None:
    token = await signed_in(client, alice)

    response = await upload(client, general, token, "setup.exe", b"MZ")

    assert 'id="upload-form"' in response.text
    assert 'hx-swap-oob="true"' in response.text
    assert f'hx-post="/rooms/{general.slug}/uploads"' in response.text


async def test_an_upload_without_a_file_asks_for_one(
    client: httpx.AsyncClient, alice: User, general: Room
) -> None:
    token = await signed_in(client, alice)

    response = await client.post(
        f"/rooms/{general.slug}/uploads",
        files={"other": ("x.txt", b"x", "text/plain")},
        headers={"X-CSRF-Token": token, "HX-Request": "true"},
    )

    assert response.status_code == 400
    assert read_answer(response).refusals == ["Choose a file to attach."]


async def test_a_file_field_sent_with_nothing_chosen_asks_for_a_file(
    client: httpx.AsyncClient, alice: User, general: Room
) -> None:
    token = await signed_in(client, alice)

    response = await client.post(
        f"/rooms/{general.slug}/uploads",
        # What a browser sends for a file field with nothing chosen.
        content=(
            f"--{BOUNDARY}\r\n"
            'Content-Disposition: form-data; name="attachment"; filename=""\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
            f"\r\n--{BOUNDARY}--\r\n"
        ).encode(),
        headers={
            "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
            "X-CSRF-Token": token,
            "HX-Request": "true",
        },
    )

    assert response.status_code == 400
    assert read_answer(response).refusals == ["Choose a file to attach."]


async def test_text_sent_where_files_go_is_a_clear_400(
    client: httpx.AsyncClient, alice: User, general: Room
) -> None:
    token = await signed_in(client, alice)

    response = await client.post(
        f"/rooms/{general.slug}/uploads",
        files={"x": ("x.txt", b"x", "text/plain")},
        data={"attachment": "not a file"},
        headers={"X-CSRF-Token": token, "HX-Request": "true"},
    )

    assert response.status_code == 400
    assert "malformed: attachment" in response.text


async def test_someone_who_has_not_joined_the_room_cannot_upload_into_it(
    client: httpx.AsyncClient, db: Database, settings: Settings, carol: User, general: Room
) -> None:
    token = await signed_in(client, carol)

    response = await upload(client, general, token)

    assert response.status_code == 403
    assert "upload-rejected" in response.text
    assert "Join General to take part in it." in response.text
    assert await pending_files(db, carol, general) == []
    assert stored_files(settings) == []


async def test_a_stranger_to_a_private_room_is_told_it_does_not_exist(
    client: httpx.AsyncClient, db: Database, settings: Settings, alice: User, carol: User
) -> None:
    secret = await rooms.create_room(db, alice, name="Secret Plans", is_private=True)
    token = await signed_in(client, carol)

    response = await upload(client, secret, token)

    assert response.status_code == 404
    assert "Secret Plans" not in response.text
    assert stored_files(settings) == []


async def test_an_upload_without_the_csrf_header_is_refused(
    client: httpx.AsyncClient, db: Database, settings: Settings, alice: User, general: Room
) -> None:
    await signed_in(client, alice)

    response = await client.post(
        f"/rooms/{general.slug}/uploads",
        files={"attachment": ("photo.png", png(), "image/png")},
        headers={"HX-Request": "true"},
    )

    assert response.status_code == 403
    assert await pending_files(db, alice, general) == []
    assert stored_files(settings) == []


async def test_an_upload_with_a_forged_csrf_header_is_refused(
    client: httpx.AsyncClient, db: Database, alice: User, general: Room
) -> None:
    await signed_in(client, alice)

    response = await upload(client, general, "0" * 64)

    assert response.status_code == 403
    assert await pending_files(db, alice, general) == []


async def test_a_signed_out_visitor_is_sent_to_log_in_instead_of_uploading(
    client: httpx.AsyncClient, settings: Settings, general: Room
) -> None:
    token = await csrf_token(client)

    response = await upload(client, general, token)

    assert response.headers["hx-redirect"] == "/users/log_in"
    assert stored_files(settings) == []


# Several files chosen at once


async def test_several_files_chosen_at_once_each_get_a_preview(
    client: httpx.AsyncClient, db: Database, alice: User, general: Room
) -> None:
    token = await signed_in(client, alice)
    files = [("photo.png", png()), ("plan.pdf", PDF), ("notes.txt", TEXT)]

    response = await upload_files(client, general, token, files)

    assert response.status_code == 200
    answer = read_answer(response)
    assert answer == UploadAnswer(
        previews=["photo.png", "plan.pdf", "notes.txt"],
        refusals=[],
        replaces_the_last_refusals=True,
        resets_the_upload_form=True,
    )
    waiting = await pending_files(db, alice, general)
    assert [stored.original_name for stored in waiting] == ["photo.png", "plan.pdf", "notes.txt"]


async def test_of_several_files_each_refused_one_gets_its_own_refusal_beside_the_kept_ones(
    client: httpx.AsyncClient, db: Database, settings: Settings, alice: User, general: Room
) -> None:
    token = await signed_in(client, alice)
    files = [("setup.exe", b"MZ\x90\x00"), ("photo.png", png()), ("report.pdf", b"not a pdf")]

    response = await upload_files(client, general, token, files)

    assert response.status_code == 200
    answer = read_answer(response)
    assert answer.previews == ["photo.png"]
    assert answer.refusals == [
        "setup.exe: only JPG, PNG, GIF, WebP, PDF and text files can be shared.",
        "report.pdf is not a PDF document.",
    ]
    assert answer.replaces_the_last_refusals
    assert len(await pending_files(db, alice, general)) == 1
    assert len(stored_files(settings)) == 1


async def test_files_a_message_has_no_room_left_for_are_named_in_one_refusal(
    client: httpx.AsyncClient, db: Database, alice: User, general: Room
) -> None:
    token = await signed_in(client, alice)
    await upload(client, general, token, "waiting.png")
    files = [(name, png()) for name in ("a.png", "b.png", "c.png", "d.png")]

    response = await upload_files(client, general, token, files)

    assert response.status_code == 200
    answer = read_answer(response)
    assert answer.previews == ["a.png", "b.png"]
    assert answer.refusals == [
        "c.png and d.png were not added: a message can carry 3 files at most."
    ]
    assert len(await pending_files(db, alice, general)) == attachments.MAX_PENDING


async def test_files_all_refused_answer_with_the_first_refusals_status(
    client: httpx.AsyncClient, db: Database, alice: User, general: Room
) -> None:
    token = await signed_in(client, alice)

    response = await upload_files(client, general, token, [("a.exe", b"MZ"), ("b.pdf", b"no")])

    assert response.status_code == 400
    assert len(read_answer(response).refusals) == 2
    assert await pending_files(db, alice, general) == []


async def test_a_visitor_choosing_several_files_gets_one_refusal_for_the_room(
    client: httpx.AsyncClient, db: Database, carol: User, general: Room
) -> None:
    token = await signed_in(client, carol)

    response = await upload_files(client, general, token, [("a.png", png()), ("b.png", png())])

    assert response.status_code == 403
    assert read_answer(response).refusals == ["Join General to take part in it."]
    assert await pending_files(db, carol, general) == []


async def test_the_attach_control_says_what_may_be_attached_before_anything_is_chosen(
    client: httpx.AsyncClient, alice: User, general: Room
) -> None:
    await log_in(client, alice)

    page = (await client.get(f"/rooms/{general.slug}")).text

    allowance = "JPG, PNG, GIF, WebP, PDF and text files, up to 10 MB each, 3 to a message"
    field = re.search(r'<input type="file" name="attachment" multiple[^>]*>', page)
    assert field is not None
    assert 'aria-describedby="upload-allowance"' in field.group()
    assert f'<p id="upload-allowance" class="upload-allowance">{allowance}.</p>' in page
    assert f'title="Attach files: {allowance}"' in page


# Oversized bodies, against an app that takes files of up to 1 MB


@pytest.fixture
async def small_limit_app(settings: Settings) -> AsyncIterator[FastAPI]:
    fatal: list[BaseException] = []
    application = create_app(
        settings.model_copy(update={"upload_max_bytes": MB}), on_fatal=fatal.append
    )
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def small_limit_client(small_limit_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=small_limit_app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as http:
        yield http


async def streamed_text_file(filename: str, size: int) -> AsyncIterator[bytes]:
    """A multipart body with one text file, sent in pieces with no length declared."""
    yield (
        f"--{BOUNDARY}\r\n"
        f'Content-Disposition: form-data; name="attachment"; filename="{filename}"\r\n'
        "Content-Type: text/plain\r\n\r\n"
    ).encode()
    piece = b"a" * (64 * 1024)
    for _ in range(size // len(piece)):
        yield piece
    yield f"\r\n--{BOUNDARY}--\r\n".encode()


async def test_a_body_declared_larger_than_the_limit_is_refused_with_413_before_it_is_read(
    small_limit_client: httpx.AsyncClient,
    db: Database,
    settings: Settings,
    alice: User,
    general: Room,
) -> None:
    token = await signed_in(small_limit_client, alice)

    response = await upload(small_limit_client, general, token, "big.txt", b"a" * (4 * MB))

    assert int(response.request.headers["content-length"]) > 4 * MB
    assert response.status_code == 413
    answer = read_answer(response)
    assert answer.refusals == [
        "What you chose is 4.1 MB: a file can be up to 1 MB, and a message can carry 3."
    ]
    assert answer.replaces_the_last_refusals
    assert answer.resets_the_upload_form
    assert await pending_files(db, alice, general) == []
    assert stored_files(settings) == []


async def test_a_body_over_the_limit_from_outside_the_page_gets_the_plain_error(
    small_limit_client: httpx.AsyncClient, alice: User, general: Room
) -> None:
    token = await signed_in(small_limit_client, alice)

    response = await small_limit_client.post(
        f"/rooms/{general.slug}/uploads",
        files={"attachment": ("big.txt", b"a" * (4 * MB), "text/plain")},
        headers={"X-CSRF-Token": token},
    )

    assert response.status_code == 413
    assert "What you chose is 4.1 MB" in response.text
    assert "upload-refusals" not in response.text


async def test_a_body_streaming_past_the_limit_without_a_declared_length_is_cut_off_with_413(
    small_limit_client: httpx.AsyncClient,
    db: Database,
    settings: Settings,
    alice: User,
    general: Room,
) -> None:
    token = await signed_in(small_limit_client, alice)

    response = await small_limit_client.post(
        f"/rooms/{general.slug}/uploads",
        content=streamed_text_file("big.txt", 4 * MB),
        headers={
            "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
            "X-CSRF-Token": token,
            "HX-Request": "true",
        },
    )

    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    assert read_answer(response).refusals == [
        "What you chose is more than can be sent at once: a file can be up to 1 MB,"
        " and a message can carry 3."
    ]
    assert await pending_files(db, alice, general) == []
    assert stored_files(settings) == []


async def test_a_small_body_streamed_without_a_declared_length_is_accepted(
    small_limit_client: httpx.AsyncClient, db: Database, alice: User, general: Room
) -> None:
    token = await signed_in(small_limit_client, alice)

    response = await small_limit_client.post(
        f"/rooms/{general.slug}/uploads",
        content=streamed_text_file("small.txt", 256 * 1024),
        headers={
            "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
            "X-CSRF-Token": token,
            "HX-Request": "true",
        },
    )

    assert "content-length" not in response.request.headers
    assert response.status_code == 200
    [stored] = await pending_files(db, alice, general)
    assert (stored.original_name, stored.size) == ("small.txt", 256 * 1024)


async def test_a_file_just_over_the_limit_is_refused_by_name_in_a_rejection_fragment(
    small_limit_client: httpx.AsyncClient, db: Database, alice: User, general: Room
) -> None:
    token = await signed_in(small_limit_client, alice)

    response = await upload(small_limit_client, general, token, "notes.txt", b"a" * (MB + 1))

    assert response.status_code == 413
    assert read_answer(response).refusals == ["notes.txt is 1.1 MB: a file can be up to 1 MB."]
    assert await pending_files(db, alice, general) == []


async def test_as_many_files_of_the_largest_size_as_a_message_carries_fit_in_one_upload(
    small_limit_client: httpx.AsyncClient, db: Database, alice: User, general: Room
) -> None:
    token = await signed_in(small_limit_client, alice)
    files = [(f"part {number}.txt", b"a" * MB) for number in range(1, attachments.MAX_PENDING + 1)]

    response = await upload_files(small_limit_client, general, token, files)

    assert response.status_code == 200
    assert read_answer(response).previews == ["part 1.txt", "part 2.txt", "part 3.txt"]
    assert len(await pending_files(db, alice, general)) == attachments.MAX_PENDING


async def test_a_file_too_big_is_refused_by_name_size_and_limit_beside_the_kept_ones(
    small_limit_client: httpx.AsyncClient, db: Database, alice: User, general: Room
) -> None:
    token = await signed_in(small_limit_client, alice)
    files = [("big.txt", b"a" * (MB + MB // 2)), ("photo.png", png())]

    response = await upload_files(small_limit_client, general, token, files)

    assert response.status_code == 200
    answer = read_answer(response)
    assert answer.previews == ["photo.png"]
    assert answer.refusals == ["big.txt is 1.5 MB: a file can be up to 1 MB."]
    assert len(await pending_files(db, alice, general)) == 1


async def test_the_attach_control_says_the_limit_the_server_was_given(
    small_limit_client: httpx.AsyncClient, alice: User, general: Room
) -> None:
    await log_in(small_limit_client, alice)

    page = (await small_limit_client.get(f"/rooms/{general.slug}")).text

    assert "up to 1 MB each, 3 to a message" in page
    assert "10 MB" not in page


# Fetching shared files


async def test_a_member_fetches_a_shared_image_inline_as_data_that_cannot_run(
    app: FastAPI,
    client: httpx.AsyncClient,
    other_client: httpx.AsyncClient,
    db: Database,
    alice: User,
    bob: User,
    general: Room,
) -> None:
    data = png()
    token = await signed_in(client, alice)
    await upload(client, general, token, "café photo.png", data, "image/png")
    [stored] = await pending_files(db, alice, general)
    await sent_file(app, alice, general, stored)
    await log_in(other_client, bob)

    response = await other_client.get(f"/uploads/{stored.stored_name}")

    assert response.status_code == 200
    assert response.content == data
    assert response.headers["content-type"] == "image/png"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in response.headers["content-security-policy"]
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert response.headers["cache-control"] == "private, no-store"  # gone once access is
    disposition = response.headers["content-disposition"]
    assert disposition == "inline; filename*=UTF-8''caf%C3%A9%20photo.png"


@pytest.mark.parametrize(
    ("filename", "data", "content_type"),
    [("plan.pdf", PDF, "application/pdf"), ("notes.txt", TEXT, "text/plain")],
)
async def test_a_document_is_served_as_a_download_not_shown_in_the_page(
    app: FastAPI,
    client: httpx.AsyncClient,
    db: Database,
    alice: User,
    general: Room,
    filename: str,
    data: bytes,
    content_type: str,
) -> None:
    token = await signed_in(client, alice)
    await upload(client, general, token, filename, data, content_type)
    [stored] = await pending_files(db, alice, general)
    await sent_file(app, alice, general, stored)

    response = await client.get(f"/uploads/{stored.stored_name}")

    assert response.status_code == 200
    assert response.content == data
    assert response.headers["content-type"].startswith(content_type)
    assert response.headers["content-disposition"] == f"attachment; filename*=UTF-8''{filename}"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in response.headers["content-security-policy"]


async def test_the_uploader_can_fetch_a_pending_file_for_its_preview(
    client: httpx.AsyncClient, db: Database, alice: User, general: Room
) -> None:
    data = png()
    token = await signed_in(client, alice)
    await upload(client, general, token, "photo.png", data)
    [stored] = await pending_files(db, alice, general)

    response = await client.get(f"/uploads/{stored.stored_name}")

    assert response.status_code == 200
    assert response.content == data


async def test_someone_previewing_a_public_room_fetches_the_files_its_messages_show(
    app: FastAPI,
    client: httpx.AsyncClient,
    other_client: httpx.AsyncClient,
    db: Database,
    alice: User,
    carol: User,
    general: Room,
) -> None:
    data = png()
    token = await signed_in(client, alice)
    await upload(client, general, token, "photo.png", data)
    [stored] = await pending_files(db, alice, general)
    await sent_file(app, alice, general, stored)
    await log_in(other_client, carol)
    page = (await other_client.get(f"/rooms/{general.slug}")).text
    assert f'<img src="/uploads/{stored.stored_name}"' in page

    response = await other_client.get(f"/uploads/{stored.stored_name}")

    assert response.status_code == 200
    assert response.content == data
    assert response.headers["cache-control"] == "private, no-store"


async def test_someone_outside_a_private_room_cannot_fetch_its_files(
    app: FastAPI,
    client: httpx.AsyncClient,
    other_client: httpx.AsyncClient,
    db: Database,
    alice: User,
    carol: User,
) -> None:
    secret = await rooms.create_room(db, alice, name="Secret Plans", is_private=True)
    token = await signed_in(client, alice)
    await upload(client, secret, token)
    [stored] = await pending_files(db, alice, secret)
    await sent_file(app, alice, secret, stored)
    await log_in(other_client, carol)

    response = await other_client.get(f"/uploads/{stored.stored_name}")

    assert response.status_code == 404
    assert "There is no such file." in response.text


async def test_a_file_waiting_to_be_sent_is_fetched_by_its_uploader_alone(
    client: httpx.AsyncClient,
    other_client: httpx.AsyncClient,
    db: Database,
    alice: User,
    bob: User,
    general: Room,
) -> None:
    token = await signed_in(client, alice)
    await upload(client, general, token)
    [waiting] = await pending_files(db, alice, general)
    await log_in(other_client, bob)

    response = await other_client.get(f"/uploads/{waiting.stored_name}")

    assert response.status_code == 404
    assert (await client.get(f"/uploads/{waiting.stored_name}")).status_code == 200


async def test_a_member_removed_from_a_private_room_can_no_longer_fetch_its_files(
    app: FastAPI,
    client: httpx.AsyncClient,
    other_client: httpx.AsyncClient,
    db: Database,
    alice: User,
    bob: User,
) -> None:
    secret = await rooms.create_room(db, alice, name="Secret Plans", is_private=True)
    await rooms.add_member(db, alice, secret.slug, bob.email)
    token = await signed_in(client, alice)
    await upload(client, secret, token)
    [stored] = await pending_files(db, alice, secret)
    await sent_file(app, alice, secret, stored)
    await log_in(other_client, bob)
    assert (await other_client.get(f"/uploads/{stored.stored_name}")).status_code == 200

    await rooms.remove_member(db, alice, secret.slug, bob.id)

    assert (await other_client.get(f"/uploads/{stored.stored_name}")).status_code == 404


async def test_a_signed_out_visitor_is_sent_to_log_in_instead_of_getting_the_file(
    app: FastAPI,
    client: httpx.AsyncClient,
    other_client: httpx.AsyncClient,
    db: Database,
    alice: User,
    general: Room,
) -> None:
    token = await signed_in(client, alice)
    await upload(client, general, token)
    [stored] = await pending_files(db, alice, general)
    await sent_file(app, alice, general, stored)

    response = await other_client.get(f"/uploads/{stored.stored_name}")

    assert response.status_code == 303
    assert response.headers["location"] == "/users/log_in"


@pytest.mark.parametrize(
    "path",
    [
        "/uploads/..%2F..%2Fetc%2Fpasswd",
        "/uploads/%2E%2E",
        "/uploads/passwd",
        "/uploads/livechat.db",
        "/uploads/" + "0" * 32 + ".png",
        "/uploads/" + "A" * 32 + ".png",
    ],
)
async def test_a_malformed_or_unknown_file_name_is_not_found(
    client: httpx.AsyncClient, alice: User, path: str
) -> None:
    await log_in(client, alice)

    response = await client.get(path)

    assert response.status_code == 404
    assert "root:" not in response.text


async def test_a_file_missing_from_disk_is_not_found(
    client: httpx.AsyncClient, db: Database, settings: Settings, alice: User, general: Room
) -> None:
    token = await signed_in(client, alice)
    await upload(client, general, token)
    [stored] = await pending_files(db, alice, general)
    attachments.stored_path(settings.uploads_dir, stored.stored_name).unlink()

    response = await client.get(f"/uploads/{stored.stored_name}")

    assert response.status_code == 404
    assert "That file is gone." in response.text


# Removing a pending upload, and deleting a message


async def test_removing_ones_own_pending_upload_deletes_it(
    client: httpx.AsyncClient, db: Database, settings: Settings, alice: User, general: Room
) -> None:
    token = await signed_in(client, alice)
    await upload(client, general, token)
    [stored] = await pending_files(db, alice, general)

    response = await client.delete(
        f"/uploads/{stored.id}", headers={"X-CSRF-Token": token, "HX-Request": "true"}
    )

    assert response.status_code == 200
    assert await pending_files(db, alice, general) == []
    assert stored_files(settings) == []
    assert (await client.get(f"/uploads/{stored.stored_name}")).status_code == 404


async def test_removing_someone_elses_upload_is_not_found_and_leaves_it(
    client: httpx.AsyncClient,
    other_client: httpx.AsyncClient,
    db: Database,
    settings: Settings,
    alice: User,
    bob: User,
    general: Room,
) -> None:
    token = await signed_in(client, alice)
    await upload(client, general, token)
    [stored] = await pending_files(db, alice, general)
    bobs_token = await signed_in(other_client, bob)

    response = await other_client.delete(
        f"/uploads/{stored.id}", headers={"X-CSRF-Token": bobs_token, "HX-Request": "true"}
    )

    assert response.status_code == 404
    assert [a.id for a in await pending_files(db, alice, general)] == [stored.id]
    assert len(stored_files(settings)) == 1


async def test_removing_an_upload_by_an_id_out_of_range_is_a_clear_400(
    client: httpx.AsyncClient, alice: User
) -> None:
    token = await signed_in(client, alice)

    response = await client.delete(
        "/uploads/99999999999999999999", headers={"X-CSRF-Token": token, "HX-Request": "true"}
    )

    assert response.status_code == 400
    assert "malformed" in response.text


async def test_deleting_a_message_deletes_its_files_so_they_can_no_longer_be_fetched(
    app: FastAPI,
    client: httpx.AsyncClient,
    db: Database,
    settings: Settings,
    alice: User,
    general: Room,
) -> None:
    token = await signed_in(client, alice)
    await upload(client, general, token)
    [stored] = await pending_files(db, alice, general)
    server = room_server(app, general)
    posted = await server.post(alice, "look", None, (stored.id,))
    assert (await client.get(f"/uploads/{stored.stored_name}")).status_code == 200

    await server.delete(alice, posted.message.id)

    assert stored_files(settings) == []
    assert (await client.get(f"/uploads/{stored.stored_name}")).status_code == 404


async def test_deleting_a_room_deletes_the_files_shared_and_waiting_in_it(
    app: FastAPI,
    client: httpx.AsyncClient,
    db: Database,
    settings: Settings,
    alice: User,
    general: Room,
) -> None:
    token = await signed_in(client, alice)
    await upload(client, general, token, "sent.png")
    [sent] = await pending_files(db, alice, general)
    await sent_file(app, alice, general, sent)
    await upload(client, general, token, "waiting.pdf", PDF)
    assert len(stored_files(settings)) == 2

    response = await client.post(
        f"/rooms/{general.slug}/delete",
        data={"confirm": "yes"},
        headers={"X-CSRF-Token": token},
    )

    assert response.status_code == 303
    assert await rooms.list_rooms(db, alice.id) == []
    assert stored_files(settings) == []


async def test_sent_files_show_in_the_room_for_its_members(
    app: FastAPI,
    client: httpx.AsyncClient,
    other_client: httpx.AsyncClient,
    db: Database,
    alice: User,
    bob: User,
    general: Room,
) -> None:
    token = await signed_in(client, alice)
    await upload(client, general, token, "plan.pdf", PDF)
    [stored] = await pending_files(db, alice, general)
    await sent_file(app, alice, general, stored)
    await log_in(other_client, bob)

    page = (await other_client.get(f"/rooms/{general.slug}")).text

    link = re.search(r'<a class="attachment-file" href="([^"]+)" download="([^"]+)">', page)
    assert link is not None
    assert link.groups() == (f"/uploads/{stored.stored_name}", "plan.pdf")
