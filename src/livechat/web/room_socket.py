"""The room page's live socket: one task reading frames, one writing, per connection.

Frames come from htmx's ws extension as JSON with the form's values and a ``HEADERS``
object. ``HEADERS["HX-Trigger"]`` (the id of the element that sent it) only selects a
handler from a fixed list; who may do what comes from the session and the database.

On every (re)connect the page sends its cursor, and the writer replies with everything
the page missed before passing on live events; live events the reply already covered are
dropped, so each change reaches the page exactly once, in order. The writer keeps the
cursor of what it has sent: a cursor sent again (twice, or stale) replays from the later of
the two, so no message reaches a page twice; and a live event that skips a number (its
predecessor was never published, or published by another worker out of order) is replaced
by a catch-up from the store.
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from fastapi import WebSocket
from starlette.status import (
    WS_1008_POLICY_VIOLATION,
    WS_1011_INTERNAL_ERROR,
    WS_1013_TRY_AGAIN_LATER,
)

from livechat.accounts.auth import Accounts
from livechat.accounts.models import User
from livechat.chat import messages, notifications, rooms
from livechat.chat.messages import Cursor
from livechat.chat.rooms import RoomSummary
from livechat.db import Database
from livechat.errors import (
    BadRequest,
    Forbidden,
    LivechatError,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    Unavailable,
)
from livechat.metrics import Metrics
from livechat.realtime import broadcasts
from livechat.realtime.actor import ActorBusy, ActorStopped
from livechat.realtime.hub import (
    Broadcast,
    Revocation,
    Subscription,
    alerts_topic,
    membership_topic,
    presence_topic,
    room_topic,
    sessions_topic,
)
from livechat.realtime.rooms import RoomServer
from livechat.realtime.tree import Realtime
from livechat.web import alerts, frames, rendered, timeline
from livechat.web.replays import Replay, SharedReplays, read_replay
from livechat.web.sockets import (
    SIGNED_OUT,
    Frames,
    SignedIn,
    refuse,
    serve_connection,
)
from livechat.web.templating import message_fragments, templates

log = logging.getLogger(__name__)

TYPING_MIN_INTERVAL_S = 0.8  # the page sends at most one typing frame a second
# The page asks at most four times a second as a handle is typed; more is a script.
SUGGESTING_MIN_INTERVAL_S = 0.1


@dataclass(frozen=True, slots=True)
class Reply:
    html: str


@dataclass(slots=True)
class Connection:
    """One room page's connection: what it knows of its page, and its outbox."""

    websocket: WebSocket
    visitor: SignedIn
    room: RoomSummary
    db: Database
    accounts: Accounts
    realtime: Realtime
    replays: SharedReplays
    subscription: Subscription
    metrics: Metrics
    frames: Frames
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    cursor: Cursor | None = None  # what the page has been sent; None until it catches up
    # The presence change its sidebar is at; None until it catches up, and 0 when Presence
    # could not say (then every change is applied).
    presence: int | None = None
    last_typing: float = 0.0
    # The newest message the page was read up to as it opened: it shows what came after.
    read_to: int = 0
    # The start of the handle the page is offered people for; None while it is offered none.
    suggesting: str | None = None
    last_suggested: float = 0.0
    catch_ups: int = 0
    signed_out: bool = False  # from then on, frames are ignored while the socket closes
    # The page's reader, and the message its list ends with as far as this socket knows.
    reader: timeline.Reader = field(default_factory=timeline.Reader)

    @property
    def user_id(self) -> int:
        return self.visitor.user_id

    async def current_user(self) -> User | None:
        """The person behind the page as the store has them now (their name or picture may
        have changed since it opened), or None once their session has ended, and then the
        page is told and closed. Asked before every change, so that a session signed out
        where this process could not hear of it (another worker, by hand) cannot post."""
        user = None
        if not self.signed_out:
            user = await self.accounts.user_for_token(self.visitor.token)
        if user is None and not self.signed_out:
            self.signed_out = True
            revocation = Revocation(only=self.visitor.session)
            self.subscription.deliver(broadcasts.signed_out(SIGNED_OUT, revocation))
        return user

    def server(self) -> RoomServer:
        return self.realtime.rooms.server_for(self.room.id)

    def reply(self, template: str, **context: Any) -> None:
        self.reply_html(templates.get_template(template).render(**context))

    def reply_html(self, html: str) -> None:
        """Send this page alone ``html``, its times in the reader's zone."""
        self.subscription.deliver(Reply(timeline.localize(html, self.reader.zone)))

    def flash(self, message: str) -> None:
        self.reply("partials/flash_oob.html", message=message)

    async def send(self, batch: list[object]) -> bool:
        return await _send(self, batch)

    def send_now(self, batch: list[object]) -> bool:
        return _send_now(self, batch)


