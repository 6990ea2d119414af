"""What every live socket does alike: who may open one, and how it is written to.

A socket that must not come back (signed out, not allowed, from another site) is accepted
and then closed with 1008 and a fragment saying why: refusing the handshake would look like
a network failure (1006) to the browser, which would retry forever. The same goes for a
socket whose session ends while it is open: signing out, changing the password elsewhere or
deactivating the account publish a ``Revocation`` that every page of that session obeys.

Each connection has one writer: everything it sends, broadcasts and direct replies alike,
goes through its hub subscription's bounded queue, so frames leave in order and one slow
browser never holds anyone else up.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from fastapi import WebSocket, WebSocketDisconnect
from starlette.requests import HTTPConnection
from starlette.routing import compile_path
from starlette.status import WS_1008_POLICY_VIOLATION, WS_1013_TRY_AGAIN_LATER
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from livechat.accounts.auth import SESSION_COOKIE, Accounts, session_id
from livechat.errors import Unavailable
from livechat.realtime.hub import Subscription
from livechat.realtime.presence import Person
from livechat.web.templating import templates

_DEFAULT_PORTS = {"http": 80, "https": 443}

_SERVER_SEND = "livechat.server_send"

SocketEndpoint = Callable[..., Awaitable[None]]


class SocketRoutes:
    """Serves the live sockets straight from the server, ahead of the rest of the
    middleware and of the router, none of which acts on a socket. Each of those layers
    would stay on the socket's stack for as long as it is open (a frame, an exit stack,
    a copy of the scope, two wrappers around ``send`` checking its state at every
    frame), at every page of every room: it was a sixth of an idle socket's memory.

    ``routes`` maps a path, with ``{name}`` parameters as in Starlette's, to a function
    that takes the socket and those parameters. Everything else goes on to ``app``."""

    def __init__(self, app: ASGIApp, routes: dict[str, SocketEndpoint]) -> None:
        self.app = app
        self._routes = [(compile_path(path)[0], endpoint) for path, endpoint in routes.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            for pattern, endpoint in self._routes:
                if (match := pattern.match(scope["path"])) is not None:
                    scope[_SERVER_SEND] = send
                    await endpoint(WebSocket(scope, receive, send), **match.groupdict())
                    return
        await self.app(scope, receive, send)


class Frames:
    """Sends text frames to one accepted socket straight to the server's ``send``, which
    ``SocketRoutes`` kept: the socket's own checks its state at every frame, and a
    broadcast is a frame for every page of a room. Closing still goes through the
    socket, which then knows it is closed."""

    def __init__(self, websocket: WebSocket) -> None:
        self._send: Send = websocket.scope[_SERVER_SEND]

    async def text(self, html: str) -> None:
        message: Message = {"type": "websocket.send", "text": html}
        try:
            await self._send(message)
        except RuntimeError as error:
            # The page closed first: uvicorn refuses a frame after the close handshake
            # with a RuntimeError, where Starlette would have said the socket was gone.
            raise WebSocketDisconnect(code=1006) from error


def same_origin(websocket: HTTPConnection) -> bool:
    """Cross-Site WebSocket Hijacking defence: browsers always send Origin on a WebSocket
    handshake, and a page of ours connects from our own scheme, host and port. A page
    served over https connects with wss; behind a proxy that ends TLS, uvicorn takes the
    scheme from the X-Forwarded-Proto of a trusted proxy (FORWARDED_ALLOW_IPS)."""
    origin = websocket.headers.get("origin")
    host = websocket.headers.get("host")
    if origin is None or host is None:
        return False
    page_scheme = "https" if websocket.url.scheme == "wss" else "http"
    ours = _site(f"{page_scheme}://{host}")
    return ours is not None and _site(origin) == ours


def _site(url: str) -> tuple[str, str, int] | None:
    """A URL's scheme, host and port, the default port spelled out; None if malformed."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or _DEFAULT_PORTS.get(scheme)
    except ValueError:
        return None
    if not parts.hostname or port is None:
        return None
    return scheme, parts.hostname, port


async def refuse(websocket: WebSocket, reason: str) -> None:
    html = templates.get_template("broadcasts/socket_refused.html").render(reason=reason)
    await websocket.send_text(html)
    await websocket.close(WS_1008_POLICY_VIOLATION, reason)


SIGNED_OUT = "You have been signed out. Log in again to keep chatting."


@dataclass(frozen=True, slots=True)
class SignedIn:
    """Who is on the other end of a socket, as they were when it opened, and with which
    session. Not the store's row, which each socket would keep for as long as it is open:
    what changes the store asks the store who they are now."""

    person: Person
    token: str

    @property
    def user_id(self) -> int:
        return self.person.id

    @property
    def session(self) -> str:
        return session_id(self.token)


