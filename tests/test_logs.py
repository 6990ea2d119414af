"""Logs: one line per event, as text or JSON, each carrying its request's or socket's id."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import logging.config
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from livechat.accounts.models import User
from livechat.chat import rooms
from livechat.db import Database
from livechat.logs import log_config
from livechat.realtime.rooms import RoomRequest, RoomServer
from livechat.settings import LogFormat, Settings
from tests.live import room_page, serving

CONFIGURED = ("", "livechat", "uvicorn", "uvicorn.error", "uvicorn.access")
FRESH_ID = re.compile(r"[0-9a-f]{32}")


@contextlib.contextmanager
def logging_as(fmt: LogFormat) -> Iterator[io.StringIO]:
    """The process's logging set up by ``log_config(fmt)``, writing into a buffer instead of
    stderr; put back as it was on the way out."""
    loggers = [logging.getLogger(name) for name in CONFIGURED]
    saved = [(logger, logger.level, logger.handlers[:], logger.propagate) for logger in loggers]
    output = io.StringIO()
    with contextlib.redirect_stderr(output):  # the handler's stream is looked up right now
        logging.config.dictConfig(log_config(fmt))
    try:
        yield output
    finally:
        for logger, level, handlers, propagate in saved:
            logger.handlers = handlers
            logger.setLevel(level)
            logger.propagate = propagate


def json_lines(output: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.getvalue().splitlines()]


def fail() -> None:
    raise RuntimeError("it broke\nacross lines")


def test_a_json_line_is_one_object_with_the_exception_folded_into_a_field() -> None:
    with logging_as(LogFormat.JSON) as output:
        try:
            fail()
        except RuntimeError:
            logging.getLogger("livechat.test").exception("%s failed", "the thing")

    [entry] = json_lines(output)
    assert entry["level"] == "ERROR"
    assert entry["logger"] == "livechat.test"
    assert entry["message"] == "the thing failed"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", entry["time"])
    assert entry["exception"].startswith("Traceback")
    assert "RuntimeError: it broke\nacross lines" in entry["exception"]
    assert "request_id" not in entry
    assert "socket_id" not in entry


def test_a_text_line_escapes_line_breaks_and_its_traceback_follows_it() -> None:
    with logging_as(LogFormat.TEXT) as output:
        logging.getLogger("livechat.test").warning("a name with\na fake line in it")
        try:
            fail()
        except RuntimeError:
            logging.getLogger("livechat.test").exception("failed")

    warning, error, *traceback = output.getvalue().splitlines()
    assert re.fullmatch(r"\S+Z WARNING livechat\.test a name with\\na fake line in it", warning), (
        warning
    )
    assert error.endswith(" ERROR livechat.test failed")
    assert traceback[0] == "Traceback (most recent call last):"
    assert traceback[-2:] == ["RuntimeError: it broke", "across lines"]


def test_livechat_and_uvicorn_log_from_info_and_everything_else_from_warning() -> None:
    with logging_as(LogFormat.JSON) as output:
        for name in ("livechat.chat", "uvicorn.error", "uvicorn.access", "some.library"):
            logging.getLogger(name).info("info from %s", name)
        logging.getLogger("some.library").warning("a warning from some.library")

    assert [entry["message"] for entry in json_lines(output)] == [
        "info from livechat.chat",
        "info from uvicorn.error",
        "info from uvicorn.access",
        "a warning from some.library",
    ]


async def test_a_request_keeps_the_id_its_proxy_gave_it_and_is_answered_with_it(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/healthz", headers={"X-Request-ID": "edge-7f3a.42"})

    assert response.headers["x-request-id"] == "edge-7f3a.42"


@pytest.mark.parametrize(
    "offered", [None, b"", b"x" * 65, b"two words", b"back\\slash", "caf\u00e9".encode()]
)
async def test_a_request_without_a_sane_id_gets_a_fresh_one(
    client: httpx.AsyncClient, offered: bytes | None
) -> None:
    headers = {} if offered is None else {b"X-Request-ID": offered}

    first = await client.get("/healthz", headers=headers)
    second = await client.get("/healthz", headers=headers)

    assert FRESH_ID.fullmatch(first.headers["x-request-id"])
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


async def test_uvicorns_access_line_carries_the_request_id_and_its_fields(
    settings: Settings,
) -> None:
    async with serving(settings) as server:
        with logging_as(LogFormat.JSON) as output:
            async with httpx.AsyncClient(base_url=server.url) as http:
                await http.get("/healthz", headers={"X-Request-ID": "from-the-proxy"})

    [access] = [entry for entry in json_lines(output) if entry["logger"] == "uvicorn.access"]
    assert access["request_id"] == "from-the-proxy"
    assert access["method"] == "GET"
    assert access["path"] == "/healthz"
    assert access["status"] == 200
    assert access["client"].startswith("127.0.0.1:")


async def test_every_line_a_socket_causes_carries_its_id_and_a_room_server_it_started_does_not(
    settings: Settings, db: Database, alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    room = await rooms.create_room(db, alice, name="General")
    handle = RoomServer.handle

    async def crash_once(room_server: RoomServer, request: RoomRequest) -> object:
        monkeypatch.setattr(RoomServer, "handle", handle)
        raise RuntimeError("a bug in the room server")

    monkeypatch.setattr(RoomServer, "handle", crash_once)
    async with serving(settings) as server:
        with logging_as(LogFormat.JSON) as output:
            async with room_page(server, alice, room) as first, room_page(server, alice, room):
                await first.say("this crashes the room server")
                await first.expect("Something went wrong on our side")

    entries = json_lines(output)
    accepted = [entry for entry in entries if entry["message"].endswith("[accepted]")]
    assert len({entry["socket_id"] for entry in accepted}) == 2
    [failed] = [entry for entry in entries if entry["logger"] == "livechat.web.room_socket"]
    assert failed["socket_id"] == accepted[0]["socket_id"]
    assert "a bug in the room server" in failed["exception"]
    [crashed] = [entry for entry in entries if entry["logger"] == "livechat.realtime.supervisor"]
    assert "crashed; restarting it" in crashed["message"]
    assert "socket_id" not in crashed