async def serve(websocket: WebSocket, visitor: SignedIn, slug: str) -> None:
    """A room page's socket, at ``/rooms/{slug}/ws``."""
    person = visitor.person
    db: Database = websocket.app.state.db
    try:
        room = await rooms.room_of_member(db, person.id, slug)
    except Unavailable as busy:
        await websocket.close(WS_1013_TRY_AGAIN_LATER, busy.message)
        return
    if room is None:
        await refuse(websocket, "You are not a member of this room.")
        return

    realtime: Realtime = websocket.app.state.realtime
    topics = (
        room_topic(room.id),
        presence_topic(room.id),
        membership_topic(room.id, person.id),
        sessions_topic(person.id),
        alerts_topic(person.id),
    )
    async with realtime.hub.subscribe(*topics) as subscription:
        accounts: Accounts = websocket.app.state.accounts
        replays: SharedReplays = websocket.app.state.replays
        metrics: Metrics = websocket.app.state.metrics
        frames = Frames(websocket)
        connection = Connection(
            websocket,
            visitor,
            room,
            db,
            accounts,
            realtime,
            replays,
            subscription,
            metrics,
            frames,
            reader=timeline.Reader(visitor.zone),
        )
        realtime.rooms.connected(room.id)
        realtime.presence.track(room.id, person, connection.id, public=not room.is_private)
        try:
            await serve_connection(
                websocket, subscription, _read(websocket, connection), connection
            )
        finally:
            realtime.rooms.disconnected(room.id)
            realtime.presence.untrack(connection.id)
        # What the page showed as it came in, it was read: the room list says so.
        if connection.cursor is not None and connection.cursor.last_id > connection.read_to:
            read_to = connection.cursor.last_id
            await alerts.read_quietly(db, realtime.hub, person.id, room.id, read_to)


async def _read(websocket: WebSocket, connection: Connection) -> None:
    while True:
        message = await websocket.receive()
        received = time.perf_counter()
        if message["type"] == "websocket.disconnect":
            return
        if connection.signed_out:
            continue
        request: frames.RoomFrame | None = None
        try:
            request = frames.parse(message.get("text"))
            await _handle(connection, request, received)
        except Exception as error:
            # A frame too broken to read is counted with the messages: the message form is
            # the only one of the page's forms with free text to get wrong.
            if request is None or isinstance(request, frames.SendMessage):
                connection.metrics.refused(_refusal_reason(error))
            connection.flash(_apology(connection, request, error))


# A refusal of a kind not listed counts under its nearest listed base class.
_REFUSAL_REASONS: dict[type[BaseException], str] = {
    RateLimited: "rate_limited",
    BadRequest: "bad_request",
    Forbidden: "forbidden",
    NotFound: "not_found",
    PayloadTooLarge: "too_large",
    Unavailable: "unavailable",
    LivechatError: "bad_request",
    ActorBusy: "busy",
    TimeoutError: "busy",
}


def _refusal_reason(error: BaseException) -> str:
    """Which of the metrics' refusal reasons ``error`` is; anything unknown is a bug."""
    for kind in type(error).__mro__:
        if kind in _REFUSAL_REASONS:
            return _REFUSAL_REASONS[kind]
    return "error"


