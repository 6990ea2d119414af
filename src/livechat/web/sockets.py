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
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, tzinfo
from typing import Any, Protocol
from urllib.parse import urlsplit

from fastapi import WebSocket, WebSocketDisconnect
from starlette.requests import HTTPConnection
from starlette.routing import compile_path
from starlette.status import WS_1008_POLICY_VIOLATION, WS_1013_TRY_AGAIN_LATER
from starlette.types import Message, Receive, Scope, Send
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.frames import Frame as WebSocketFrame
from websockets.frames import Opcode

from livechat.accounts.auth import SESSION_COOKIE, Accounts, session_id
from livechat.errors import Unavailable
from livechat.logs import socket_id
from livechat.realtime.hub import Broadcast, Subscription
from livechat.realtime.presence import Person
from livechat.web import rendered, timeline
from livechat.web.templating import templates

_DEFAULT_PORTS = {"http": 80, "https": 443}

_SERVER_SEND = "livechat.server_send"

# A live socket's handler: the accepted socket, who signed in, and the path's parameters.
SocketEndpoint = Callable[..., Awaitable[None]]


class SocketRoutes:
    """The live sockets' front door, which the application opens ahead of all middleware
    and of its router, none of which acts on a socket: each of those layers would stay
    on the socket's stack for as long as it is open (a frame, an exit stack, a copy of
    the scope, two wrappers around ``send`` checking its state at every frame), at every
    page of every room.

    ``routes`` maps a path, with ``{name}`` parameters as in Starlette's, to a handler,
    called with the socket, who signed in, and those parameters."""

    def __init__(self, routes: dict[str, SocketEndpoint]) -> None:
        self._routes = [(compile_path(path)[0], endpoint) for path, endpoint in routes.items()]

    def find(self, scope: Scope) -> tuple[SocketEndpoint, dict[str, str]] | None:
        """The handler of a socket's path, and the path's parameters; None for no route."""
        for pattern, endpoint in self._routes:
            if (match := pattern.match(scope["path"])) is not None:
                return endpoint, match.groupdict()
        return None

    async def serve(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        endpoint: SocketEndpoint,
        params: dict[str, str],
    ) -> None:
        """Give the socket its id for the log, admit it (see ``admit``) and hand it to
        ``endpoint``. A page that leaves while it is let in or served needs nothing
        more: its going is no error, even in the middle of a reply or a close."""
        socket_id.set(uuid.uuid4().hex)
        scope[_SERVER_SEND] = send
        websocket = WebSocket(scope, receive, send)
        sockets: OpenSockets = websocket.app.state.sockets
        try:
            visitor = await admit(websocket, sockets)
        except WebSocketDisconnect:
            return
        if visitor is None:
            return
        try:
            await endpoint(websocket, visitor, **params)
        except WebSocketDisconnect:
            pass
        finally:
            sockets.close(visitor.user_id)


class Frames:
    """Sends text frames to one accepted socket straight to the server's ``send``, which
    ``SocketRoutes`` kept: the socket's own checks its state at every frame, and a
    broadcast is a frame for every page of a room. Closing still goes through the
    socket, which then knows it is closed.

    A broadcast is encoded once for all its pages, as Phoenix does: a frame from the
    server is not masked, so the same bytes serve every page of the room. Under uvicorn's
    WebSocket protocol those bytes go straight to the connection's transport while the
    connection is open and its transport takes more; otherwise, and under any other
    server, the frame goes through ``send`` like any other."""

    __slots__ = ("_protocol", "_send")  # one for each open socket

    def __init__(self, websocket: WebSocket) -> None:
        self._send: Send = websocket.scope[_SERVER_SEND]
        protocol = getattr(self._send, "__self__", None)
        direct = isinstance(protocol, WebSocketsSansIOProtocol) and not protocol.conn.extensions
        self._protocol = protocol if direct else None

    def ready(self) -> bool:
        """Whether frames can go straight to the transport now: no waiting, no encoding
        but the texts'."""
        protocol = self._protocol
        return (
            protocol is not None
            and not protocol.close_sent
            and protocol.writable.is_set()
            and not protocol.transport.is_closing()
        )

    def write(self, parts: list[str | Broadcast]) -> None:
        """Write ``parts`` straight to the transport, as ``send`` would; only once
        ``ready()`` said so."""
        assert self._protocol is not None, "ready() said so"
        self._protocol.transport.write(b"".join(map(_encoded, parts)))

    async def send(self, parts: list[str | Broadcast]) -> None:
        """Send ``parts`` in order: each broadcast as the frame encoded for all its pages,
        each text as a frame of its own; or, where frames cannot go straight to the
        transport, all of them as one frame."""
        if self.ready():
            self.write(parts)
            return
        html = "".join(part if isinstance(part, str) else part.html for part in parts)
        message: Message = {"type": "websocket.send", "text": html}
        try:
            await self._send(message)
        except RuntimeError as error:
            # The page closed first: uvicorn refuses a frame after the close handshake
            # with a RuntimeError, where Starlette would have said the socket was gone.
            raise WebSocketDisconnect(code=1006) from error


def _text_frame(html: str) -> bytes:
    return WebSocketFrame(Opcode.TEXT, html.encode()).serialize(mask=False, extensions=[])


# The frames of the last few broadcasts: a room's pages take a broadcast one after another.
_SHARED_FRAMES = 16
_shared: OrderedDict[int, tuple[Broadcast, bytes]] = OrderedDict()


