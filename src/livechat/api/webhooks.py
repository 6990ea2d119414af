"""Bots' webhooks: a bot with a webhook is called when it is mentioned or sent a direct
message, and a text answer is posted as its reply.

The worker hears every message that notified anyone (``NOTIFIED_TOPIC``), in each
process; whichever process claims a bot's notification first calls it, once
(``notifications.bots_to_call``). Calls run in tasks of their own, a bounded number at a
time, so a slow or dead webhook holds up no room server, nor any other bot.

A call is a POST of JSON, signed with the bot's key: ``X-Livechat-Signature`` is
``sha256=`` and the HMAC-SHA256 of ``{X-Livechat-Timestamp}.{body}``, so a receiver can
refuse a forgery and a replay. It times out, and is tried again with backoff after a
network error, a timeout, a 429 or a 5xx; a 2xx answer of ``text/plain``, or JSON with a
``text``, is posted in the room as the bot's reply to the message. Redirects are not
followed.

A webhook's address is resolved as it is called, and every address it resolves to must
be public: loopback, private, link-local and reserved networks are refused unless the
operator allows them (``LIVECHAT_WEBHOOK_PRIVATE_TARGETS``). The call goes to the address
that was checked, so a name that resolves differently a moment later changes nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import json
import logging
import socket
import time
import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import httpx

from livechat.accounts.models import User
from livechat.api.schemas import MessageOut
from livechat.chat import messages, notifications
from livechat.chat.models import Kind, Message
from livechat.db import Database
from livechat.errors import LivechatError
from livechat.realtime import reconnect
from livechat.realtime.actor import ActorBusy, ActorStopped
from livechat.realtime.backends.base import BackendUnreachable
from livechat.realtime.events import Notified
from livechat.realtime.hub import NOTIFIED_TOPIC, Broadcast, Hub, Subscription
from livechat.realtime.rooms import RoomSupervisor

log = logging.getLogger(__name__)

USER_AGENT = "livechat-webhooks/1"
# Calls in flight at once, in this process; a message that would start more waits.
MAX_CALLS = 16
# What is read of an answer: a reply is a chat message, at most a few KB.
MAX_ANSWER_BYTES = 64 * 1024
RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})


class Refused(Exception):
    """A webhook address that may not be called."""


@dataclass(frozen=True, slots=True)
class Answer:
    """What a webhook answered: its status, and the start of what it said."""

    status: int
    content_type: str
    body: bytes

    @property
    def text(self) -> str:
        """The reply it carries: its text, or the ``text`` of its JSON; empty for none."""
        try:
            if self.content_type == "text/plain":
                return self.body.decode()
            if self.content_type == "application/json":
                text = json.loads(self.body).get("text")
                return text if isinstance(text, str) else ""
        except (ValueError, AttributeError):
            return ""
        return ""


@dataclass(frozen=True, slots=True)
class Delivery:
    bot: User
    kind: Kind
    message: Message


def sign(secret: str, timestamp: str, body: bytes) -> str:
    signed = timestamp.encode() + b"." + body
    return "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


class Webhooks:
    def __init__(
        self,
        db: Database,
        hub: Hub,
        rooms: RoomSupervisor,
        *,
        private_targets: bool,
        timeout_s: float,
        retries: int = 3,
        backoff_s: float = 1.0,
    ) -> None:
        self._db = db
        self._hub = hub
        self._rooms = rooms
        self._private_targets = private_targets
        self._timeout_s = timeout_s
        self._retries = retries
        self._backoff_s = backoff_s

    async def run(self) -> None:
        """Hear notifications and call the bots they are for, until cancelled. Redis out
        of reach is an outage, as it is for the hub: the worker waits for it, trying
        again after a pause, and bots are not called about what is posted meanwhile."""
        async with httpx.AsyncClient(
            timeout=self._timeout_s, follow_redirects=False, headers={"User-Agent": USER_AGENT}
        ) as http:
            pause = reconnect.FIRST_PAUSE_S
            while True:
                try:
                    async with self._hub.subscribe(NOTIFIED_TOPIC) as subscription:
                        pause = reconnect.FIRST_PAUSE_S
                        await self._listen(http, subscription)
                except BackendUnreachable as error:
                    log.warning("webhooks: cannot hear notifications (%s); trying again", error)
                await asyncio.sleep(pause)
                pause = min(2 * pause, reconnect.MAX_PAUSE_S)

    async def _listen(self, http: httpx.AsyncClient, subscription: Subscription) -> None:
        ready = asyncio.Event()
        calls = asyncio.Semaphore(MAX_CALLS)
        subscription.on_ready = ready.set
        subscription.on_overflow = ready.set
        async with asyncio.TaskGroup() as running:
            while True:
                await ready.wait()
                ready.clear()
                batch = subscription.take()
                if batch is None:
                    # Fell behind: what was dropped is not called. Crash, to be restarted
                    # with an empty buffer, as a page reconnects.
                    raise RuntimeError("webhooks fell too far behind the notifications")
                for item in batch:
                    if isinstance(item, Broadcast) and isinstance(item.event, Notified):
                        for delivery in await self._claimed(item.event):
                            await calls.acquire()
                            running.create_task(self._call_then_release(http, delivery, calls))

    async def _claimed(self, notified: Notified) -> list[Delivery]:
        try:
            bots = await notifications.bots_to_call(self._db, notified.message_id, notified.people)
            if not bots:
                return []
            message = await messages.find(self._db, notified.message_id)
        except Exception:
            log.warning("webhooks: message %s not claimed", notified.message_id, exc_info=True)
            return []
        if message is None or message.is_deleted:
            return []
        return [Delivery(bot, kind, message) for bot, kind in bots]

    async def _call_then_release(
        self, http: httpx.AsyncClient, delivery: Delivery, calls: asyncio.Semaphore
    ) -> None:
        try:
            await self.call(http, delivery)
        except Exception:
            # One bot's failure is its own: the worker and every other call go on.
            log.exception("webhooks: calling @%s failed", delivery.bot.handle)
        finally:
            calls.release()

    async def call(self, http: httpx.AsyncClient, delivery: Delivery) -> None:
        """Call the bot about the message, trying again as the module says; post its
        answer, if it gave one."""
        bot, message = delivery.bot, delivery.message
        assert bot.webhook_url is not None, "only bots with a webhook are called"
        assert bot.webhook_secret is not None, "a webhook comes with its key"
        body = json.dumps(
            {
                "event": delivery.kind.value,
                "bot": {"id": bot.id, "handle": bot.handle},
                "message": MessageOut.of(message).model_dump(mode="json"),
            },
            separators=(",", ":"),
        ).encode()
        delivery_id = uuid.uuid4().hex
        for attempt in range(self._retries + 1):
            if attempt:
                await asyncio.sleep(self._backoff_s * 2 ** (attempt - 1))
            try:
                answer = await self._post(
                    http, bot.webhook_url, bot.webhook_secret, body, delivery_id
                )
            except Refused as refused:
                log.warning("webhooks: @%s's webhook refused: %s", bot.handle, refused)
                return
            except httpx.HTTPError as error:
                log.info("webhooks: @%s: %s (attempt %d)", bot.handle, error, attempt + 1)
                continue
            if answer.status in RETRIED_STATUSES:
                log.info(
                    "webhooks: @%s answered %d (attempt %d)", bot.handle, answer.status, attempt + 1
                )
                continue
            if 200 <= answer.status < 300:
                await self._reply(bot, message, answer.text, delivery_id)
            else:
                log.warning("webhooks: @%s answered %d", bot.handle, answer.status)
            return
        log.warning("webhooks: @%s not reached after %d attempts", bot.handle, self._retries + 1)

    async def _post(
        self, http: httpx.AsyncClient, url: str, secret: str, body: bytes, delivery_id: str
    ) -> Answer:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
        if host is None:
            raise Refused("it names no host")
        port = port or (443 if parts.scheme == "https" else 80)
        address = await self._checked_address(host, port)
        # To the address checked, under the name the webhook gave (Host, and TLS's SNI).
        literal = f"[{address}]" if ":" in address else address
        netloc = f"{literal}:{port}"
        timestamp = str(int(time.time()))
        request = http.build_request(
            "POST",
            urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, "")),
            content=body,
            headers={
                "Host": parts.netloc.rsplit("@", 1)[-1],
                "Content-Type": "application/json",
                "X-Livechat-Delivery": delivery_id,
                "X-Livechat-Timestamp": timestamp,
                "X-Livechat-Signature": sign(secret, timestamp, body),
            },
            extensions={"sni_hostname": host},
        )
        response = await http.send(request, stream=True)
        read = b""
        try:
            async for chunk in response.aiter_bytes():
                read += chunk
                if len(read) > MAX_ANSWER_BYTES:
                    break
        finally:
            await response.aclose()
        kind = response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        return Answer(response.status_code, kind, read[:MAX_ANSWER_BYTES])

    async def _checked_address(self, host: str, port: int) -> str:
        try:
            found = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM
            )
        except OSError as error:
            raise httpx.ConnectError(f"{host} does not resolve: {error}") from error
        addresses = [str(info[4][0]) for info in found]
        if not self._private_targets:
            for address in addresses:
                if not ipaddress.ip_address(address.split("%", 1)[0]).is_global:
                    raise Refused(f"{host} is on a private network ({address})")
        return addresses[0]

    async def _reply(self, bot: User, message: Message, text: str, delivery_id: str) -> None:
        if not text.strip():
            return
        try:
            server = self._rooms.server_for(message.room_id)
            await server.post(bot, text, f"webhook-{delivery_id}", (), message.id)
        except (LivechatError, ActorBusy, ActorStopped, TimeoutError) as refused:
            log.warning("webhooks: @%s's answer was not posted: %s", bot.handle, refused)
