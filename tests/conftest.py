"""Fixtures shared by the whole suite: a migrated database per test, people, a room, an app."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from livechat import schema
from livechat.accounts.auth import Accounts
from livechat.accounts.handles import free_handle, handle_from_name
from livechat.accounts.models import User
from livechat.app import create_app
from livechat.chat import rooms
from livechat.chat.models import Room
from livechat.db import Database, sqlite_path
from livechat.settings import Environment, Settings
from tests.helpers import (
    DATABASE,
    PASSWORD,
    MakeUser,
    postgres_database,
    reachable_redis,
    sqlite_url,
)

# Run in parallel (``--dist loadgroup``), the browser tests go to one worker, one after
# another: a Chromium keeps two cores busy, and two at once would starve the servers they
# drive, whose every wait is bounded.
_ONE_BROWSER_AT_A_TIME = pytest.mark.xdist_group("browser")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("browser"):
            item.add_marker(_ONE_BROWSER_AT_A_TIME)


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One database migrated to head, copied for each test: migrating per test is slow."""
    if DATABASE == "postgresql":
        with postgres_database() as url:
            schema.upgrade(url)
            yield url
        return
    url = sqlite_url(tmp_path_factory.mktemp("template") / "livechat.db")
    schema.upgrade(url)
    yield url


@pytest.fixture
async def redis_url() -> str:
    """Redis, for the tests of what processes share: skipped without it, except in CI."""
    return await reachable_redis()


@pytest.fixture
def database_url(migrated_template: str, tmp_path: Path) -> Iterator[str]:
    if DATABASE == "postgresql":
        with postgres_database(template=migrated_template) as url:
            yield url
        return
    path = tmp_path / "livechat.db"
    template = sqlite_path(migrated_template)
    assert template is not None
    shutil.copyfile(template, path)
    yield sqlite_url(path)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        env=Environment.TEST,
        database_url=database_url,
        secret_key="test-secret-key-that-is-long-enough-to-sign",
        uploads_dir=tmp_path / "uploads",
    )


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    yield database
    await database.dispose()


@pytest.fixture
def make_user(db: Database, settings: Settings) -> MakeUser:
    passwords = Accounts(db, settings).passwords

    async def make(display_name: str, email: str | None = None) -> User:
        email = email or f"{display_name.split()[0].lower()}@example.com"
        async with db.write() as session:
            user = User(
                email=email,
                display_name=display_name,
                handle=await free_handle(session, handle_from_name(display_name)),
                hashed_password=passwords.hash(PASSWORD),
            )
            session.add(user)
        return user

    return make


@pytest.fixture
async def alice(make_user: MakeUser) -> User:
    return await make_user("Alice Martin")


@pytest.fixture
async def bob(make_user: MakeUser) -> User:
    return await make_user("Bob Okafor")


@pytest.fixture
async def carol(make_user: MakeUser) -> User:
    return await make_user("Carol Nguyen")


@pytest.fixture
async def general(db: Database, alice: User, bob: User) -> Room:
    """A public room of Alice's that Bob has joined."""
    room = await rooms.create_room(db, alice, name="General")
    await rooms.join_room(db, bob, room.slug)
    return room


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    # A tree that gives up would stop the process by default: here, that is the test run.
    fatal: list[BaseException] = []
    application = create_app(settings, on_fatal=fatal.append)
    async with application.router.lifespan_context(application):
        yield application
    assert fatal == [], "the supervision tree gave up"


def _browser(app: FastAPI) -> httpx.AsyncClient:
    """A browser-like client: it keeps its own cookies and follows no redirects."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://testserver")


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with _browser(app) as http:
        yield http


@pytest.fixture
async def other_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A second browser on the same server, for a second person."""
    async with _browser(app) as http:
        yield http
