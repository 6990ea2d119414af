"""Personal access tokens and bots: issuing, authenticating, revoking, and their limits."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update

from livechat.accounts import tokens
from livechat.accounts.auth import Accounts
from livechat.accounts.models import ApiToken, User
from livechat.accounts.tokens import Scope
from livechat.chat import rooms
from livechat.chat.models import Room
from livechat.db import Database, utcnow
from livechat.errors import BadRequest
from livechat.inputs import MAX_ID
from livechat.settings import Settings
from tests.helpers import PASSWORD


async def _stored(db: Database, token_id: int) -> ApiToken:
    async with db.read() as session:
        return (await session.scalars(select(ApiToken).where(ApiToken.id == token_id))).one()


async def _last_used(db: Database, token_id: int) -> datetime | None:
    return (await _stored(db, token_id)).last_used_at


async def _set_last_used(db: Database, token_id: int, when: datetime) -> None:
    async with db.write() as session:
        await session.execute(
            update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=when)
        )


async def test_a_new_token_authenticates_as_its_owner_with_its_scope(
    db: Database, alice: User
) -> None:
    token, secret = await tokens.issue_token(db, alice, name="Deploy bot", scope=Scope.READ)

    grant = await tokens.authenticate(db, secret)

    assert grant is not None
    assert grant.user.id == alice.id
    assert grant.user.email == alice.email
    assert grant.token_id == token.id
    assert grant.scope is Scope.READ
    assert not grant.can_write
    assert grant.room_ids is None


async def test_only_a_digest_and_the_first_characters_of_the_secret_are_stored(
    db: Database, alice: User
) -> None:
    token, secret = await tokens.issue_token(db, alice, name="CI", scope=Scope.READ)

    stored = await _stored(db, token.id)
    assert secret.startswith(tokens.TOKEN_PREFIX)
    assert len(secret) == len(tokens.TOKEN_PREFIX) + 43
    assert stored.prefix == secret[:10]
    assert secret not in {stored.secret_hash, stored.name, stored.prefix}
    assert stored.secret_hash == tokens.digest(secret)
    another, _ = await tokens.issue_token(db, alice, name="CI", scope=Scope.READ)
    assert (await _stored(db, another.id)).secret_hash != stored.secret_hash


async def test_a_token_that_may_write_may_read_too(db: Database, alice: User) -> None:
    _, secret = await tokens.issue_token(db, alice, name="Poster", scope=Scope.WRITE)

    grant = await tokens.authenticate(db, secret)

    assert grant is not None
    assert grant.can_write
    assert grant.reaches(12345)


async def test_a_token_for_every_room_reaches_any_room(db: Database, alice: User) -> None:
    _, secret = await tokens.issue_token(db, alice, name="Reader", scope=Scope.READ)

    grant = await tokens.authenticate(db, secret)

    assert grant is not None
    assert grant.reaches(1)
    assert grant.reaches(MAX_ID)


async def test_a_token_limited_to_rooms_reaches_only_those(
    db: Database, alice: User, general: Room
) -> None:
    own_private = await rooms.create_room(db, alice, name="Alice's notes", is_private=True)
    _, secret = await tokens.issue_token(
        db, alice, name="Notes", scope=Scope.READ, room_ids=[own_private.id, general.id, general.id]
    )

    grant = await tokens.authenticate(db, secret)

    assert grant is not None
    assert grant.room_ids == frozenset({own_private.id, general.id})
    assert grant.reaches(general.id)
    assert not grant.reaches(general.id + own_private.id)


@pytest.mark.parametrize(
    ("name", "refusal"),
    [
        ("", "Name the token"),
        ("   \n ", "Name the token"),
        ("x" * 81, "at most 80"),
        ("bad\x00name", "valid text"),
        ("bad\ud800name", "valid text"),
    ],
)
async def test_a_token_needs_a_name_of_at_most_80_characters(
    db: Database, alice: User, name: str, refusal: str
) -> None:
    with pytest.raises(BadRequest, match=refusal):
        await tokens.issue_token(db, alice, name=name, scope=Scope.READ)


async def test_a_name_is_kept_with_its_spaces_tidied(db: Database, alice: User) -> None:
    token, _ = await tokens.issue_token(db, alice, name="  Deploy \n  bot ", scope=Scope.READ)

    assert token.name == "Deploy bot"


async def test_an_empty_list_of_rooms_is_refused_rather_than_taken_for_every_room(
    db: Database, alice: User
) -> None:
    with pytest.raises(BadRequest, match="Choose the rooms"):
        await tokens.issue_token(db, alice, name="Nothing", scope=Scope.READ, room_ids=[])


@pytest.mark.parametrize(("text", "scope"), [("read", Scope.READ), ("write", Scope.WRITE)])
def test_a_scope_is_named_read_or_write(text: str, scope: Scope) -> None:
    assert tokens.scope_named(text) is scope


@pytest.mark.parametrize("text", ["", "admin", "READ", "read ", "\ud800"])
def test_any_other_scope_is_refused(text: str) -> None:
    with pytest.raises(BadRequest, match="only read, or read and write"):
        tokens.scope_named(text)


async def test_a_person_keeps_a_bounded_number_of_live_tokens(db: Database, alice: User) -> None:
    issued = [
        await tokens.issue_token(db, alice, name=f"Token {number}", scope=Scope.READ)
        for number in range(tokens.MAX_LIVE_TOKENS)
    ]

    with pytest.raises(BadRequest, match="revoke one"):
        await tokens.issue_token(db, alice, name="One too many", scope=Scope.READ)

    assert await tokens.revoke_token(db, alice.id, issued[0][0].id)
    await tokens.issue_token(db, alice, name="In its place", scope=Scope.READ)


async def test_a_revoked_token_no_longer_authenticates(db: Database, alice: User) -> None:
    token, secret = await tokens.issue_token(db, alice, name="Old script", scope=Scope.WRITE)

    assert await tokens.revoke_token(db, alice.id, token.id)

    assert await tokens.authenticate(db, secret) is None
    assert await tokens.revoke_token(db, alice.id, token.id) is False  # once is enough
    assert (await _stored(db, token.id)).revoked_at is not None


async def test_no_one_revokes_someone_elses_token(db: Database, alice: User, bob: User) -> None:
    token, secret = await tokens.issue_token(db, alice, name="Mine", scope=Scope.READ)

    assert await tokens.revoke_token(db, bob.id, token.id) is False

    assert await tokens.authenticate(db, secret) is not None


@pytest.mark.parametrize("token_id", [987654, 0, -5, MAX_ID + 1])
async def test_revoking_a_token_that_is_not_there_revokes_nothing(
    db: Database, alice: User, token_id: int
) -> None:
    assert await tokens.revoke_token(db, alice.id, token_id) is False


async def test_tokens_of_someone_are_their_live_ones_newest_first(
    db: Database, alice: User, bob: User
) -> None:
    first, _ = await tokens.issue_token(db, alice, name="First", scope=Scope.READ)
    revoked, _ = await tokens.issue_token(db, alice, name="Revoked", scope=Scope.READ)
    last, _ = await tokens.issue_token(db, alice, name="Last", scope=Scope.WRITE)
    await tokens.issue_token(db, bob, name="Bob's", scope=Scope.READ)
    await tokens.revoke_token(db, alice.id, revoked.id)

    live = await tokens.tokens_of(db, alice.id)

    assert [token.id for token in live] == [last.id, first.id]


async def test_the_tokens_of_a_deactivated_owner_stop_authenticating(
    db: Database, settings: Settings, alice: User
) -> None:
    _, secret = await tokens.issue_token(db, alice, name="Script", scope=Scope.WRITE)

    await Accounts(db, settings).deactivate(alice, password=PASSWORD)

    assert await tokens.authenticate(db, secret) is None


@pytest.mark.parametrize(
    "secret",
    [
        "",
        "lc_",
        "lc_" + "a" * 42,
        "lc_" + "a" * 44,
        "xx_" + "a" * 43,
        "LC_" + "a" * 43,
        "lc_" + "a" * 42 + "!",
        "lc_" + "a" * 42 + "é",
        "lc_" + "a" * 42 + "\ud800",
        "lc_" + "a" * 42 + "\x00",
        " lc_" + "a" * 43,
        "lc_" + "a" * 43 + "\n",
        "Bearer lc_" + "a" * 43,
        "lc_" + "a" * 100_000,
    ],
)
async def test_a_malformed_secret_authenticates_no_one(
    db: Database, alice: User, secret: str
) -> None:
    await tokens.issue_token(db, alice, name="Real", scope=Scope.READ)

    assert await tokens.authenticate(db, secret) is None


async def test_a_well_formed_secret_no_one_was_given_authenticates_no_one(
    db: Database, alice: User
) -> None:
    _, secret = await tokens.issue_token(db, alice, name="Real", scope=Scope.READ)
    forged = secret[:-1] + ("A" if secret[-1] != "A" else "B")

    assert await tokens.authenticate(db, forged) is None


async def test_a_token_is_marked_used_when_first_used_then_at_most_once_a_minute(
    db: Database, alice: User
) -> None:
    token, secret = await tokens.issue_token(db, alice, name="Busy bot", scope=Scope.WRITE)
    assert await _last_used(db, token.id) is None

    before = utcnow()
    await tokens.authenticate(db, secret)
    first = await _last_used(db, token.id)
    assert first is not None
    assert first >= before.replace(microsecond=0)

    await tokens.authenticate(db, secret)
    assert await _last_used(db, token.id) == first

    half_a_minute_ago = utcnow() - timedelta(seconds=30)
    await _set_last_used(db, token.id, half_a_minute_ago)
    await tokens.authenticate(db, secret)
    assert await _last_used(db, token.id) == half_a_minute_ago

    a_minute_ago = utcnow() - tokens.LAST_USED_EVERY - timedelta(seconds=1)
    await _set_last_used(db, token.id, a_minute_ago)
    await tokens.authenticate(db, secret)
    marked = await _last_used(db, token.id)
    assert marked is not None
    assert marked > half_a_minute_ago


async def test_a_bot_acts_through_its_first_token_which_may_write(db: Database) -> None:
    bot, secret = await tokens.create_bot(
        db, name="Deploy Bot", handle="@Deployer", webhook_url=None
    )

    grant = await tokens.authenticate(db, secret)

    assert grant is not None
    assert grant.user.id == bot.id
    assert grant.user.is_bot
    assert grant.can_write
    assert grant.room_ids is None
    assert bot.handle == "deployer"
    assert bot.display_name == "Deploy Bot"
    assert bot.email == "bot-deployer@bots.invalid"
    assert bot.webhook_url is None
    assert bot.webhook_secret is None
    assert [token.scope for token in await tokens.tokens_of(db, bot.id)] == ["write"]


async def test_a_bot_with_a_webhook_gets_a_key_to_sign_its_calls_with(db: Database) -> None:
    bot, _ = await tokens.create_bot(
        db, name="Hooked", handle="hooked", webhook_url=" https://example.com/hook?x=1 "
    )
    other, _ = await tokens.create_bot(
        db, name="Hooked too", handle="hooked_too", webhook_url="http://10.0.0.5:8080/"
    )

    assert bot.webhook_url == "https://example.com/hook?x=1"
    assert bot.webhook_secret is not None
    assert len(bot.webhook_secret) >= 43
    assert other.webhook_secret not in {None, bot.webhook_secret}


async def test_a_bot_can_never_log_in(db: Database, settings: Settings) -> None:
    bot, _ = await tokens.create_bot(db, name="Bot", handle="botty", webhook_url=None)
    accounts = Accounts(db, settings)

    assert await accounts.authenticate(bot.email, "") is None
    assert await accounts.authenticate(bot.email, bot.hashed_password) is None
    assert bot.hashed_password.startswith(tokens.UNUSABLE_PASSWORD_MARK)


async def test_a_bot_cannot_take_a_handle_someone_has(db: Database, alice: User) -> None:
    await tokens.create_bot(db, name="Helper", handle="helper", webhook_url=None)

    with pytest.raises(BadRequest, match="@helper is taken"):
        await tokens.create_bot(db, name="Helper 2", handle="HELPER", webhook_url=None)
    with pytest.raises(BadRequest, match=f"@{alice.handle} is taken"):
        await tokens.create_bot(db, name="Impostor", handle=alice.handle, webhook_url=None)


@pytest.mark.parametrize(
    ("name", "handle", "refusal"),
    [
        ("", "fine", "needs a name"),
        ("x" * 41, "fine", "at most 40"),
        ("Fine", "", "Handles are"),
        ("Fine", "no spaces", "Handles are"),
        ("Fine", "everyone", "whole group"),
    ],
)
async def test_a_bot_needs_a_name_and_a_handle_as_a_person_does(
    db: Database, name: str, handle: str, refusal: str
) -> None:
    with pytest.raises(BadRequest, match=refusal):
        await tokens.create_bot(db, name=name, handle=handle, webhook_url=None)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/hook",
        "javascript:alert(1)",
        "example.com/hook",
        "https://",
        "https:///path",
        "http://exa mple.com/",
        "https://[::1/",
        "https://example.com/\x00",
        "https://example.com/" + "a" * 2000,
    ],
)
async def test_a_webhook_is_an_http_or_https_address(db: Database, url: str) -> None:
    with pytest.raises(BadRequest, match=r"[Ww]ebhook"):
        await tokens.create_bot(db, name="Hook", handle="hook", webhook_url=url)

    async with db.read() as session:
        assert await session.scalar(select(User).where(User.handle == "hook")) is None


def test_an_empty_webhook_is_none() -> None:
    assert tokens.clean_webhook_url("  ") is None
    assert tokens.clean_webhook_url(None) is None
