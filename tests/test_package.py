"""The wheel is the whole product: installed into a fresh virtualenv and started from a
folder that is not the checkout, it serves its pages, its static files and its schema."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import sysconfig
import venv
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.live import free_port, wait_until_healthy

CHECKOUT = Path(__file__).resolve().parents[1]
START_TIMEOUT_S = 30.0
# The installed package must be the one found, not a checkout on the caller's PYTHONPATH.
ISOLATED = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}


def _run(*command: str | Path, cwd: Path | None = None) -> str:
    finished = subprocess.run(  # noqa: S603  (fixed arguments, our own tools)
        [str(part) for part in command],
        cwd=cwd,
        env=ISOLATED,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr
    return finished.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv holding the wheel built from this checkout; its bin folder.

    The wheel is installed without its dependencies, which the virtualenv borrows from
    the test environment through a .pth file: downloading them again would test the
    package index, not the wheel. Only livechat itself comes from the wheel, which the
    test checks."""
    root = tmp_path_factory.mktemp("package")
    _run(
        sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
        "--wheel-dir", root / "dist", CHECKOUT,
    )  # fmt: skip
    (wheel,) = (root / "dist").glob("livechat-*.whl")
    environment = root / "venv"
    venv.create(environment, with_pip=False)
    python = environment / "bin" / "python"
    purelib = Path(
        _run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))").strip()
    )
    (purelib / "borrowed-dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    _run(sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", wheel)
    return environment / "bin"


def test_the_installed_package_carries_its_templates_static_files_and_migrations(
    installed: Path,
) -> None:
    found = _run(
        installed / "python",
        "-c",
        "import livechat.resources as r;"
        "print('\\n'.join(str(p) for p in (r.TEMPLATES, r.STATIC, r.MIGRATIONS, r.ALEMBIC_INI)))",
    ).split()

    for path in map(Path, found):
        assert path.exists()
        assert CHECKOUT not in path.parents, f"{path} comes from the checkout, not the wheel"


def test_the_installed_command_names_its_version(installed: Path) -> None:
    assert _run(installed / "livechat", "--version").startswith("livechat 0.")


@pytest.fixture
def serving_from_elsewhere(installed: Path, tmp_path: Path) -> Iterator[str]:
    """``livechat serve`` from the installed wheel, in an empty folder; its base URL."""
    port = free_port()
    environment = {key: value for key, value in ISOLATED.items() if not key.startswith("LIVECHAT_")}
    server = subprocess.Popen(  # noqa: S603  (the installed entry point, fixed arguments)
        [str(installed / "livechat"), "serve", "--port", str(port)],
        cwd=tmp_path,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(url, server, START_TIMEOUT_S)
        yield url
    finally:
        server.terminate()
        server.communicate(timeout=30)


def test_the_installed_server_serves_pages_and_the_vendored_htmx_from_any_folder(
    serving_from_elsewhere: str, tmp_path: Path
) -> None:
    page = httpx.get(f"{serving_from_elsewhere}/users/log_in")
    assert page.status_code == 200
    assert "Log in" in page.text

    # Everything the page loads, the vendored htmx and its WebSocket extension included.
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', page.text)
    assert any("htmx-2" in asset for asset in assets)
    assert any("htmx-ext-ws" in asset for asset in assets)
    for asset in assets:
        response = httpx.get(f"{serving_from_elsewhere}{asset}")
        assert response.status_code == 200, asset
        assert response.content, asset
    assert (tmp_path / "livechat.db").exists()  # migrated, from the wheel's migrations
