"""What an operator can get wrong, found before anything starts and said in one line.

Each check raises ``ConfigurationError`` with a message that names the variable, path or
flag at fault and what to do about it; the command prints it and exits, so a mistake in a
unit file or a shell never ends in a traceback, nor in a server that starts and then fails
every request.
"""

from __future__ import annotations

import re
import sqlite3
import tempfile
from contextlib import closing
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from pydantic import ValidationError
from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from livechat import schema
from livechat.db import sqlite_path
from livechat.settings import ConfigurationError, Settings

SQLITE_DRIVER = "sqlite+aiosqlite"
POSTGRESQL_DRIVER = "postgresql+asyncpg"
SUPPORTED_DRIVERS = (
    f"{SQLITE_DRIVER}:///path/to/livechat.db or {POSTGRESQL_DRIVER}://user@host/database"
)
POSTGRESQL_MIN_VERSION = 130000  # unaccent may be created by a database's owner from 13 on
POSTGRESQL_TIMEOUT_S = 5
# A Redis on the same network answers within milliseconds; one that takes longer than
# this to accept a connection is as good as down for a chat.
REDIS_TIMEOUT_S = 3.0


def settings_from_environment() -> Settings:
    """The settings, or a ConfigurationError naming the first variable that is wrong."""
    try:
        return Settings()
    except ValidationError as error:
        raise ConfigurationError(_describe(error)) from None


def _describe(error: ValidationError) -> str:
    problems = error.errors()
    first = problems[0]
    reason = first["msg"][:1].lower() + first["msg"][1:]
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    # Every field is typed (a number, a choice, a path), so what failed is one variable's
    # value, and naming it reveals no secret: the secrets are free text.
    field = "_".join(str(part) for part in first["loc"])
    return (
        f"LIVECHAT_{field.upper()}={first['input']!r} is not valid: {reason}{more};"
        " see Configuration in the README."
    )


def check_database(url: str) -> None:
    """The URL names a SQLite database this process can open, create and write, or a
    PostgreSQL database it can reach, that searches as livechat needs."""
    try:
        driver = make_url(url).drivername
    except ArgumentError:
        raise ConfigurationError(
            f"LIVECHAT_DATABASE_URL is not a database URL; use {SUPPORTED_DRIVERS}"
        ) from None
    if driver == POSTGRESQL_DRIVER:
        _check_postgresql(url)
        return
    if driver != SQLITE_DRIVER:
        raise ConfigurationError(
            f"LIVECHAT_DATABASE_URL uses {driver}, which livechat does not support;"
            f" use {SUPPORTED_DRIVERS}"
        )
    path = sqlite_path(url)
    if path is None:
        return
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with closing(sqlite3.connect(path)) as connection:
            # Reading the header catches a file that is not a database; taking the write
            # lock catches a read-only file, folder or file system.
            connection.execute("PRAGMA user_version")
            connection.execute("BEGIN IMMEDIATE")
            connection.rollback()
    except (OSError, sqlite3.Error) as error:
        reason = _reason(error) if isinstance(error, OSError) else str(error)
        raise ConfigurationError(
            f"cannot open the database {path} (LIVECHAT_DATABASE_URL): {reason};"
            " check that the path is a file this user can write, in a folder it can write"
        ) from None


def _check_postgresql(url: str) -> None:
    where = make_url(url).render_as_string(hide_password=True)
    try:
        with psycopg.connect(
            schema.sync_url(url).set(drivername="postgresql").render_as_string(hide_password=False),
            connect_timeout=POSTGRESQL_TIMEOUT_S,
        ) as connection:
            version, ctype, unaccent = connection.execute(
                "SELECT current_setting('server_version_num')::int,"
                " (SELECT datctype FROM pg_database WHERE datname = current_database()),"
                " EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'unaccent')"
            ).fetchone() or (0, "", False)
    except psycopg.Error as error:
        reason = " ".join(str(error).split())
        raise ConfigurationError(
            f"cannot reach the database {where} (LIVECHAT_DATABASE_URL): {reason}"
        ) from None
    problem = (
        "PostgreSQL 13 or newer is needed"
        if version < POSTGRESQL_MIN_VERSION
        # Search splits words on anything but letters: in a C locale, é is not one.
        else f"its LC_CTYPE is {ctype}; search needs a UTF-8 one"
        if not re.search(r"utf-?8", ctype, re.IGNORECASE)
        else "search needs the unaccent extension (Debian's postgresql-contrib)"
        if not unaccent
        else None
    )
    if problem:
        raise ConfigurationError(
            f"the database {where} (LIVECHAT_DATABASE_URL) cannot serve livechat: {problem}"
        )


def check_uploads_dir(path: Path) -> None:
    """The uploads folder exists, or can be made, and this process can write in it."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write-check-"):
            pass
    except OSError as error:
        raise ConfigurationError(
            f"cannot write to the uploads folder {path} (LIVECHAT_UPLOADS_DIR): {_reason(error)};"
            " create it and make it writable by this user"
        ) from None


def check_redis(url: str) -> None:
    """Redis answers at the URL, if one is set."""
    if not url:
        return
    where = _without_password(url)
    try:
        with Redis.from_url(url, socket_connect_timeout=REDIS_TIMEOUT_S) as client:
            client.ping()
    except (RedisError, OSError, ValueError) as error:
        raise ConfigurationError(
            f"cannot reach Redis at {where} (LIVECHAT_REDIS_URL): {error};"
            " start Redis, fix the URL, or unset it to run one process alone"
        ) from None


def _without_password(url: str) -> str:
    parsed = urlsplit(url)
    if parsed.password is None:
        return url
    return urlunsplit(parsed._replace(netloc=parsed.netloc.replace(parsed.password, "***")))


def _reason(error: OSError) -> str:
    # The failing path may be a parent of the one configured: say which.
    return f"{error.strerror} ({error.filename})" if error.filename else str(error.strerror)
