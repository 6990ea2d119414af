"""Bots' webhooks against a real bot: an HTTP server on loopback that checks each call's
signature and answers as the test tells it."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from livechat.accounts import tokens
from livechat.accounts.models import User
from livechat.chat import messages, notifications, rooms
from livechat.chat.models import Kind, Room
from livechat.db import Database
from livechat.settings import Settings
from tests.live import FRAME_TIMEOUT_S, START_TIMEOUT_S, LiveServer, free_port, room_page, serving

REPOSITORY = Path(__file__).resolve().parents[2]
EXAMPLE_BOT = REPOSITORY / "examples" / "echo_bot.py"

Answer = Callable[[dict[str, Any]], Awaitable[Response]]


@dataclass
class Bot:
    """A bot's own server: every call it got, each checked against the bot's key."""

    url: str
    answers: list[Answer] = field(default_factory=list)
    calls: list[dict[str, Any]] = field(default_factory=list)
    called: asyncio.Condition = field(default_factory=asyncio.Condition)
    secret: str = ""

    async def handle(self, request: Request) -> Response:
        body = await request.body()
        timestamp = request.headers["x-livechat-timestamp"]
        expected = hmac.new(self.secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
        assert request.headers["x-livechat-signature"] == "sha256=" + expected.hexdigest()
        call = json.loads(body)
        async with self.called:
            self.calls.append(call)
            self.called.notify_all()
        answer = self.answers.pop(0) if self.answers else None
        return await answer(call) if answer else Response(status_code=204)

    async def until_called(self, times: int) -> list[dict[str, Any]]:
        async with asyncio.timeout(FRAME_TIMEOUT_S), self.called:
            await self.called.wait_for(lambda: len(self.calls) >= times)
        return self.calls


@asynccontextmanager
async def bot_server() -> AsyncIterator[Bot]:
    port = free_port()
    bot = Bot(f"http://127.0.0.1:{port}/hook")
    app = Starlette(routes=[Route("/hook", bot.handle, methods=["POST"])])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(START_TIMEOUT_S):
        while not server.started:
            if task.done():
                task.result()  # it failed to start: say why
            await asyncio.sleep(0.01)
    try:
        yield bot
    finally:
        server.should_exit = True
        await task


def text(reply: str) -> Answer:
    async def answer(_call: dict[str, Any]) -> Response:
        return PlainTextResponse(reply)

    return answer


def status(code: int) -> Answer:
    async def answer(_call: dict[str, Any]) -> Response:
        return Response(status_code=code)

    return answer


@pytest.fixture
async def loopback_allowed(settings: Settings) -> AsyncIterator[LiveServer]:
    allowed = settings.model_copy(
        update={"webhook_private_targets": True, "webhook_timeout_seconds": 0.5}
    )
    async with serving(allowed) as live:
        yield live


@pytest.fixture
async def bot(db: Database, general: Room) -> AsyncIterator[tuple[User, Bot]]:
    async with bot_server() as server:
        made, _ = await tokens.create_bot(
            db, name="Deploy Bot", handle="deploybot", webhook_url=server.url
        )
        assert made.webhook_secret is not None
        server.secret = made.webhook_secret
        await rooms.join_room(db, made, general.slug)
        yield made, server


async def test_a_mentioned_bot_is_called_signed_and_its_answer_is_posted_as_a_reply(
    loopback_allowed: LiveServer, alice: User, general: Room, bot: tuple[User, Bot]
) -> None:
    deploybot, server = bot
    server.answers.append(text("All green <3"))
    async with room_page(loopback_allowed, alice, general) as alice_page:
        await alice_page.say("@deploybot how is the build?")

        reply = await alice_page.expect("All green &lt;3")

    [call] = await server.until_called(1)
    assert call["event"] == "mention"
    assert call["bot"] == {"id": deploybot.id, "handle": "deploybot"}
    assert call["message"]["body"] == "@deploybot how is the build?"
    assert call["message"]["author"]["id"] == alice.id
    assert "how is the build?" in reply  # the reply quotes the message it answers


async def test_a_direct_message_to_a_bot_calls_it_and_a_json_answer_is_posted(
    db: Database, loopback_allowed: LiveServer, alice: User, bot: tuple[User, Bot]
) -> None:
    deploybot, server = bot

    async def answer(call: dict[str, Any]) -> Response:
        return JSONResponse({"text": f"You said: {call['message']['body']}"})

    server.answers.append(answer)
    direct = await rooms.direct_room(db, alice, deploybot.id)
    async with room_page(loopback_allowed, alice, direct.room) as alice_page:
        await alice_page.say("deploy main")

        await alice_page.expect("You said: deploy main")

    assert [call["event"] for call in server.calls] == ["direct"]


async def test_a_failing_webhook_is_tried_again_and_answers_once(
    loopback_allowed: LiveServer, alice: User, general: Room, bot: tuple[User, Bot]
) -> None:
    _, server = bot

    async def too_slow(_call: dict[str, Any]) -> Response:
        await asyncio.sleep(1)  # past the half-second the test server gives a call
        return PlainTextResponse("too late")

    server.answers += [status(503), too_slow, text("third time lucky")]
    async with room_page(loopback_allowed, alice, general) as alice_page:
        await alice_page.say("@deploybot are you there?")

        await alice_page.expect("third time lucky")

    assert len(await server.until_called(3)) == 3
    assert all("too late" not in frame for frame in alice_page.seen)


async def test_a_slow_bot_holds_up_no_one_in_its_room(
    loopback_allowed: LiveServer, alice: User, general: Room, bot: tuple[User, Bot]
) -> None:
    _, server = bot
    release = asyncio.Event()

    async def stalled(_call: dict[str, Any]) -> Response:
        await release.wait()
        return PlainTextResponse("done thinking")

    server.answers.append(stalled)
    async with room_page(loopback_allowed, alice, general) as alice_page:
        await alice_page.say("@deploybot think hard")
        await server.until_called(1)
        for n in range(3):
            await alice_page.say(f"meanwhile {n}")
            await alice_page.expect(f"meanwhile {n}")

        release.set()

        await alice_page.expect("done thinking")


async def test_a_webhook_on_loopback_is_refused_unless_the_operator_allows_it(
    server: LiveServer,
    alice: User,
    general: Room,
    bot: tuple[User, Bot],
) -> None:
    _, bot_server_ = bot
    refused = asyncio.Event()

    class Refusals(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "webhook refused" in record.getMessage():
                refused.set()

    handler = Refusals()
    logging.getLogger("livechat.api.webhooks").addHandler(handler)
    try:
        async with room_page(server, alice, general) as alice_page:
            await alice_page.say("@deploybot hello?")
            async with asyncio.timeout(FRAME_TIMEOUT_S):
                await refused.wait()
    finally:
        logging.getLogger("livechat.api.webhooks").removeHandler(handler)

    assert bot_server_.calls == []


async def test_each_notification_of_a_bot_is_claimed_once_whoever_asks(
    db: Database, alice: User, bob: User, general: Room, bot: tuple[User, Bot]
) -> None:
    deploybot, _ = bot
    posted = await messages.create_message(db, alice, general.id, "@deploybot and @bob_okafor")
    people = posted.alerted

    first = await notifications.bots_to_call(db, posted.message.id, people)
    again = await notifications.bots_to_call(db, posted.message.id, people)

    assert [(called.id, kind) for called, kind in first] == [(deploybot.id, Kind.MENTION)]
    assert again == []
    assert bob.id in people  # a person notified alongside is no bot, and is not called


@pytest.fixture
async def echo(db: Database, general: Room) -> tuple[User, int]:
    """The README's bot, made in livechat with a webhook on a port of its own."""
    port = free_port()
    made, _ = await tokens.create_bot(
        db, name="Echo", handle="echo", webhook_url=f"http://127.0.0.1:{port}/"
    )
    await rooms.join_room(db, made, general.slug)
    return made, port


@pytest.fixture
def echo_running(echo: tuple[User, int]) -> Iterator[None]:
    """The README's bot, run as written, listening."""
    made, port = echo
    assert made.webhook_secret is not None
    environment = {**os.environ, "LIVECHAT_BOT_KEY": made.webhook_secret, "PORT": str(port)}
    bot = subprocess.Popen([sys.executable, str(EXAMPLE_BOT)], env=environment)  # noqa: S603
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            assert bot.poll() is None, "the bot exited before listening"
            assert time.monotonic() < deadline, "the bot did not listen"
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        yield
    finally:
        bot.terminate()
        bot.wait(timeout=10)


@pytest.mark.usefixtures("echo_running")
async def test_the_readmes_bot_answers_a_mention_as_written(
    loopback_allowed: LiveServer, alice: User, general: Room
) -> None:
    async with room_page(loopback_allowed, alice, general) as alice_page:
        await alice_page.say("@echo is anyone there?")

        await alice_page.expect(f"{alice.display_name}, you said: @echo is anyone there?")

    assert EXAMPLE_BOT.read_text() in (REPOSITORY / "README.md").read_text()
