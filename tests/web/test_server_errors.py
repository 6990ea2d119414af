"""Faults on the server's side, over a real uvicorn: the person gets a page or a fragment
that says what happened, the log gets one line, and the keep-alive connection the
request came on goes on serving."""

from __future__ import annotations

import io
import logging
import re
import shutil

import httpx
import pytest
from PIL import Image

from livechat.accounts.auth import SESSION_COOKIE
from livechat.accounts.models import User
from livechat.chat import messages
from livechat.chat.models import Room
from livechat.settings import Settings
from livechat.web.csrf import CSRF_COOKIE
from tests.live import LiveServer, session_cookie


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 40, 40)).save(buffer, format="PNG")
    return buffer.getvalue()


def _stream(response: httpx.Response) -> object:
    """The connection a response came on: the same object means the same connection."""
    return response.extensions["network_stream"]


async def _signed_in_headers(http: httpx.AsyncClient, session: str, page: str) -> dict[str, str]:
    """What a signed-in page's htmx requests carry: cookies (by hand: they are Secure and
    this is plain http) and the CSRF token."""
    response = await http.get(page, headers={"Cookie": f"{SESSION_COOKIE}={session}"})
    token = re.search(r'name="csrf-token" content="([0-9a-f]+)"', response.text)
    assert token is not None
    return {
        "Cookie": f"{SESSION_COOKIE}={session}; {CSRF_COOKIE}={response.cookies[CSRF_COOKIE]}",
        "X-CSRF-Token": token.group(1),
        "HX-Request": "true",
    }


def _logged_errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.levelno >= logging.ERROR]


async def test_a_file_the_server_cannot_store_is_refused_in_the_page_and_logged_once(
    server: LiveServer,
    settings: Settings,
    general: Room,
    alice: User,
    caplog: pytest.LogCaptureFixture,
) -> None:
    session = await session_cookie(server, alice.email)
    # The folder is gone and a file stands in its place: nothing can be written there.
    shutil.rmtree(settings.uploads_dir, ignore_errors=True)
    settings.uploads_dir.write_bytes(b"")

    async with httpx.AsyncClient(base_url=server.url) as http:
        headers = await _signed_in_headers(http, session, f"/rooms/{general.slug}")
        caplog.clear()
        refused = await http.post(
            f"/rooms/{general.slug}/uploads",
            files={"attachment": ("photo.png", _png(), "image/png")},
            headers=headers,
        )
        next_request = await http.get("/healthz")

    assert refused.status_code == 503
    assert "could not store your file just now" in refused.text
    assert "upload-rejected" in refused.text
    assert next_request.status_code == 200
    assert _stream(next_request) is _stream(refused)
    errors = _logged_errors(caplog)
    assert len(errors) == 1
    assert str(settings.uploads_dir) in errors[0].getMessage()
    assert errors[0].exc_info is None


async def test_an_unexpected_error_gets_the_error_page_one_log_record_and_a_live_connection(
    server: LiveServer,
    general: Room,
    alice: User,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("the history is broken")

    monkeypatch.setattr(messages, "history", broken)
    session = await session_cookie(server, alice.email)
    cookie = {"Cookie": f"{SESSION_COOKIE}={session}"}

    async with httpx.AsyncClient(base_url=server.url) as http:
        caplog.clear()
        failed = await http.get(f"/rooms/{general.slug}/messages?before=5", headers=cookie)
        next_request = await http.get("/healthz")

    assert failed.status_code == 500
    assert "Something went wrong on our side" in failed.text
    assert "content-security-policy" in failed.headers
    assert next_request.status_code == 200
    assert _stream(next_request) is _stream(failed)
    errors = _logged_errors(caplog)
    assert len(errors) == 1
    assert errors[0].exc_info is not None
    assert "the history is broken" in str(errors[0].exc_info[1])
