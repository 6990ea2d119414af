"""A real server and a real Chromium for the browser tests.

The server runs as its own uvicorn process on a free port, exactly as ``livechat serve``
would; Chromium is Debian's, driven by Playwright, which never downloads a browser.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Page, async_playwright

CHROMIUM = os.environ.get("LIVECHAT_TEST_CHROMIUM", "/usr/bin/chromium")
SERVER_START_TIMEOUT_S = 20
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


def _wait_until_healthy(url: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with {server.returncode} before serving")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.05)
    raise TimeoutError(f"the server at {url} did not become healthy")


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
        _wait_until_healthy(self.url, self._process)

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


@pytest.fixture
def live_server(server_process: ServerProcess) -> str:
    return server_process.url


@pytest.fixture(scope="session")
def chromium() -> str:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    return CHROMIUM


@pytest.fixture
async def browser(chromium: str) -> AsyncIterator[Browser]:
    """A Chromium per test: Playwright's event loop must not outlive the test's own."""
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield launched
        await launched.close()


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(5000)
    yield await context.new_page()
    await context.close()