TOO_MANY = "You have too many livechat pages open. Close some, then reload this one."


class OpenSockets:
    """How many sockets each person has open in this process, capped: each holds a queue,
    two tasks and its buffers, so one person with a script, or hundreds of tabs, must not
    hold what hundreds of people would."""

    def __init__(self, per_user: int) -> None:
        self._per_user = per_user
        self._open: dict[int, int] = {}

    def open(self, user_id: int) -> bool:
        """Count one more socket of the person's, unless they are at the cap."""
        count = self._open.get(user_id, 0)
        if count >= self._per_user:
            return False
        self._open[user_id] = count + 1
        return True

    def close(self, user_id: int) -> None:
        count = self._open.pop(user_id, 0) - 1
        if count > 0:
            self._open[user_id] = count

    def count(self, user_id: int) -> int:
        return self._open.get(user_id, 0)

    def total(self) -> int:
        """Everyone's open sockets; read by the metrics, not on any hot path."""
        return sum(self._open.values())


@asynccontextmanager
async def admitted(websocket: WebSocket) -> AsyncIterator[SignedIn | None]:
    """Accept the socket of a signed-in page of ours, counted against its person's cap
    while it is open; anyone else, or one socket too many, is told why, closed with 1008,
    and gets None. A page that leaves while it is let in or served needs nothing more:
    its going is no error, even in the middle of a reply or a close."""
    sockets: OpenSockets = websocket.app.state.sockets
    try:
        visitor = await _admit(websocket, sockets)
    except WebSocketDisconnect:
        visitor = None
    if visitor is None:
        yield None
        return
    try:
        yield visitor
    except WebSocketDisconnect:
        pass
    finally:
        sockets.close(visitor.user_id)


async def _admit(websocket: WebSocket, sockets: OpenSockets) -> SignedIn | None:
    try:
        visitor = await accept(websocket)
    except Unavailable as busy:
        # Too busy to look the session up: the page comes back after a moment (1013).
        await websocket.close(WS_1013_TRY_AGAIN_LATER, busy.message)
        return None
    if visitor is not None and not sockets.open(visitor.user_id):
        await refuse(websocket, TOO_MANY)
        return None
    return visitor


async def accept(websocket: WebSocket) -> SignedIn | None:
    """Accept the handshake and return who signed in to a page of ours; anyone else
    (another site, a signed-out visitor) is told why and closed with 1008, and gets None."""
    await websocket.accept()
    # Read through a view of its own, whose parsed headers and cookies are dropped here
    # rather than kept by the socket for as long as it is open.
    handshake = HTTPConnection(websocket.scope)
    if not same_origin(handshake):
        await refuse(websocket, "This page is not allowed to connect here.")
        return None
    accounts: Accounts = websocket.app.state.accounts
    token = handshake.cookies.get(SESSION_COOKIE)
    user = await accounts.user_for_token(token)
    if user is None or token is None:
        await refuse(websocket, SIGNED_OUT)
        return None
    return SignedIn(Person(user.id, user.display_name, user.avatar_url), token)


# How long a slow client gets to take its close frame before the connection is dropped.
CLOSE_TIMEOUT_S = 5.0


async def serve_connection(
    websocket: WebSocket,
    subscription: Subscription,
    reader: Coroutine[Any, Any, None],
    writer: Coroutine[Any, Any, None],
) -> None:
    """Run a connection's reader, in this task, and its writer, in a task of its own, until
    either ends or the subscription overflows; an overflow closes the socket with 1013
    even while the writer is stuck sending to the slow client, which then reconnects and
    catches up. Reading here rather than in a third task saves every open socket a task
    and what waiting for the first of two would hold."""
    reading = asyncio.current_task()
    assert reading is not None, "a connection is served in a task"
    write = asyncio.create_task(writer)
    reading_on = True
    stopped = False

    def stop_reading(_write: asyncio.Task[None]) -> None:
        # Called soon after the writer ends, by which time the reading may be over too.
        nonlocal stopped
        if reading_on:
            stopped = True
            reading.cancel()

    write.add_done_callback(stop_reading)
    subscription.on_overflow = write.cancel
    try:
        await reader
    except asyncio.CancelledError:
        # The writer ended and stopped the reading; any other cancellation goes on up.
        if not stopped or reading.uncancel() > 0:
            raise
    finally:
        reading_on = False
        write.cancel()
        with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, OSError):
            await write
    if subscription.overflowed:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(CLOSE_TIMEOUT_S):
                await websocket.close(WS_1013_TRY_AGAIN_LATER, "Too far behind; reconnecting.")
