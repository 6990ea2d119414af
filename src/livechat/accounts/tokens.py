"""Personal access tokens: how a program acts for someone through the API, and bots.

A token's secret is ``lc_`` and 256 random bits, shown to its owner once. Only its SHA-256
digest is stored: a secret that random needs no slow hash to resist guessing, and a digest
can be looked up by its index, so a token is found in one read without comparing secrets
one by one. The first characters of the secret are kept in the clear for its owner to
recognise it by.

A token reads, or reads and writes, as its owner, in every room its owner may read or in
the few it names; the API checks both on every request, through the one access rule. It
stops working once revoked, and while its owner's account is closed.

A bot is a user that is a program: it acts through its tokens and can never log in, as
its password matches nothing a person could type.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Collection
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from urllib.parse import urlsplit

from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from livechat.accounts.auth import clean_display_name
from livechat.accounts.handles import clean_handle
from livechat.accounts.models import (
    TOKEN_NAME_MAX_LENGTH,
    TOKEN_SHOWN_LENGTH,
    WEBHOOK_URL_MAX_LENGTH,
    ApiToken,
    User,
)
from livechat.db import Database, DriverStatement, utcnow
from livechat.errors import BadRequest
from livechat.inputs import is_id, is_text, one_line

TOKEN_PREFIX = "lc_"  # noqa: S105  (what every secret starts with, not one)
SECRET_BYTES = 32
WEBHOOK_KEY_BYTES = 32  # the key a bot's webhook calls are signed with
# What token_urlsafe(SECRET_BYTES) makes; anything else is refused before any lookup.
_SECRET = re.compile(rf"{TOKEN_PREFIX}[A-Za-z0-9_-]{{43}}")
# When a token was last used is for its owner to see, to the minute: a bot making many
# requests a second must not make as many writes.
LAST_USED_EVERY = timedelta(minutes=1)
# Bounds on what one person keeps: each token is a row of their profile page.
MAX_LIVE_TOKENS = 50
MAX_TOKEN_ROOMS = 100
# Bots have no mailbox, but the users table wants a unique email: an address in a domain
# that can never exist (RFC 2606), unique as the handle in it is.
BOT_EMAIL_DOMAIN = "bots.invalid"
# Argon2 hashes start with "$", so no password ever matches this; Django marks unusable
# passwords the same way.
UNUSABLE_PASSWORD_MARK = "!"  # noqa: S105  (a mark, not a password)
BOT_TOKEN_NAME = "Made with the bot"  # noqa: S105  (a label)


class Scope(StrEnum):
    READ = "read"
    WRITE = "write"  # implies read


@dataclass(frozen=True, slots=True)
class Grant:
    """What a request made with a live token may do, and for whom."""

    user: User  # the token's owner, active
    token_id: int
    scope: Scope
    room_ids: frozenset[int] | None  # None: every room the owner may read

    @property
    def can_write(self) -> bool:
        return self.scope is Scope.WRITE

    def reaches(self, room_id: int) -> bool:
        """Whether the token names the room, or names none. Whether its owner may read
        the room is for the access rule to say."""
        return self.room_ids is None or room_id in self.room_ids


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def scope_named(text: str) -> Scope:
    """The scope a form field names."""
    try:
        return Scope(text)
    except ValueError:
        raise BadRequest("Choose whether the token may only read, or read and write.") from None


def clean_token_name(name: str) -> str:
    return one_line(
        name,
        named="Token names",
        max_length=TOKEN_NAME_MAX_LENGTH,
        empty="Name the token after what will use it, like “Deploy bot”.",
    )


def clean_webhook_url(url: str | None) -> str | None:
    """An http or https URL, or None for none. Where it may point is checked when it is
    called, not here."""
    url = (url or "").strip()
    if not url:
        return None
    refusal = BadRequest(
        "A webhook is an http:// or https:// address, like https://example.com/hook."
    )
    if len(url) > WEBHOOK_URL_MAX_LENGTH:
        raise BadRequest(f"Webhook addresses are at most {WEBHOOK_URL_MAX_LENGTH} characters.")
    if not is_text(url) or any(character.isspace() for character in url):
        raise refusal
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        raise refusal from None
    if parts.scheme.lower() not in {"http", "https"} or not host:
        raise refusal
    return url


async def issue_token(
    db: Database,
    user: User,
    *,
    name: str,
    scope: Scope,
    room_ids: Collection[int] | None = None,
) -> tuple[ApiToken, str]:
    """A new token of ``user``'s, and its secret, which is not stored and cannot be shown
    again. ``room_ids`` limits it to those rooms: that ``user`` may read each is for
    ``chat.grants.issue_token`` to check, which pages that name rooms call instead."""
    name = clean_token_name(name)
    rooms = None if room_ids is None else clean_room_ids(room_ids)
    async with db.write() as session:
        live = await session.scalar(
            select(func.count(ApiToken.id)).where(
                ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None)
            )
        )
        if (live or 0) >= MAX_LIVE_TOKENS:
            raise BadRequest(
                f"You have {MAX_LIVE_TOKENS} tokens already; revoke one you no longer use."
            )
        return await _new_token(session, user.id, name=name, scope=scope, room_ids=rooms)


def clean_room_ids(room_ids: Collection[int]) -> list[int]:
    """``room_ids`` as a token keeps them: sorted, once each, and a few."""
    rooms = sorted(set(room_ids))
    if not rooms:
        raise BadRequest("Choose the rooms the token may reach, or none for all your rooms.")
    if len(rooms) > MAX_TOKEN_ROOMS:
        raise BadRequest(
            f"A token names at most {MAX_TOKEN_ROOMS} rooms; choose none for all your rooms."
        )
    if not all(is_id(room_id) for room_id in rooms):
        raise rooms_not_readable()
    return rooms


def rooms_not_readable() -> BadRequest:
    # The same words for a private room and for no room at all.
    return BadRequest("A token can only reach rooms you can read; choose from your rooms.")


async def _new_token(
    session: AsyncSession, user_id: int, *, name: str, scope: Scope, room_ids: list[int] | None
) -> tuple[ApiToken, str]:
    secret = TOKEN_PREFIX + secrets.token_urlsafe(SECRET_BYTES)
    token = ApiToken(
        user_id=user_id,
        name=name,
        prefix=secret[:TOKEN_SHOWN_LENGTH],
        secret_hash=digest(secret),
        scope=scope.value,
        room_ids=room_ids,
        inserted_at=utcnow(),
    )
    session.add(token)
    await session.flush()
    return token, secret


_users = User.__table__.c
# Built once: every API request runs it. The token's columns are labelled apart from the
# user's, whose row makes the ``User``.
_GRANT = DriverStatement(
    select(
        User,
        ApiToken.id.label("token_id"),
        ApiToken.scope.label("token_scope"),
        ApiToken.room_ids.label("token_room_ids"),
        ApiToken.last_used_at.label("token_last_used_at"),
    )
    .join(ApiToken, ApiToken.user_id == User.id)
    .where(
        ApiToken.secret_hash == bindparam("digest"),
        ApiToken.revoked_at.is_(None),
        _users.is_active,
    )
)
_MARK_USED = DriverStatement(
    update(ApiToken)
    .where(
        ApiToken.id == bindparam("token_id"),
        or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at < bindparam("stale")),
    )
    .values(last_used_at=bindparam("used_at"))
)


async def authenticate(db: Database, secret: str) -> Grant | None:
    """What ``secret`` grants; None for a malformed, unknown or revoked token, or one
    whose owner's account is closed. Marks the token used, at most once a minute."""
    if not _SECRET.fullmatch(secret):
        return None
    async with db.read_alone() as driver:
        rows = await _GRANT.rows(driver, {"digest": digest(secret)})
    if not rows:
        return None
    found = dict(zip(_GRANT.keys, rows[0], strict=True))
    token_id: int = found.pop("token_id")
    scope = Scope(found.pop("token_scope"))
    room_ids: list[int] | None = found.pop("token_room_ids")
    last_used_at = found.pop("token_last_used_at")
    now = utcnow()
    stale = now - LAST_USED_EVERY
    if last_used_at is None or last_used_at < stale:
        # Guarded again in the statement: requests of one token that arrive together,
        # in this process or another, change the row once.
        async with db.write_alone() as driver:
            await _MARK_USED.rows(driver, {"token_id": token_id, "stale": stale, "used_at": now})
    return Grant(
        # Detached from any session, as the session lookup's user is.
        user=User(**found),
        token_id=token_id,
        scope=scope,
        room_ids=None if room_ids is None else frozenset(room_ids),
    )


