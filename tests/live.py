"""A real uvicorn serving the app on a free port, and WebSocket clients that talk to it
the way htmx's ws extension does."""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from livechat.accounts.auth import SESSION_COOKIE
from livechat.accounts.models import User
from livechat.app import create_app
from livechat.chat.models import Room
from livechat.cli import server_config
from livechat.realtime.tree import Realtime
from livechat.settings import Settings
from livechat.web.csrf import CSRF_COOKIE
from tests.helpers import PASSWORD

FRAME_TIMEOUT_S = 5.0
START_TIMEOUT_S = 10.0
PROCESS_START_TIMEOUT_S = 30.0
# How a room list's socket begins: both lists as they are as it connects.
ROOM_LISTS = 'id="rooms" hx-swap-oob="innerHTML"'


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Address:
    """Where a livechat serves: in this process, or in another."""

    url: str

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://", 1)


@dataclass
class LiveServer(Address):
    app: FastAPI
    server: uvicorn.Server
    # Why the supervision tree gave up, if it did; it would stop the process otherwise.
    fatal: list[BaseException]

    @property
    def realtime(self) -> Realtime:
        realtime: Realtime = self.app.state.realtime
        return realtime


@asynccontextmanager
async def serving(settings: Settings, **options: Any) -> AsyncIterator[LiveServer]:
    """The app served as ``livechat serve`` serves it, but for uvicorn's ``options``."""
    fatal: list[BaseException] = []
    app = create_app(settings, on_fatal=fatal.append)
    port = free_port()
    config = server_config(app, host="127.0.0.1", port=port, log_level="warning", **options)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(START_TIMEOUT_S):
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", app, server, fatal)
    finally:
        server.should_exit = True
        await task


async def session_cookie(server: Address, email: str, password: str = PASSWORD) -> str:
    """Log in over HTTP as a browser would and return the session cookie's value."""
    response = await log_in(server, email, password)
    assert response.status_code == 303, response.text
    return response.cookies[SESSION_COOKIE]


async def log_in(server: Address, email: str, password: str) -> httpx.Response:
    """Submit the log-in form as a browser would; the answer."""
    async with httpx.AsyncClient(base_url=server.url) as http:
        page = await http.get("/users/log_in")
        token = re.search(r'name="csrf-token" content="([0-9a-f]+)"', page.text)
        assert token is not None
        # The cookies are Secure outside development and this is plain http: a browser on
        # localhost still sends them, httpx's cookie jar does not, so they go by hand.
        return await http.post(
            "/users/log_in",
            data={"email": email, "password": password, "csrf_token": token.group(1)},
            headers={"Cookie": f"{CSRF_COOKIE}={page.cookies[CSRF_COOKIE]}"},
        )


# A message appended, swapped in place (out of band), or left as a deleted one's tombstone.
_ARTICLE = re.compile(
    r'<article id="message-(\d+)" class="(message[\w -]*)"[^>]*?( hx-swap-oob="(\w+)")?>'
)


_CURSOR = re.compile(r'id="cursor-(seq|last-id)" name="\w+" value="(\d+)"')


@dataclass
class MessageList:
    """A page's ``#messages`` as htmx leaves it after the frames its socket sent: message
    ids in page order, and the cursor it would send on reconnecting. ``doubled`` keeps any
    id appended while already shown, which htmx would show twice."""

    ids: list[int] = field(default_factory=list)
    doubled: list[int] = field(default_factory=list)
    seq: int = 0
    last_id: int = 0

    def apply(self, frame: str) -> None:
        for field_name, value in _CURSOR.findall(frame):
            if field_name == "seq":
                self.seq = int(value)
            else:
                self.last_id = int(value)
        if 'id="messages" class="messages"' in frame and 'hx-swap-oob="outerHTML"' in frame:
            self.ids = []  # the whole list, anew: the articles that follow are all of it
        for match in _ARTICLE.finditer(frame):
            message_id, swap = int(match[1]), match[4]
            if match[2] == "message-gone":
                self.ids = [shown for shown in self.ids if shown != message_id]
            elif swap is None:
                if message_id in self.ids:
                    self.doubled.append(message_id)
                else:
                    self.ids.append(message_id)


@dataclass
class Client:
    """One page's socket, speaking the ws extension's dialect."""

    connection: ClientConnection
    seen: list[str] = field(default_factory=list)

    async def send(self, trigger: str, **values: Any) -> None:
        headers = {"HX-Request": "true", "HX-Trigger": trigger, "HX-Current-URL": "/"}
        await self.connection.send(json.dumps({**values, "HEADERS": headers}))

    async def say(self, body: str, client_msg_id: str | None = None) -> None:
        await self.send("message-form", body=body, client_msg_id=client_msg_id or uuid.uuid4().hex)

    async def catch_up(self, seq: int, last_id: int) -> None:
        await self.send("catch-up", seq=str(seq), last_id=str(last_id))

    def messages(self) -> MessageList:
        """The page's message list after every frame received so far."""
        shown = MessageList()
        for frame in self.seen:
            shown.apply(frame)
        return shown

    async def expect(self, predicate: Callable[[str], bool] | str) -> str:
        """Wait for the next frame that matches (a substring, or a predicate)."""
        matches = (lambda html: predicate in html) if isinstance(predicate, str) else predicate
        async with asyncio.timeout(FRAME_TIMEOUT_S):
            while True:
                frame = str(await self.connection.recv())
                self.seen.append(frame)
                if matches(frame):
                    return frame

    async def expect_times(self, text: str, times: int) -> None:
        """Wait until ``text`` has come ``times`` times since the socket opened, in however
        many frames: a burst may come in one."""
        async with asyncio.timeout(FRAME_TIMEOUT_S):
            while sum(frame.count(text) for frame in self.seen) < times:
                self.seen.append(str(await self.connection.recv()))

    async def expect_closed(self) -> tuple[int, str]:
        """Read until the server closes the socket; return its close code and reason."""
        received = None
        async with asyncio.timeout(FRAME_TIMEOUT_S):
            try:
                while True:
                    self.seen.append(str(await self.connection.recv()))
            except ConnectionClosed as closed:
                received = closed.rcvd
        if received is None:
            raise AssertionError("the socket closed without a close frame")
        return received.code, received.reason


