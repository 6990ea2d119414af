"""A real Chromium for the browser tests, and a real server for it to talk to.

Chromium is Debian's, driven by Playwright, which never downloads a browser. Starting it
costs more than most tests do, so it starts once for the whole run, and each person in a
test gets a window of their own: a fresh browser context, with its own cookies and
storage, closed when the test ends. Chromium then lives in the session's event loop, and
so must the browser tests (``loop_scope="session"`` in each module's marks).

Each test has a server of its own, on a fresh database, so that no test sees another's
people or rooms: uvicorn serving the app in the test's process on a free port, as for the
web tests. The journey, which restarts its server as a deployment would, runs one as its
own uvicorn process instead, exactly as ``livechat serve`` would.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Protocol

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect

from livechat.settings import Settings
from tests.live import serving, wait_until_healthy

CHROMIUM = os.environ.get("LIVECHAT_TEST_CHROMIUM", "/usr/bin/chromium")
SERVER_START_TIMEOUT_S = 20
# For every wait and every action: long enough that only something truly wrong reaches
# it, as on a loaded two-core machine an upload or a page load can take several seconds.
TIMEOUT_MS = 20_000
# Without these, Chromium spends its start-up on update checks and sync it cannot reach.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ServerProcess:
    """``livechat`` served by uvicorn in its own process, as in production; it can be
    restarted on the same port and database, as a deployment would."""

    def __init__(self, database_url: str, uploads_dir: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._env = {
            **os.environ,
            "LIVECHAT_ENV": "test",
            "LIVECHAT_DATABASE_URL": database_url,
            "LIVECHAT_UPLOADS_DIR": str(uploads_dir),
        }
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [sys.executable, "-m", "uvicorn", "livechat.app:create_app", "--factory"]
        command += ["--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning"]
        self._process = subprocess.Popen(command, env=self._env)  # noqa: S603  (our own command)
        wait_until_healthy(self.url, self._process, SERVER_START_TIMEOUT_S)

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)
            self._process = None

    def restart(self) -> None:
        self.stop()
        self.start()


@pytest.fixture
def server_process(database_url: str, tmp_path: Path) -> Iterator[ServerProcess]:
    server = ServerProcess(database_url, tmp_path / "uploads")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest_asyncio.fixture(loop_scope="session")
async def live_server(settings: Settings) -> AsyncIterator[str]:
    async with serving(settings) as live:
        yield live.url
    assert live.fatal == [], "the supervision tree gave up"


@pytest.fixture(scope="session")
def chromium() -> str:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    return CHROMIUM


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser(chromium: str) -> AsyncIterator[Browser]:
    expect.set_options(timeout=TIMEOUT_MS)
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield launched
        await launched.close()


class OpenWindow(Protocol):
    async def __call__(self, *, width: int = 1280, height: int = 800) -> Page: ...


@pytest_asyncio.fixture(loop_scope="session")
async def open_window(browser: Browser) -> AsyncIterator[OpenWindow]:
    """Opens a window for one person: a context of its own, closed when the test ends."""
    contexts: list[BrowserContext] = []

    async def open_one(*, width: int = 1280, height: int = 800) -> Page:
        context = await browser.new_context(viewport={"width": width, "height": height})
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return await context.new_page()

    yield open_one
    for context in contexts:
        await context.close()  # does nothing if the test closed it already


@pytest_asyncio.fixture(loop_scope="session")
async def page(open_window: OpenWindow) -> Page:
    return await open_window()