async def is_live(db: Database, token_id: int) -> bool:
    """Whether token ``token_id`` still opens the API: not revoked, its owner's account
    open. For what outlasts the request that authenticated it, as an event stream does."""
    async with db.read() as session:
        found = await session.scalar(
            select(ApiToken.id)
            .join(User, User.id == ApiToken.user_id)
            .where(ApiToken.id == token_id, ApiToken.revoked_at.is_(None), _users.is_active)
        )
    return found is not None


async def revoke_token(db: Database, user_id: int, token_id: int) -> bool:
    """Revoke one of ``user_id``'s own tokens; True if it was live until now. A token of
    someone else's, or none, is left as it is, and answered as one already revoked."""
    if not is_id(token_id):
        return False
    async with db.write() as session:
        revoked = await session.scalar(
            update(ApiToken)
            .where(
                ApiToken.id == token_id,
                ApiToken.user_id == user_id,
                ApiToken.revoked_at.is_(None),
            )
            .values(revoked_at=utcnow())
            .returning(ApiToken.id)
        )
    return revoked is not None


async def tokens_of(db: Database, user_id: int) -> list[ApiToken]:
    """``user_id``'s live tokens, newest first."""
    async with db.read() as session:
        return list(
            await session.scalars(
                select(ApiToken)
                .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
                .order_by(ApiToken.id.desc())
            )
        )


async def create_bot(
    db: Database, *, name: str, handle: str, webhook_url: str | None
) -> tuple[User, str]:
    """A bot, and the secret of its first token, which reads and writes. With a webhook,
    it gets a key its webhook calls are signed with (``webhook_secret``)."""
    if not name.strip():
        raise BadRequest("A bot needs a name, shown on its messages.")
    name, handle = clean_display_name(name), clean_handle(handle)
    webhook_url = clean_webhook_url(webhook_url)
    email = f"bot-{handle}@{BOT_EMAIL_DOMAIN}"
    async with db.write() as session:
        taken = await session.scalar(
            select(User.id).where(or_(User.handle == handle, func.lower(User.email) == email))
        )
        if taken is not None:
            raise BadRequest(f"@{handle} is taken; try another.")
        bot = User(
            email=email,
            hashed_password=UNUSABLE_PASSWORD_MARK + secrets.token_hex(16),
            display_name=name,
            handle=handle,
            is_bot=True,
            webhook_url=webhook_url,
            webhook_secret=None
            if webhook_url is None
            else secrets.token_urlsafe(WEBHOOK_KEY_BYTES),
        )
        session.add(bot)
        await session.flush()
        _, secret = await _new_token(
            session, bot.id, name=BOT_TOKEN_NAME, scope=Scope.WRITE, room_ids=None
        )
    return bot, secret