@asynccontextmanager
async def socket_client(
    server: Address,
    path: str,
    cookie: str | None,
    *,
    origin: str | None = None,
    forwarded_proto: str | None = None,
    sluggish: bool = False,
) -> AsyncIterator[Client]:
    """A page's socket. ``forwarded_proto`` is what a proxy in front would say the
    browser used. A ``sluggish`` one has tiny buffers, so that a client that stops reading
    pushes back on the server within a few frames instead of tens of megabytes."""
    headers = {"Origin": origin or server.url}
    if forwarded_proto is not None:
        headers["X-Forwarded-Proto"] = forwarded_proto
    if cookie is not None:
        headers["Cookie"] = f"{SESSION_COOKIE}={cookie}"
    options: dict[str, Any] = {}
    if sluggish:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024)
        sock.connect(("127.0.0.1", int(server.url.rsplit(":", 1)[1])))
        options = {"sock": sock, "max_queue": 1, "compression": None}
    url = f"{server.ws_url}{path}"
    async with connect(url, additional_headers=headers, **options) as connection:
        yield Client(connection)


async def get_in(server: Address, session: str, path: str) -> httpx.Response:
    """Load a page in the browser holding ``session``."""
    async with httpx.AsyncClient(base_url=server.url) as http:
        return await http.get(path, headers={"Cookie": f"{SESSION_COOKIE}={session}"})


async def submit_as(server: Address, email: str, path: str, data: dict[str, str]) -> int:
    """Post a page's form as the signed-in ``email``, CSRF token and all; the status."""
    session = await session_cookie(server, email)
    return (await submit_in(server, session, path, data)).status_code


async def submit_in(
    server: Address, session: str, path: str, data: dict[str, str]
) -> httpx.Response:
    """Post a page's form from the browser holding ``session``, CSRF token and all."""
    async with httpx.AsyncClient(base_url=server.url) as http:
        page = await http.get("/rooms", headers={"Cookie": f"{SESSION_COOKIE}={session}"})
        token = re.search(r'name="csrf-token" content="([0-9a-f]+)"', page.text)
        assert token is not None
        cookies = f"{SESSION_COOKIE}={session}; {CSRF_COOKIE}={page.cookies[CSRF_COOKIE]}"
        return await http.post(
            path, data={**data, "csrf_token": token.group(1)}, headers={"Cookie": cookies}
        )


@asynccontextmanager
async def room_page(
    server: Address,
    user: User,
    room: Room,
    *,
    seq: int = 0,
    last_id: int = 0,
    sluggish: bool = False,
    session: str | None = None,
) -> AsyncIterator[Client]:
    """A room page that has connected and caught up from the cursor it was rendered with,
    in a browser of its own unless ``session`` names one."""
    cookie = session or await session_cookie(server, user.email)
    path = f"/rooms/{room.slug}/ws"
    async with socket_client(server, path, cookie, sluggish=sluggish) as client:
        await client.catch_up(seq, last_id)
        await client.expect('id="presence"')
        yield client


LIVECHAT = str(Path(sys.executable).with_name("livechat"))


@dataclass
class Process:
    """A ``livechat serve`` of its own, and the file its log goes to."""

    address: Address
    popen: subprocess.Popen[bytes]
    log: Path


Start = Callable[..., Process]


@contextmanager
def livechat_processes(settings: Settings, redis_url: str, folder: Path) -> Iterator[Start]:
    """Starts ``livechat serve`` processes that share the test's database, uploads and
    Redis (under a prefix of the test's own), with settings overridden by keyword; all are
    stopped when the block ends."""
    environment = {
        **os.environ,
        "LIVECHAT_ENV": "test",
        "LIVECHAT_DATABASE_URL": settings.database_url,
        "LIVECHAT_UPLOADS_DIR": str(settings.uploads_dir),
        "LIVECHAT_SECRET_KEY": settings.secret_key,
        "LIVECHAT_REDIS_URL": redis_url,
        "LIVECHAT_REDIS_PREFIX": f"test-{uuid.uuid4().hex}",
    }
    started: list[Process] = []

    def start(**overrides: str) -> Process:
        port = free_port()
        log = folder / f"livechat-{port}.log"
        with log.open("wb") as output:
            popen = subprocess.Popen(  # noqa: S603  (our own entry point, fixed arguments)
                [LIVECHAT, "serve", "--port", str(port)],
                env=environment | overrides,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        process = Process(Address(f"http://127.0.0.1:{port}"), popen, log)
        started.append(process)
        wait_until_healthy(process.address.url, popen, PROCESS_START_TIMEOUT_S)
        return process

    try:
        yield start
    finally:
        for process in started:
            process.popen.terminate()
        for process in started:
            process.popen.wait(timeout=30)


def wait_until_healthy(url: str, server: subprocess.Popen[Any], timeout_s: float = 30.0) -> None:
    """Wait until the livechat process ``server`` answers ``url``/healthz with 200; fail at
    once, with its exit status, if it ends first."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with {server.returncode} before serving")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.05)
    raise TimeoutError(f"the server at {url} did not become healthy")