def _apology(connection: Connection, request: frames.RoomFrame | None, error: Exception) -> str:
    """What the page is told when ``request`` failed with ``error``."""
    if isinstance(error, LivechatError):
        return error.message
    if isinstance(error, ActorBusy):
        return f"The room is very busy right now; try again in {error.retry_after_s} s."
    if isinstance(error, TimeoutError):
        return "The room is very busy right now; try again in a moment."
    # The boundary of one request: whatever went wrong, the connection and the room carry
    # on, and the page says so.
    log.error(
        "room %s: %r from user %s failed",
        connection.room.id,
        request,
        connection.user_id,
        exc_info=error,
    )
    return "Something went wrong on our side; try again."


async def _handle(connection: Connection, request: frames.RoomFrame, received: float) -> None:
    match request:
        case frames.SendMessage():
            await _send_message(connection, request, received)
        case frames.ReportTyping():
            _typing(connection)
        case frames.DraftPaused(draft):
            await _suggest(connection, draft)
        case frames.CatchUp():
            # A page asks once per connection; asking again costs a token, as it reads the
            # store on the sender's behalf.
            if connection.catch_ups:
                await connection.realtime.rate_limiter.spend(connection.user_id, "reconnecting")
            connection.catch_ups += 1
            connection.subscription.deliver(request)
        case frames.DeleteMessage(message_id):
            if (user := await connection.current_user()) is not None:
                await _with_server(connection, lambda server: server.delete(user, message_id))
        case frames.ToggleReaction(message_id, emoji):
            if (user := await connection.current_user()) is not None:
                await _with_server(connection, lambda server: server.react(user, message_id, emoji))
        case frames.EditMessage(message_id, body):
            if (user := await connection.current_user()) is not None:
                await _with_server(connection, lambda server: server.edit(user, message_id, body))
        case frames.OpenEditor(message_id) | frames.CloseEditor(message_id):
            await _editor(connection, request, message_id)
        case frames.StartReply(message_id):
            if (user := await connection.current_user()) is not None:
                # It reads the store on the sender's behalf: a token, as an editor costs.
                await connection.realtime.rate_limiter.spend(user.id, "replying")
                room_id = connection.room.id
                original = await messages.replied_to(connection.db, user, room_id, message_id)
                connection.reply("partials/replying_to.html", original=original)
        case frames.CancelReply():
            connection.reply("partials/replying_to.html", original=None)


async def _editor(
    connection: Connection, request: frames.OpenEditor | frames.CloseEditor, message_id: int
) -> None:
    """Show this page alone an editor in place of one of its author's messages, or the
    message again; each reads the store on the sender's behalf, so each costs a token."""
    user = await connection.current_user()
    if user is None:
        return
    await connection.realtime.rate_limiter.spend(user.id, "editing messages")
    room_id = connection.room.id
    message = await messages.own_message(connection.db, user, message_id, room_id)
    if isinstance(request, frames.OpenEditor):
        connection.reply("partials/message_editor.html", message=message)
    else:
        connection.reply_html(message_fragments.html(message, oob=True))


async def _with_server(connection: Connection, action: Any) -> Any:
    """Run ``action`` on the room's server; if that server just stopped for being idle,
    its successor is started and asked instead."""
    try:
        return await action(connection.server())
    except ActorStopped:
        return await action(connection.server())


async def _send_message(
    connection: Connection, request: frames.SendMessage, received: float
) -> None:
    """Post the message; ``received`` is when its frame arrived, on the performance clock."""
    # A saturated room refuses before the person's session is read for nothing.
    connection.server().refuse_if_busy()
    user, room = await connection.current_user(), connection.room
    if user is None:
        return
    body, client_msg_id, files = request.body, request.client_msg_id, request.attachment_ids
    reply_to = request.reply_to
    await _with_server(
        connection, lambda server: server.post(user, body, client_msg_id, files, reply_to)
    )
    connection.reply("broadcasts/message_sent.html", room=room, client_msg_id=uuid.uuid4().hex)
    connection.suggesting = None  # the form is new, and offers no one
    connection.metrics.send_to_ack_seconds.observe(time.perf_counter() - received)
    # The message is stored: a Presence that cannot take this now must not turn that into
    # an error on the page. The typing line then clears at its own timeout.
    with contextlib.suppress(ActorBusy, ActorStopped):
        connection.realtime.presence.stopped_typing(room.id, user.id)