def _encoded(part: str | Broadcast) -> bytes:
    if isinstance(part, str):
        return _text_frame(part)
    shared = _shared.get(id(part))
    # Kept with its broadcast, so that the id cannot name a later one meanwhile.
    if shared is not None and shared[0] is part:
        return shared[1]
    frame = _text_frame(part.html)
    _shared[id(part)] = (part, frame)
    if len(_shared) > _SHARED_FRAMES:
        _shared.popitem(last=False)
    return frame


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
    zone: tzinfo = UTC  # where they read times

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


async def admit(websocket: WebSocket, sockets: OpenSockets) -> SignedIn | None:
    """Accept the socket of a signed-in page of ours, counted against its person's cap
    (until ``sockets.close``); anyone else, or one socket too many, is told why, closed
    with 1008, and gets None."""
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
    person = Person(user.id, user.display_name, user.avatar_url)
    return SignedIn(person, token, timeline.reader_zone(user, handshake.cookies))


async def until_closed(websocket: WebSocket) -> None:
    """Read a page that sends nothing worth reading, only to notice it leaving."""
    while (await websocket.receive())["type"] != "websocket.disconnect":
        pass


# How long a slow client gets to take its close frame before the connection is dropped.
CLOSE_TIMEOUT_S = 5.0


class Outbox(Protocol):
    """How a connection sends its page what its subscription buffered."""

    async def send(self, batch: list[object]) -> bool:
        """Send ``batch``; True once it closed the socket."""

    def send_now(self, batch: list[object]) -> bool:
        """Send ``batch`` at once if it can without waiting for anything; False, having
        done nothing, if it needs ``send``."""


async def serve_connection(
    websocket: WebSocket,
    subscription: Subscription,
    reader: Coroutine[Any, Any, None],
    outbox: Outbox,
) -> None:
    """Run a connection until its reader ends (the page left) or its sending does (the
    socket was closed, or the subscription overflowed); an overflow closes the socket
    with 1013 even while a send is stuck on the slow client, which then reconnects and
    catches up. The reader runs in this task and the sender in one more: nothing else is
    kept per open socket for either, nor for waiting on the first of the two to end.

    What arrives while the sender is idle is first offered to the outbox's ``send_now``,
    right in the publisher's call: a broadcast that needs only its frame reaches each page
    of a room without a task switch per page, which the sender would cost."""
    serving = _Serving(subscription, outbox)
    try:
        await reader
    except asyncio.CancelledError:
        # The sending ended and stopped the reading; any other cancellation goes on up.
        if not serving.stopped_reading():
            raise
    finally:
        await serving.stop()
    if serving.failure is not None:
        raise serving.failure
    if subscription.overflowed:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(CLOSE_TIMEOUT_S):
                await websocket.close(WS_1013_TRY_AGAIN_LATER, "Too far behind; reconnecting.")


def _taken(subscription: Subscription) -> list[object] | None:
    """What ``subscription`` buffered, its events rendered for the page (once in this
    process, whichever page takes them first)."""
    items = subscription.take()
    if items is None:
        return None
    return [rendered.rendered(item) if isinstance(item, Broadcast) else item for item in items]


class _Serving:
    """The sending side of one connection, and the task reading it, to stop when sending
    ends for good."""

    __slots__ = (
        "_held",
        "_on",
        "_outbox",
        "_reading",
        "_sending",
        "_stopped",
        "_subscription",
        "_wake",
        "failure",
    )

    def __init__(self, subscription: Subscription, outbox: Outbox) -> None:
        reading = asyncio.current_task()
        assert reading is not None, "a connection is served in a task"
        self._reading = reading
        self._subscription = subscription
        self._outbox = outbox
        self._held: list[object] | None = None  # taken for send_now, left to the sender
        self._wake: asyncio.Future[None] | None = None
        self._on = True
        self._stopped = False
        self.failure: Exception | None = None
        subscription.on_ready = self._ready
        subscription.on_overflow = self._end
        self._sending = asyncio.create_task(self._send_all())

    def _ready(self) -> None:
        wake = self._wake
        if wake is None or wake.done():
            return  # the sender is busy, and takes what arrived once it is done
        items = _taken(self._subscription)
        if not items:
            return  # it overflowed meanwhile
        try:
            if self._outbox.send_now(items):
                return
        except Exception as error:
            # A bug, to end this connection as the sender would, not the publisher's call.
            self.failure = error
            self._end()
            return
        self._held = items
        wake.set_result(None)

    def _next(self) -> list[object] | None:
        taken, held = _taken(self._subscription), self._held
        if taken is None or held is None:
            return taken
        self._held = None
        return held + taken

    async def _send_all(self) -> None:
        try:
            while (items := self._next()) is not None:
                if not items:
                    self._wake = asyncio.get_running_loop().create_future()
                    await self._wake
                elif await self._outbox.send(items):
                    break
        except (WebSocketDisconnect, OSError):
            pass  # the page has gone
        except Exception as error:
            # A bug: raised from the connection once it has stopped, as uvicorn reports.
            self.failure = error
        self._stop_reading()

    def _end(self) -> None:
        self._sending.cancel()
        self._stop_reading()

    def _stop_reading(self) -> None:
        # Sending may end just as the reading does, with nothing left to stop.
        if self._on:
            self._stopped = True
            self._reading.cancel()

    def stopped_reading(self) -> bool:
        """Whether the reading was cancelled only because sending ended."""
        return self._stopped and self._reading.uncancel() == 0

    async def stop(self) -> None:
        self._on = False
        self._sending.cancel()
        with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, OSError):
            await self._sending
