"""Site admins, and what only they do: make someone an admin, and keep the bots.

A site admin is a person with fastapi-users' ``is_superuser``. The first is made from the
command line (``livechat admin EMAIL``), as there is no one yet to make them on a page.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update

from livechat.accounts.models import ApiToken, User
from livechat.accounts.tokens import WEBHOOK_KEY_BYTES, clean_webhook_url
from livechat.db import Database, utcnow
from livechat.errors import BadRequest, NotFound
from livechat.inputs import is_id, is_text


@dataclass(frozen=True, slots=True)
class BotListing:
    bot: User
    live_tokens: int
    last_used_at: datetime | None  # of any of its tokens, to the minute


async def make_admin(db: Database, email: str) -> tuple[User, bool]:
    """Make the person who signed up as ``email`` a site admin; False if they were one."""
    email = email.strip()
    unknown = NotFound(f"No one has signed up as {email}.")
    if not is_text(email):
        raise unknown
    async with db.write() as session:
        person = await session.scalar(select(User).where(func.lower(User.email) == email.lower()))
        if person is None:
            raise unknown
        if person.is_bot:
            raise BadRequest(f"{email} is a bot; a site admin is a person.")
        if not person.is_active:
            raise BadRequest(f"The account of {email} is closed.")
        made = not person.is_superuser
        person.is_superuser = True
    return person, made


async def list_bots(db: Database) -> list[BotListing]:
    """Every bot, those still active first, by name."""
    live = ApiToken.revoked_at.is_(None)
    async with db.read() as session:
        rows = await session.execute(
            select(
                User,
                func.count(ApiToken.id).filter(live),
                func.max(ApiToken.last_used_at).filter(live),
            )
            .outerjoin(ApiToken, ApiToken.user_id == User.id)
            .where(User.is_bot)
            .group_by(User.id)
            .order_by(User.__table__.c.is_active.desc(), func.lower(User.display_name), User.id)
        )
        return [BotListing(bot, count, used) for bot, count, used in rows.tuples()]


async def find_bot(db: Database, bot_id: int) -> User:
    """The active bot ``bot_id``."""
    async with db.read() as session:
        bot = await session.get(User, bot_id) if is_id(bot_id) else None
    if bot is None or not bot.is_bot or not bot.is_active:
        raise _no_such_bot()
    return bot


async def deactivate_bot(db: Database, bot_id: int) -> User:
    """Stop a bot for good: its account is closed and every token of it revoked, so that
    none comes back to life should the account ever be opened again."""
    async with db.write() as session:
        bot = await session.get(User, bot_id) if is_id(bot_id) else None
        if bot is None or not bot.is_bot or not bot.is_active:
            raise _no_such_bot()
        bot.is_active = False
        await session.execute(
            update(ApiToken)
            .where(ApiToken.user_id == bot.id, ApiToken.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
    return bot


async def set_webhook(db: Database, bot_id: int, url: str | None) -> User:
    """Point an active bot's webhook at ``url``, or at nothing. Each new address gets a
    new signing key, so that whatever listened at the old one cannot sign as livechat to
    the new one; none is kept for no webhook."""
    url = clean_webhook_url(url)
    async with db.write() as session:
        bot = await session.get(User, bot_id) if is_id(bot_id) else None
        if bot is None or not bot.is_bot or not bot.is_active:
            raise _no_such_bot()
        bot.webhook_url = url
        bot.webhook_secret = None if url is None else secrets.token_urlsafe(WEBHOOK_KEY_BYTES)
    return bot


def _no_such_bot() -> NotFound:
    return NotFound("There is no such bot, or it was deactivated already.")
