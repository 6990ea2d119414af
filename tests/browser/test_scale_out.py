"""A browser behind a load balancer, when the process serving it dies: its page reconnects
to another process of the same chat, misses nothing said meanwhile on that one, and
shows nothing twice."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import expect

from livechat.settings import Settings
from tests.browser.conftest import OpenWindow
from tests.browser.vocabulary import create_room, join_room, register, send_message, settled
from tests.live import Process, livechat_processes

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

PASSWORD = "a perfectly fine passphrase"
# htmx reconnects with a growing pause; the page's first tries meet a dead process.
RECONNECT_TIMEOUT_MS = 40_000


class LoadBalancer:
    """What a load balancer does for this test: each new connection goes to the process
    it currently sends people to; connections already made stay where they are, and end
    when that process does."""

    def __init__(self, port: int) -> None:
        self.target = port
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def __aenter__(self) -> LoadBalancer:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *_exception: object) -> None:
        assert self._server is not None
        self._server.close()
        for pipe in self._pipes:
            pipe.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(
                "127.0.0.1", self.target
            )
        except OSError:
            writer.close()  # a dead process: the browser sees a refused connection
            return
        for source, sink in ((reader, upstream_writer), (upstream_reader, writer)):
            pipe = asyncio.create_task(_pipe(source, sink))
            self._pipes.add(pipe)
            pipe.add_done_callback(self._pipes.discard)


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    try:
        while data := await source.read(65536):
            sink.write(data)
            await sink.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        with contextlib.suppress(ConnectionError, RuntimeError):
            sink.close()


def _port(process: Process) -> int:
    return int(process.address.url.rsplit(":", 1)[1])


@pytest_asyncio.fixture(loop_scope="session")
async def balanced(
    settings: Settings, redis_url: str, tmp_path: Path
) -> AsyncIterator[tuple[LoadBalancer, Process, Process]]:
    """Two ``livechat serve`` sharing Redis and the database, behind a load balancer that
    sends everyone to the first."""
    with livechat_processes(settings, redis_url, tmp_path) as start:
        first, second = start(), start()
        async with LoadBalancer(_port(first)) as balancer:
            yield balancer, first, second


async def test_a_page_whose_process_dies_carries_on_on_another_and_misses_nothing(
    open_window: OpenWindow, balanced: tuple[LoadBalancer, Process, Process]
) -> None:
    balancer, first, second = balanced
    alice, bob = await open_window(), await open_window()
    await register(alice, balancer.url, "Alice Martin", "alice@example.com", PASSWORD)
    await register(bob, balancer.url, "Bob Okafor", "bob@example.com", PASSWORD)
    await create_room(alice, "Ops")
    # This test is about a room's page, not the room list's: Bob's list may have been
    # rendered before the room existed and its socket subscribed after it was announced.
    await bob.reload()
    await expect(bob.locator("#rooms")).to_contain_text("Ops")
    await join_room(bob, "Ops")
    # From now on the balancer sends people to the second process: Bob's page, loaded
    # again, is served there, and Alice's stays on the first.
    balancer.target = _port(second)
    await bob.reload()
    await settled(bob)
    await expect(bob.locator("#presence")).to_contain_text("Alice Martin")
    await send_message(alice, "before the move")
    await expect(bob.locator("#messages article", has_text="before the move")).to_have_count(1)

    # Alice's process is killed. Bob goes on talking while her page finds the other one.
    first.popen.send_signal(signal.SIGKILL)
    for number in range(3):
        await send_message(bob, f"after the move {number}")

    for text in ("before the move", *(f"after the move {n}" for n in range(3))):
        shown = alice.locator("#messages article", has_text=text)
        await expect(shown).to_have_count(1, timeout=RECONNECT_TIMEOUT_MS)
    await expect(alice.locator("#presence")).to_contain_text("Bob Okafor")
    await send_message(alice, "back")
    await expect(bob.locator("#messages article", has_text="back")).to_have_count(1)