async def _suggest(connection: Connection, draft: str) -> None:
    """Offer the page the members an @ at the end of its draft may mean, or stop offering
    once it no longer ends with one."""
    start = notifications.mention_typed(draft)
    if start == connection.suggesting:
        return
    now = time.monotonic()
    if start is not None and now - connection.last_suggested < SUGGESTING_MIN_INTERVAL_S:
        return
    connection.suggesting, connection.last_suggested = start, now
    people = []
    if start is not None:
        room_id, user_id = connection.room.id, connection.user_id
        people = await notifications.members_named(connection.db, room_id, start, besides=user_id)
    connection.reply("partials/mention_suggestions.html", people=people)


def _typing(connection: Connection) -> None:
    now = time.monotonic()
    if now - connection.last_typing < TYPING_MIN_INTERVAL_S:
        return
    connection.last_typing = now
    connection.realtime.presence.typing(connection.room.id, connection.user_id)


async def _send(connection: Connection, batch: list[object]) -> bool:
    """Send what the subscription buffered in one frame: htmx swaps every element of a
    frame, so a burst of events costs one send, not one each. True once it closed."""
    out: list[str | Broadcast] = []
    for item in batch:
        close = await _render(connection, item, out)
        if close is not None:
            if out:
                await connection.frames.send(out)
            await connection.websocket.close(*close)
            return True
    if out:
        await connection.frames.send(out)
    return False


async def _render(
    connection: Connection, item: object, out: list[str | Broadcast]
) -> tuple[int, str] | None:
    """Add to ``out`` what ``item`` shows the page, if anything; the close code and reason
    when the socket must close after it. Runs for every page of a room at every event, so
    a broadcast is told apart by its fields, the commonest first, not by a pattern each."""
    if isinstance(item, Broadcast):
        return await _show(connection, item, out)
    if isinstance(item, Reply):
        out.append(item.html)
    elif isinstance(item, frames.CatchUp):
        known = _later(item.cursor, connection.cursor)
        return await _replay_or_reconnect(connection, _catch_up(connection, known), out)
    return None


async def _show(
    connection: Connection, event: Broadcast, out: list[str | Broadcast]
) -> tuple[int, str] | None:
    if event.alerts is not None:
        out.extend((event, rendered.title(connection.room.name, event.alerts)))
        if event.room_id == connection.room.id and event.message_id is not None:
            # A mention in the room this page shows: read as it arrives.
            await alerts.read_quietly(
                connection.db,
                connection.realtime.hub,
                connection.user_id,
                connection.room.id,
                event.message_id,
            )
        return None
    outcome = _apply(connection, event, out)
    if outcome is False:
        assert event.seq is not None, "only a room event can open a gap"
        return await _replay_or_reconnect(connection, _fill(connection, event.seq), out)
    return None if outcome is True else outcome


def _apply(
    connection: Connection, event: Broadcast, out: list[str | Broadcast]
) -> tuple[int, str] | bool:
    """What the page makes of ``event`` without waiting for anything: added to ``out`` if
    it shows, with the close code and reason if the socket must close after it, or True;
    False, having done nothing, if it opens a gap for the store to fill first."""
    if event.seq is not None:
        sent = connection.cursor
        if sent is None or event.seq <= sent.seq:
            return True  # the catch-up covered it, or is about to
        if event.sync or event.seq > sent.seq + 1:
            return False
        out.append(timeline.as_read(event, connection.reader))
        connection.cursor = Cursor(event.seq, max(sent.last_id, event.message_id or 0))
    elif event.presence is not None:
        # Unless the sidebar it was sent holds this change, or is about to.
        if connection.presence is not None and event.presence > connection.presence:
            connection.presence = event.presence
            out.append(event)
    elif event.revokes is not None:
        if event.revokes.covers(connection.visitor.session):
            connection.signed_out = True
            out.append(event)
            return WS_1008_POLICY_VIOLATION, ""
        # Another session of the same person: not this page's business.
    elif event.close is not None:
        out.append(event)
        return event.close, ""
    else:
        out.append(event)
    return True


