"""The livechat command."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from livechat import cli
from livechat.realtime.presence import Presence
from livechat.seed import DEMO_PEOPLE, DEMO_ROOMS, MESSAGES_PER_ROOM
from tests.helpers import sqlite_url
from tests.live import free_port


@pytest.fixture
def database_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "data" / "livechat.db"
    monkeypatch.setenv("LIVECHAT_DATABASE_URL", sqlite_url(path))
    monkeypatch.setenv("LIVECHAT_ENV", "test")
    return path


def _count(path: Path, table: str) -> int:
    with sqlite3.connect(path) as connection:
        return int(connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # noqa: S608


def test_migrate_creates_the_database_file(database_file: Path) -> None:
    cli.main(["migrate"])

    assert database_file.exists()
    assert _count(database_file, "users") == 0


def test_seed_adds_demo_data_once(database_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cli.main(["seed"])
    cli.main(["seed"])

    assert _count(database_file, "users") == len(DEMO_PEOPLE)
    assert _count(database_file, "rooms") == len(DEMO_ROOMS)
    assert _count(database_file, "messages") == len(DEMO_ROOMS) * MESSAGES_PER_ROOM
    assert _count(database_file, "messages_fts") == len(DEMO_ROOMS) * MESSAGES_PER_ROOM
    output = capsys.readouterr().out
    assert "Log in as" in output
    assert "nothing was seeded" in output


def test_production_refuses_to_start_without_a_secret_key(
    database_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LIVECHAT_ENV", "production")
    monkeypatch.delenv("LIVECHAT_SECRET_KEY", raising=False)

    with pytest.raises(SystemExit, match="LIVECHAT_SECRET_KEY must be set"):
        cli.main(["serve"])

    assert not database_file.exists()


def test_serve_exits_non_zero_once_the_supervision_tree_gives_up(
    database_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def crash(_presence: Presence) -> None:
        raise RuntimeError("presence is broken for good")

    monkeypatch.setattr(Presence, "tick", crash)  # every quarter second, from its start

    with pytest.raises(SystemExit, match="the supervision tree gave up") as exited:
        cli.main(["serve", "--port", str(free_port())])

    assert exited.value.code not in (0, None)
    assert database_file.exists()  # it did start: migrated, served, then stopped
