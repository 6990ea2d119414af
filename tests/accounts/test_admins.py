"""Site admins: who may become one, and how they keep the bots."""

from __future__ import annotations

import pytest

from livechat.accounts import admins, tokens
from livechat.accounts.auth import Accounts
from livechat.accounts.models import User
from livechat.db import Database
from livechat.errors import BadRequest, NotFound
from livechat.settings import Settings
from tests.helpers import PASSWORD


async def test_someone_becomes_a_site_admin_by_their_email_in_any_case(
    db: Database, alice: User
) -> None:
    person, made = await admins.make_admin(db, f"  {alice.email.upper()} ")

    assert person.id == alice.id
    assert made
    assert person.is_superuser
    assert (await admins.make_admin(db, alice.email))[1] is False


@pytest.mark.parametrize("email", ["nobody@example.com", "", "\ud800@example.com"])
async def test_an_email_no_one_signed_up_with_is_refused(db: Database, email: str) -> None:
    with pytest.raises(NotFound, match="No one has signed up as"):
        await admins.make_admin(db, email)


async def test_neither_a_bot_nor_a_closed_account_becomes_a_site_admin(
    db: Database, settings: Settings, alice: User
) -> None:
    bot, _ = await tokens.create_bot(db, name="Bot", handle="botty", webhook_url=None)
    await Accounts(db, settings).deactivate(alice, password=PASSWORD)

    with pytest.raises(BadRequest, match="is a bot"):
        await admins.make_admin(db, bot.email)
    with pytest.raises(BadRequest, match="is closed"):
        await admins.make_admin(db, alice.email)


async def test_the_bots_are_listed_active_first_with_their_live_tokens(
    db: Database, alice: User
) -> None:
    zed, _ = await tokens.create_bot(db, name="Zed", handle="zed", webhook_url=None)
    gone, _ = await tokens.create_bot(db, name="Abe", handle="abe", webhook_url=None)
    await tokens.issue_token(db, zed, name="Second", scope=tokens.Scope.READ)
    await admins.deactivate_bot(db, gone.id)

    listed = await admins.list_bots(db)

    assert [(listing.bot.handle, listing.live_tokens) for listing in listed] == [
        ("zed", 2),
        ("abe", 0),
    ]
    assert alice.id not in {listing.bot.id for listing in listed}


async def test_a_deactivated_bot_is_closed_and_its_tokens_revoked(db: Database) -> None:
    bot, secret = await tokens.create_bot(db, name="Bot", handle="botty", webhook_url=None)

    deactivated = await admins.deactivate_bot(db, bot.id)

    assert not deactivated.is_active
    assert await tokens.authenticate(db, secret) is None
    assert await tokens.tokens_of(db, bot.id) == []
    with pytest.raises(NotFound):
        await admins.find_bot(db, bot.id)
    with pytest.raises(NotFound):
        await admins.deactivate_bot(db, bot.id)


@pytest.mark.parametrize("which", ["person", "unknown", "out of range"])
async def test_only_a_bot_is_found_or_deactivated_as_one(
    db: Database, alice: User, which: str
) -> None:
    bot_id = {"person": alice.id, "unknown": 987654, "out of range": 2**63}[which]

    with pytest.raises(NotFound):
        await admins.find_bot(db, bot_id)
    with pytest.raises(NotFound):
        await admins.deactivate_bot(db, bot_id)
    async with db.read() as session:
        assert (await session.get_one(User, alice.id)).is_active