def _send_now(connection: Connection, batch: list[object]) -> bool:
    """Send ``batch`` right away if it is one reply, or one broadcast that needs nothing
    but its frame (no gap to fill, no socket to close), and the socket takes frames
    straight away: the commonest delivery, with no task switch per page. False, having
    done nothing, otherwise."""
    if len(batch) != 1 or not connection.frames.ready():
        return False
    [item] = batch
    out: list[str | Broadcast] = []
    if isinstance(item, Reply):
        out.append(item.html)
    elif (
        isinstance(item, Broadcast)
        and item.revokes is None
        and item.close is None
        and item.alerts is None
    ):
        if _apply(connection, item, out) is False:
            return False
    else:
        return False
    if out:
        connection.frames.write(out)
    return True


def _later(cursor: Cursor, sent: Cursor | None) -> Cursor:
    """Where to replay from: the page's cursor, unless this socket sent it more since."""
    if sent is None or cursor.seq < 0:
        return cursor if sent is None else sent
    return Cursor(max(cursor.seq, sent.seq), max(cursor.last_id, sent.last_id))


async def _replay_or_reconnect(
    connection: Connection, replay: Coroutine[Any, Any, str], out: list[str | Broadcast]
) -> tuple[int, str] | None:
    """Add a replay to ``out``; if it cannot be read, close so that the page reconnects
    and asks again rather than show a gap: 1013 when the store is too busy for now, 1011
    when reading failed."""
    try:
        out.append(timeline.flow(await replay, connection.reader))
    except Unavailable:
        return WS_1013_TRY_AGAIN_LATER, "The server is busy; reconnecting."
    except Exception:
        log.exception("room %s: catching up a page failed", connection.room.id)
        return WS_1011_INTERNAL_ERROR, "Catching up failed; reconnecting."
    return None


async def _catch_up(connection: Connection, known: Cursor) -> str:
    """The answer to a page that (re)connected: its sidebar, and what it missed."""
    presence = rendered.render("broadcasts/flash_cleared.html")
    # If Presence is down or crashes on the way, the sidebar waits: a restarted Presence
    # sends every page its sidebar anyway, and the messages matter more.
    connection.presence = connection.presence or 0
    with contextlib.suppress(Exception):
        sidebar = await connection.realtime.presence.online(connection.room.id)
        presence += rendered.presence_snapshot(sidebar)
        connection.presence = sidebar.version
    presence += await alerts.snapshot(connection.db, connection.user_id, connection.room.name)
    connection.read_to = max(known.last_id, 0)  # the page was read up to it as it opened
    # Where the page's list ends, for what follows it to be shown against.
    connection.reader.last = await messages.stamp(connection.db, connection.room.id, known.last_id)
    html, connection.cursor = await _replay_from(connection, known)
    return presence + html


async def _fill(connection: Connection, seq: int) -> str:
    """Bring the page from its cursor to at least event ``seq``, which showed a gap (or,
    for a sync, that the room is ahead of it). Pages of the room behind by the same events
    share one reading; one that began before ``seq`` happened is followed by another."""
    sent = connection.cursor
    assert sent is not None
    html, cursor = await connection.replays.replay(
        connection.room.id, sent, lambda: _replay_from(connection, sent)
    )
    if cursor.seq < seq:
        more, cursor = await _replay_from(connection, cursor)
        html += more
    connection.cursor = cursor
    return html


def _replay_from(connection: Connection, known: Cursor) -> Awaitable[Replay]:
    return read_replay(connection.db, connection.user_id, connection.room, known)
