"""The livechat command."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import pytest

from livechat import cli
from livechat.realtime.presence import Presence
from livechat.seed import DEMO_PEOPLE, DEMO_ROOMS, MESSAGES_PER_ROOM, UNREAD_AT_START
from livechat.settings import Settings
from tests.helpers import postgres_database, sqlite_url
from tests.live import free_port, wait_until_healthy

LIVECHAT = str(Path(sys.executable).with_name("livechat"))


@pytest.fixture(autouse=True)
def _logging_as_it_was() -> Iterator[None]:
    """The command sets up the process's logging, as it should; the test process keeps
    its own for the tests that follow."""
    loggers = [logging.getLogger(name) for name in ("", "livechat", "uvicorn", "uvicorn.error")]
    saved = [(logger, logger.level, logger.handlers[:], logger.propagate) for logger in loggers]
    yield
    for logger, level, handlers, propagate in saved:
        logger.setLevel(level)
        logger.handlers[:] = handlers
        logger.propagate = propagate


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


def test_seeded_rooms_are_read_but_for_their_newest_few_messages(database_file: Path) -> None:
    cli.main(["seed"])

    with sqlite3.connect(database_file) as connection:
        unread = connection.execute(
            "SELECT count(*) FROM memberships JOIN messages"
            " ON messages.room_id = memberships.room_id AND messages.id > memberships.last_read_id"
            " GROUP BY memberships.id"
        ).fetchall()

    assert len(unread) == _count(database_file, "memberships")
    assert {count for (count,) in unread} == {UNREAD_AT_START}


def test_seeded_messages_are_stored_in_the_order_they_were_sent(database_file: Path) -> None:
    # Search shows the newest first by id, as a running server stores them.
    cli.main(["seed"])

    with sqlite3.connect(database_file) as connection:
        times = [
            row[0] for row in connection.execute("SELECT inserted_at FROM messages ORDER BY id")
        ]

    assert times == sorted(times)


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


def _refusal(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    """Run the command, which must refuse: exit status 2 and a short message on stderr."""
    with pytest.raises(SystemExit) as exited:
        cli.main(argv)
    assert exited.value.code == cli.USAGE_ERROR
    lines = capsys.readouterr().err.strip().splitlines()
    assert 1 <= len(lines) <= 3, lines
    return "\n".join(lines)


@pytest.mark.parametrize(
    ("variable", "value"),
    [("LIVECHAT_ENV", "prod"), ("LIVECHAT_UPLOAD_MAX_BYTES", "10MB")],
)
def test_a_setting_that_is_not_valid_is_named_with_its_value(
    database_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    variable: str,
    value: str,
) -> None:
    monkeypatch.setenv(variable, value)

    message = _refusal(capsys, ["migrate"])

    assert f"{variable}='{value}' is not valid" in message
    assert not database_file.exists()


def test_production_refuses_to_start_without_a_secret_key(
    database_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LIVECHAT_ENV", "production")
    monkeypatch.delenv("LIVECHAT_SECRET_KEY", raising=False)

    assert "LIVECHAT_SECRET_KEY must be set" in _refusal(capsys, ["serve"])
    assert not database_file.exists()


def test_a_database_in_a_folder_that_is_a_file_is_refused_by_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "data").write_text("not a folder")
    monkeypatch.setenv("LIVECHAT_DATABASE_URL", sqlite_url(tmp_path / "data" / "livechat.db"))

    message = _refusal(capsys, ["migrate"])

    assert f"cannot open the database {tmp_path / 'data' / 'livechat.db'}" in message
    assert "LIVECHAT_DATABASE_URL" in message


def test_a_database_path_that_is_a_folder_is_refused_by_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LIVECHAT_DATABASE_URL", sqlite_url(tmp_path))

    assert f"cannot open the database {tmp_path}" in _refusal(capsys, ["serve"])


def test_a_file_that_is_not_a_database_is_refused_by_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("these are not the tables you are looking for " * 100)
    monkeypatch.setenv("LIVECHAT_DATABASE_URL", sqlite_url(notes))

    message = _refusal(capsys, ["migrate"])

    assert f"cannot open the database {notes}" in message
    assert "not a database" in message


def test_migrate_builds_a_postgresql_database(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with postgres_database() as url:
        monkeypatch.setenv("LIVECHAT_DATABASE_URL", url)

        cli.main(["migrate"])

    printed = capsys.readouterr().out
    applied = re.findall(r"Applied (\d{4}):", printed)
    assert applied[0] == "0001"
    assert f"The database is now at revision {applied[-1]}." in printed


def test_a_postgresql_that_does_not_answer_is_named_without_its_password(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"postgresql+asyncpg://livechat:hunter22@127.0.0.1:{free_port()}/livechat"
    monkeypatch.setenv("LIVECHAT_DATABASE_URL", url)

    message = _refusal(capsys, ["migrate"])

    assert "cannot reach the database postgresql+asyncpg://livechat:***@127.0.0.1:" in message
    assert "hunter22" not in message


def test_a_postgresql_database_that_cannot_search_accents_is_refused(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with postgres_database(options="TEMPLATE template0 LC_CTYPE 'C' LC_COLLATE 'C'") as url:
        monkeypatch.setenv("LIVECHAT_DATABASE_URL", url)

        message = _refusal(capsys, ["migrate"])

    assert "its LC_CTYPE is C; search needs a UTF-8 one" in message


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://livechat:hunter22@db/livechat", "uses postgresql"),
        ("not a url at all", "is not a database URL"),
    ],
)
def test_a_database_url_livechat_cannot_use_is_refused_without_echoing_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], url: str, expected: str
) -> None:
    monkeypatch.setenv("LIVECHAT_DATABASE_URL", url)

    message = _refusal(capsys, ["migrate"])

    assert f"LIVECHAT_DATABASE_URL {expected}" in message
    assert "hunter22" not in message


def test_a_database_migrated_by_a_newer_livechat_is_refused(
    database_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cli.main(["migrate"])
    with sqlite3.connect(database_file) as connection:
        connection.execute("UPDATE alembic_version SET version_num = '9999'")
    capsys.readouterr()

    message = _refusal(capsys, ["migrate"])

    assert "'9999'" in message
    assert "newer livechat" in message


def test_an_uploads_folder_that_cannot_be_written_stops_serve_before_it_starts(
    database_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    blocker = tmp_path / "uploads-is-a-file"
    blocker.write_text("")
    monkeypatch.setenv("LIVECHAT_UPLOADS_DIR", str(blocker / "uploads"))

    message = _refusal(capsys, ["serve", "--port", str(free_port())])

    assert f"cannot write to the uploads folder {blocker / 'uploads'}" in message
    assert "LIVECHAT_UPLOADS_DIR" in message
    assert not database_file.exists()


def test_more_than_one_worker_is_refused_without_redis(
    database_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    message = _refusal(capsys, ["serve", "--workers", "2"])

    assert "--workers above 1 needs LIVECHAT_REDIS_URL" in message
    assert "split the chat" in message
    assert not database_file.exists()


def test_a_redis_that_does_not_answer_stops_serve_before_it_starts(
    database_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LIVECHAT_REDIS_URL", f"redis://:hunter22@127.0.0.1:{free_port()}/0")

    message = _refusal(capsys, ["serve", "--workers", "2", "--port", str(free_port())])

    assert "cannot reach Redis at redis://:***@127.0.0.1:" in message
    assert "LIVECHAT_REDIS_URL" in message
    assert "hunter22" not in message
    assert not database_file.exists()


def test_a_redis_url_that_is_not_one_is_refused(
    database_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LIVECHAT_REDIS_URL", "127.0.0.1:6379")

    message = _refusal(capsys, ["serve"])

    assert "LIVECHAT_REDIS_URL must be a Redis URL, such as redis://" in message


def test_seed_refuses_production_unless_forced(
    database_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LIVECHAT_ENV", "production")
    monkeypatch.setenv("LIVECHAT_SECRET_KEY", "a-production-key-that-is-long-enough-to-sign")

    assert "--force" in _refusal(capsys, ["seed"])
    assert not database_file.exists()

    cli.main(["seed", "--force"])
    assert _count(database_file, "users") == len(DEMO_PEOPLE)


def test_migrate_says_what_it_applied_then_that_the_database_is_up_to_date(
    database_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cli.main(["migrate"])
    first = capsys.readouterr().out
    cli.main(["migrate"])
    second = capsys.readouterr().out

    assert "Applied 0001: Users, sessions" in first
    assert "The database is now at revision" in first
    assert second.startswith("The database is up to date (revision")


def test_version_names_the_installed_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["--version"])

    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"livechat {version('livechat')}"


def test_serve_help_shows_every_default_flags_and_settings_alike(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        cli.main(["serve", "--help"])
    shown = " ".join(capsys.readouterr().out.split())

    assert "(default: 127.0.0.1)" in shown
    assert "(default: 8000)" in shown
    assert "(default: 1)" in shown
    for name in Settings.model_fields:
        assert f"LIVECHAT_{name.upper()}" in shown
    assert "LIVECHAT_DATABASE_URL sqlite+aiosqlite:///livechat.db" in shown
    assert "LIVECHAT_SOCKETS_PER_USER 20" in shown


def test_a_mistake_ends_the_real_command_in_one_line_and_no_traceback(tmp_path: Path) -> None:
    environment = {**os.environ, "LIVECHAT_ENV": "prod"}

    finished = subprocess.run(  # noqa: S603  (our own entry point, fixed arguments)
        [LIVECHAT, "serve"],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert finished.returncode == 2
    assert finished.stderr.splitlines() == [
        "livechat: LIVECHAT_ENV='prod' is not valid: input should be 'development', 'test' or"
        " 'production'; see Configuration in the README."
    ]
    assert not (tmp_path / "livechat.db").exists()


def _serve_until_healthy(tmp_path: Path, settings: dict[str, str], *flags: str) -> tuple[int, str]:
    """Start ``livechat serve`` on a fresh database with ``settings``, stop it with
    SIGTERM once it answers /healthz; how it exited, and what it logged."""
    port = free_port()
    environment = {
        **os.environ,
        "LIVECHAT_DATABASE_URL": sqlite_url(tmp_path / "livechat.db"),
        "LIVECHAT_UPLOADS_DIR": str(tmp_path / "uploads"),
        **settings,
    }
    server = subprocess.Popen(  # noqa: S603  (our own entry point, fixed arguments)
        [LIVECHAT, "serve", "--port", str(port), *flags],
        env=environment,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until_healthy(f"http://127.0.0.1:{port}", server)
    finally:
        server.terminate()
        _, logged = server.communicate(timeout=30)
    return server.returncode, logged


def test_serve_logs_one_json_object_a_line_when_asked(tmp_path: Path) -> None:
    _, logged = _serve_until_healthy(tmp_path, {"LIVECHAT_LOG_FORMAT": "json"})

    lines = [json.loads(line) for line in logged.splitlines()]
    messages = [line["message"] for line in lines]
    assert any(message.startswith("Applied 0001") for message in messages)
    assert "Application startup complete." in messages
    health = next(line for line in lines if line.get("path") == "/healthz")
    assert health["status"] == 200
    assert health["request_id"]


def test_serve_with_redis_runs_the_workers_asked_for(tmp_path: Path, redis_url: str) -> None:
    settings = {
        "LIVECHAT_REDIS_URL": redis_url,
        "LIVECHAT_REDIS_PREFIX": f"test-{uuid.uuid4().hex}",
    }

    returncode, logged = _serve_until_healthy(tmp_path, settings, "--workers", "2")

    assert returncode == 0
    assert logged.count("Application startup complete.") == 2
    assert logged.count("Application shutdown complete.") == 2
    assert "Traceback" not in logged


# Site admins and bots


def _sign_up(path: Path, email: str, name: str) -> None:
    with sqlite3.connect(path) as connection:
        connection.execute(
            "INSERT INTO users (email, hashed_password, is_active, is_superuser, is_verified,"
            " display_name, handle, inserted_at) VALUES (?, 'x', 1, 0, 0, ?, ?, '2026-12-01')",
            (email, name, name.lower()),
        )


def _admins(path: Path) -> list[str]:
    with sqlite3.connect(path) as connection:
        return [row[0] for row in connection.execute("SELECT email FROM users WHERE is_superuser")]


def test_admin_makes_someone_a_site_admin_once(
    database_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cli.main(["migrate"])
    _sign_up(database_file, "ann@example.com", "Ann")
    _sign_up(database_file, "bo@example.com", "Bo")
    capsys.readouterr()

    cli.main(["admin", "Ann@Example.com"])
    cli.main(["admin", "ann@example.com"])

    assert capsys.readouterr().out.splitlines() == [
        "Ann (ann@example.com) is now a site admin.",
        "Ann (ann@example.com) is already a site admin.",
    ]
    assert _admins(database_file) == ["ann@example.com"]


def test_admin_names_an_email_no_one_signed_up_with(
    database_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cli.main(["migrate"])
    capsys.readouterr()

    message = _refusal(capsys, ["admin", "nobody@example.com"])

    assert message == "livechat: No one has signed up as nobody@example.com."


def test_bot_makes_a_bot_and_prints_its_token_and_webhook_key_once(
    database_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cli.main(["bot", "Deploy Bot", "--handle", "deployer", "--webhook", "https://ci.example.com/"])

    made, token, key = capsys.readouterr().out.splitlines()
    assert made == "Made the bot Deploy Bot (@deployer)."
    secret = token.removeprefix("Its token, shown this once: ")
    assert secret.startswith("lc_")
    with sqlite3.connect(database_file) as connection:
        bot = connection.execute(
            "SELECT users.is_bot, users.webhook_url, users.webhook_secret, api_tokens.scope"
            " FROM users JOIN api_tokens ON api_tokens.user_id = users.id"
            " WHERE api_tokens.secret_hash = ?",
            (hashlib.sha256(secret.encode()).hexdigest(),),
        ).fetchone()
    assert bot[:2] == (1, "https://ci.example.com/")
    assert key == f"The key its webhook calls are signed with: {bot[2]}"
    assert bot[3] == "write"


def test_bot_refuses_a_handle_that_is_taken_or_a_webhook_that_is_no_web_address(
    database_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cli.main(["bot", "Helper", "--handle", "helper"])
    capsys.readouterr()

    taken = _refusal(capsys, ["bot", "Helper two", "--handle", "helper"])
    not_web = _refusal(capsys, ["bot", "Hook", "--handle", "hook", "--webhook", "ftp://x.org"])

    assert taken == "livechat: @helper is taken; try another."
    assert "http:// or https://" in not_web
    assert _count(database_file, "users") == 1
