"""What the benchmarks share: a populated database, a server in a process of its own on a
core of its own, that process's CPU time and memory, and a WebSocket client cheap enough
that one core of it can read what a server sends to hundreds of pages.

The client speaks just enough of RFC 6455 for a benchmark: one handshake, unfragmented
frames from the server (which never masks them), masked text frames to it, and a pong for
every ping, as uvicorn closes a socket that stops answering. A full client library spends
more per frame than the server under test does, and would be measured in its place.
"""

from __future__ import annotations

import asyncio
import base64
import os
import resource
import secrets
import shutil
import socket
import sys
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from livechat import schema
from livechat.accounts.auth import SESSION_COOKIE
from livechat.accounts.models import AccessToken, User
from livechat.chat.models import Membership, Room
from livechat.db import Database

SERVER_CORE = 0
CLIENT_CORE = 1
START_TIMEOUT_S = 30.0


async def populate(database_url: str, people: int) -> tuple[str, list[str]]:
    """One public room of ``people`` members, each signed in: the room's slug and one
    session token per person."""
    db = Database(database_url)
    tokens = [secrets.token_hex(16) for _ in range(people)]
    async with db.write() as session:
        users = [
            User(
                email=f"person{n}@example.com",
                display_name=f"Person {n}",
                handle=f"person{n}",
                hashed_password="-",
            )
            for n in range(people)
        ]
        session.add_all(users)
        await session.flush()
        room = Room(name="Everyone", slug="everyone", creator_id=users[0].id)
        session.add(room)
        await session.flush()
        session.add_all(
            Membership(room_id=room.id, user_id=user.id, role="admin" if n == 0 else "member")
            for n, user in enumerate(users)
        )
        session.add_all(
            AccessToken(token=token, user_id=user.id)
            for token, user in zip(tokens, users, strict=True)
        )
    await db.dispose()
    return room.slug, tokens


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of process ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def resident_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def prepare() -> str:
    """Allow this process (and the servers it starts) a file descriptor per socket, and run
    it on the client's core if the machine has two; what was done."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if len(os.sched_getaffinity(0)) < 2 or shutil.which("taskset") is None:
        return "not pinned (fewer than two cores or no taskset): figures are noisier"
    os.sched_setaffinity(0, {CLIENT_CORE})
    return f"server pinned to core {SERVER_CORE}, clients to core {CLIENT_CORE}"


@dataclass
class Server:
    process: asyncio.subprocess.Process
    port: int
    log: Path

    def errors(self) -> list[str]:
        """The lines of its log that report an error or a traceback."""
        lines = self.log.read_text(errors="replace").splitlines()
        return [line for line in lines if "ERROR" in line or line.startswith("Traceback")]

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    async def stop(self) -> None:
        self.process.terminate()
        await self.process.wait()


async def start_server(
    command: Sequence[str], environment: dict[str, str], port: int, log: Path
) -> Server:
    """Start ``command`` (which serves on ``port``, logging to ``log``) on the server's
    core and wait until its ``/healthz`` answers."""
    pinned = ["taskset", "-c", str(SERVER_CORE)] if shutil.which("taskset") else []
    with log.open("wb") as output:
        process = await asyncio.create_subprocess_exec(
            *pinned,
            *command,
            env={**os.environ, **environment},
            stdout=output,
            stderr=output,
        )
    server = Server(process, port, log)
    async with asyncio.timeout(START_TIMEOUT_S), httpx.AsyncClient() as http:
        while True:
            if process.returncode is not None:
                raise RuntimeError(f"{command[0]} exited with {process.returncode}")
            try:
                await http.get(f"{server.origin}/healthz")
                return server
            except httpx.TransportError:
                await asyncio.sleep(0.1)


def livechat_command(port: int) -> list[str]:
    return [
        sys.executable,
        "-c",
        "from livechat.cli import main; main()",
        "serve",
        "--port",
        str(port),
    ]


def livechat_environment(folder: str, database_url: str) -> dict[str, str]:
    return {
        "LIVECHAT_DATABASE_URL": database_url,
        "LIVECHAT_UPLOADS_DIR": f"{folder}/uploads",
        "LIVECHAT_LOG_FORMAT": "text",
    }


def report_errors(name: str, server: Server) -> None:
    errors = server.errors()
    print(f"{name:>9} logged {len(errors)} errors{': ' + errors[0] if errors else ''}")


def migrated_database(folder: str) -> str:
    """The URL of a fresh livechat database in ``folder``, at the newest schema."""
    database_url = f"sqlite+aiosqlite:///{folder}/livechat.db"
    schema.upgrade(database_url)
    return database_url


@asynccontextmanager
async def serving_livechat(
    folder: str,
    database_url: str,
    name: str = "livechat",
    environment: Mapping[str, str] | None = None,
) -> AsyncIterator[Server]:
    """``livechat serve`` on ``database_url``, with ``environment`` added to its settings,
    logging into ``folder`` as ``name``; once stopped, how many errors it logged."""
    port = free_port()
    settings = {**livechat_environment(folder, database_url), **(environment or {})}
    log = Path(folder) / f"{name}.log"
    server = await start_server(livechat_command(port), settings, port, log)
    try:
        yield server
    finally:
        await server.stop()
        report_errors(name, server)


_OPCODE_TEXT, _OPCODE_CLOSE, _OPCODE_PING, _OPCODE_PONG = 0x1, 0x8, 0x9, 0xA


def _masked_frame(opcode: int, payload: bytes) -> bytes:
    key = os.urandom(4)
    length = len(payload)
    if length < 126:
        header = bytes([0x80 | opcode, 0x80 | length])
    elif length < 1 << 16:
        header = bytes([0x80 | opcode, 0x80 | 126]) + length.to_bytes(2, "big")
    else:
        header = bytes([0x80 | opcode, 0x80 | 127]) + length.to_bytes(8, "big")
    repeated = (key * (length // 4 + 1))[:length]
    masked = (int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")).to_bytes(
        length, "big"
    )
    return header + key + masked


class Page(asyncio.Protocol):
    """One page's socket. ``on_frame`` sees each text frame's payload as it arrives."""

    def __init__(self, on_frame: Callable[[Page, bytes], None] = lambda _page, _frame: None):
        self.on_frame = on_frame
        self.frames = 0
        self.bytes = 0
        self.last_frame = 0.0
        self.closed: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        # Done at the first frame the server sends, or when the socket closes.
        self.answered: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._handshaken = False

    @classmethod
    async def open(
        cls,
        origin: str,
        path: str,
        token: str | None = None,
        on_frame: Callable[[Page, bytes], None] = lambda _page, _frame: None,
    ) -> Page:
        host, port = origin.removeprefix("http://").split(":")
        loop = asyncio.get_running_loop()
        _, page = await loop.create_connection(lambda: cls(on_frame), host, int(port))
        cookie = f"Cookie: {SESSION_COOKIE}={token}\r\n" if token else ""
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            f"Sec-WebSocket-Version: 13\r\nOrigin: {origin}\r\n{cookie}\r\n"
        )
        assert page._transport is not None
        page._transport.write(request.encode())
        await page._opened
        return page

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._opened.done():
            self._opened.set_exception(exc or ConnectionError("closed during the handshake"))
        if not self.closed.done():
            self.closed.set_result(1006)
        if not self.answered.done():
            self.answered.set_result(None)

    def send(self, text: str) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(_masked_frame(_OPCODE_TEXT, text.encode()))

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if not self._handshaken:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            status = bytes(self._buffer[:end]).split(b"\r\n", 1)[0]
            del self._buffer[: end + 4]
            if b" 101 " not in status:
                self._opened.set_exception(ConnectionError(status.decode()))
                self.abort()
                return
            self._handshaken = True
            self._opened.set_result(None)
        self._frames()

    def _frames(self) -> None:
        buffer = self._buffer
        start = 0
        while len(buffer) - start >= 2:
            opcode, length = buffer[start] & 0x0F, buffer[start + 1] & 0x7F
            offset = start + 2
            if length == 126:
                if len(buffer) - offset < 2:
                    break
                length, offset = int.from_bytes(buffer[offset : offset + 2], "big"), offset + 2
            elif length == 127:
                if len(buffer) - offset < 8:
                    break
                length, offset = int.from_bytes(buffer[offset : offset + 8], "big"), offset + 8
            if len(buffer) - offset < length:
                break
            payload = bytes(buffer[offset : offset + length])
            start = offset + length
            if opcode == _OPCODE_TEXT:
                if not self.answered.done():
                    self.answered.set_result(None)
                self.frames += 1
                self.bytes += length
                self.last_frame = time.monotonic()
                self.on_frame(self, payload)
            elif opcode == _OPCODE_PING and self._transport is not None:
                self._transport.write(_masked_frame(_OPCODE_PONG, payload))
            elif opcode == _OPCODE_CLOSE:
                code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
                if not self.closed.done():
                    self.closed.set_result(code)
                self.abort()
        del buffer[:start]
