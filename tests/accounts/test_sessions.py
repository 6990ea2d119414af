"""Which session cookies sign someone in: the lookup every request starts with."""

from __future__ import annotations

import secrets
from datetime import timedelta

import pytest

from livechat.accounts.auth import Accounts
from livechat.accounts.models import AccessToken, User
from livechat.db import Database, utcnow
from livechat.settings import Settings

LIFETIME_SECONDS = 3600


@pytest.fixture
def accounts(db: Database, settings: Settings) -> Accounts:
    return Accounts(db, settings.model_copy(update={"session_lifetime_seconds": LIFETIME_SECONDS}))


async def _session(db: Database, user: User, *, age_seconds: float = 0) -> str:
    token = secrets.token_urlsafe()
    async with db.write() as session:
        session.add(
            AccessToken(
                token=token, user_id=user.id, created_at=utcnow() - timedelta(seconds=age_seconds)
            )
        )
    return token


async def test_a_session_signs_in_the_person_it_was_opened_for(
    accounts: Accounts, db: Database, alice: User, bob: User
) -> None:
    token = await _session(db, bob)

    user = await accounts.user_for_token(token)

    assert user is not None
    assert (user.id, user.display_name) == (bob.id, "Bob Okafor")


async def test_a_session_signs_no_one_in_once_its_lifetime_is_over(
    accounts: Accounts, db: Database, alice: User
) -> None:
    recent = await _session(db, alice, age_seconds=LIFETIME_SECONDS - 60)
    expired = await _session(db, alice, age_seconds=LIFETIME_SECONDS + 60)

    assert await accounts.user_for_token(recent) is not None
    assert await accounts.user_for_token(expired) is None


async def test_a_session_of_a_deactivated_account_signs_no_one_in(
    accounts: Accounts, db: Database, alice: User
) -> None:
    token = await _session(db, alice)
    async with db.write() as session:
        stored = await session.get(User, alice.id)
        assert stored is not None
        stored.is_active = False

    assert await accounts.user_for_token(token) is None


@pytest.mark.parametrize("token", [None, "", "no-such-session"])
async def test_a_missing_or_unknown_token_signs_no_one_in(
    accounts: Accounts, alice: User, token: str | None
) -> None:
    assert await accounts.user_for_token(token) is None
