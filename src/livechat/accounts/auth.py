"""Signing up, signing in and out, and editing an account, on fastapi-users.

fastapi-users provides the pieces: the user and access-token database adapters, the
database token strategy (a session is a row in ``access_tokens``, deleted on log-out), the
cookie transport and argon2 hashing. Only the session lookup that every request makes is a
query of our own, one where the strategy would take two, and it runs on the driver in one
trip to its thread. Argon2 deliberately costs tens of milliseconds of CPU, so hashing and
verifying run in a worker thread, never on the event loop and never while holding the
database's write lock.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from datetime import timedelta
from pathlib import Path

from fastapi import Response
from fastapi.responses import RedirectResponse
from fastapi_users.authentication import AuthenticationBackend, CookieTransport
from fastapi_users.authentication.strategy.db import DatabaseStrategy
from fastapi_users.password import PasswordHelper
from fastapi_users_db_sqlalchemy import SQLAlchemyUserDatabase
from fastapi_users_db_sqlalchemy.access_token import SQLAlchemyAccessTokenDatabase
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy import bindparam, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from livechat import files
from livechat.accounts.avatars import process_avatar
from livechat.accounts.handles import clean_handle, free_handle, handle_from_name
from livechat.accounts.models import DISPLAY_NAME_MAX_LENGTH, AccessToken, User
from livechat.db import Database, DriverStatement, utcnow
from livechat.errors import BadRequest, Conflict
from livechat.inputs import is_text, one_line, require_text
from livechat.settings import Environment, Settings
from livechat.time_zones import zone_named

SESSION_COOKIE = "livechat_session"
PASSWORD_MIN_LENGTH = 10
PASSWORD_MAX_LENGTH = 128  # argon2 takes any length; this only bounds the work per request
EMAIL_MAX_LENGTH = 320

# A short list of the passwords attackers try first; length rules alone let them through.
COMMON_PASSWORDS = frozenset(
    {
        "1234567890",
        "0123456789",
        "password123",
        "password1234",
        "qwertyuiop",
        "iloveyou123",
        "letmein1234",
        "welcome123",
        "abc1234567",
        "1q2w3e4r5t",
    }
)

# The base classes type their columns as plain values; the tables have the real ones.
_tokens, _users = AccessToken.__table__.c, User.__table__.c
# Built once: every request runs it, and building a statement costs more than running it.
_SESSION_USER = DriverStatement(
    select(User)
    .join(AccessToken, _tokens.user_id == User.id)
    .where(
        _tokens.token == bindparam("token"),
        _tokens.created_at >= bindparam("oldest"),
        _users.is_active,
    )
)


def session_id(token: str) -> str:
    """A name for the session a token opens, safe to pass around where the token is not:
    revocations name sessions on the hub by it."""
    return hashlib.sha256(token.encode()).hexdigest()[:32]


def check_password(password: str, email: str) -> None:
    require_text(password, "Passwords must be valid text.")
    problem = _password_problem(password, email)
    if problem is not None:
        raise BadRequest(problem)


def _password_problem(password: str, email: str) -> str | None:
    if len(password) < PASSWORD_MIN_LENGTH:
        return f"Passwords need at least {PASSWORD_MIN_LENGTH} characters."
    if len(password) > PASSWORD_MAX_LENGTH:
        return f"Passwords are at most {PASSWORD_MAX_LENGTH} characters."
    if password.lower() in COMMON_PASSWORDS or len(set(password)) < 4:
        return "That password is too easy to guess; try a few unrelated words."
    local_part = email.partition("@")[0].lower()
    if len(local_part) >= 4 and local_part in password.lower():
        return "Your password must not contain your email address."
    return None


def clean_display_name(display_name: str) -> str:
    return one_line(
        display_name,
        named="Display names",
        max_length=DISPLAY_NAME_MAX_LENGTH,
        empty="Tell us what to call you.",
    )


def clean_email(email: str) -> str:
    email = email.strip()
    local, at, domain = email.rpartition("@")
    well_formed = at and local and "." in domain and " " not in email and is_text(email)
    if not well_formed or len(email) > EMAIL_MAX_LENGTH:
        raise BadRequest("Enter an email address like name@example.com.")
    return email.lower()


class PageCookieTransport(CookieTransport):
    """The cookie transport, answering the HTML forms with redirects instead of 204s."""

    async def get_login_response(self, token: str) -> Response:
        return self._set_login_cookie(RedirectResponse("/rooms", status_code=303), token)

    async def get_logout_response(self) -> Response:
        return self._set_logout_cookie(RedirectResponse("/users/log_in", status_code=303))


class Accounts:
    """The account operations the pages call; each opens the transaction it needs."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self._db = db
        self._lifetime = settings.session_lifetime_seconds
        self.transport = PageCookieTransport(
            cookie_name=SESSION_COOKIE,
            cookie_max_age=settings.session_lifetime_seconds,
            cookie_secure=settings.cookie_secure,
            cookie_httponly=True,
            cookie_samesite="lax",
        )
        self.backend: AuthenticationBackend[User, int] = AuthenticationBackend(
            name="session", transport=self.transport, get_strategy=self._strategy
        )
        self.passwords = _password_helper(settings.env)

    def _strategy(self, session: AsyncSession) -> DatabaseStrategy[User, int, AccessToken]:
        return DatabaseStrategy(SQLAlchemyAccessTokenDatabase(session, AccessToken), self._lifetime)

    @staticmethod
    def _users(session: AsyncSession) -> SQLAlchemyUserDatabase[User, int]:
        return SQLAlchemyUserDatabase(session, User)

    async def user_for_token(self, token: str | None) -> User | None:
        """The active user a session cookie belongs to, if it is still valid."""
        if not token:
            return None
        oldest = utcnow() - timedelta(seconds=self._lifetime)
        async with self._db.read_alone() as driver:
            rows = await _SESSION_USER.rows(driver, {"token": token, "oldest": oldest})
        # Detached from any session, as a session's would be once it closed: writes load
        # the account afresh.
        return User(**dict(zip(_SESSION_USER.keys, rows[0], strict=True))) if rows else None

    async def register(
        self, *, email: str, password: str, display_name: str, handle: str = ""
    ) -> Response:
        """Create an account and sign it in; the response sets the session cookie. An
        empty ``handle`` is made from the display name, numbered if someone has it."""
        email, display_name = clean_email(email), clean_display_name(display_name)
        chosen = clean_handle(handle) if handle.strip() else None
        check_password(password, email)
        async with self._db.read() as session:
            await _require_free(session, email, chosen)
        hashed = await asyncio.to_thread(self.passwords.hash, password)
        details = {"email": email, "hashed_password": hashed, "display_name": display_name}
        try:
            return await self._create(details, chosen)
        except Conflict:
            # Where writers run side by side (PostgreSQL), someone else may have signed up
            # with this email or handle since the check in ``_create``, and the unique
            # constraint refused this account. Checked again, the refusal says which; a
            # handle made from the name is made afresh.
            async with self._db.read() as session:
                await _require_free(session, email, chosen)
            return await self._create(details, chosen)

    async def _create(self, details: dict[str, str], chosen: str | None) -> Response:
        async with self._db.write() as session:
            await _require_free(session, details["email"], chosen)
            handle = chosen or await free_handle(session, handle_from_name(details["display_name"]))
            user = await self._users(session).create({**details, "handle": handle})
            return await self.backend.login(self._strategy(session), user)

    async def authenticate(self, email: str, password: str) -> User | None:
        if not (is_text(email) and is_text(password)):
            return None
        async with self._db.read() as session:
            user = await self._users(session).get_by_email(email.strip())
        if user is None or user.is_bot:
            # Hash anyway, so a wrong email takes as long as a wrong password. A bot's
            # password is no hash to verify: it never logs in (``accounts/tokens.py``).
            await asyncio.to_thread(self.passwords.hash, password)
            return None
        verified, new_hash = await asyncio.to_thread(
            self.passwords.verify_and_update, password, user.hashed_password
        )
        if not verified or not user.is_active:
            return None
        if new_hash is not None:
            async with self._db.write() as session:
                await self._users(session).update(user, {"hashed_password": new_hash})
        return user

    async def log_in(self, user: User) -> Response:
        async with self._db.write() as session:
            return await self.backend.login(self._strategy(session), user)

    async def log_out(self, user: User, token: str) -> Response:
        async with self._db.write() as session:
            return await self.backend.logout(self._strategy(session), user, token)

    async def update_profile(
        self, user: User, *, display_name: str, email: str, handle: str = "", time_zone: str = ""
    ) -> User:
        """Change how someone appears and where they are: ``time_zone`` is an IANA name,
        or empty to follow their browser's. An empty ``handle`` keeps the one they have,
        which mentions already written name them by."""
        display_name, email = clean_display_name(display_name), clean_email(email)
        handle = clean_handle(handle) if handle.strip() else user.handle
        if time_zone and zone_named(time_zone) is None:
            raise BadRequest("Choose a time zone from the list.")
        changes = {
            "display_name": display_name,
            "email": email,
            "handle": handle,
            "time_zone": time_zone or None,
        }
        try:
            async with self._db.write() as session:
                await _require_free(session, email, handle, owner=user.id)
                stored = await self._users(session).get(user.id)
                assert stored is not None
                return await self._users(session).update(stored, changes)
        except Conflict:
            # Taken meanwhile, as when registering: the refusal says what was.
            async with self._db.read() as session:
                await _require_free(session, email, handle, owner=user.id)
            raise

    async def change_avatar(self, user: User, data: bytes, uploads_dir: Path) -> User:
        """Make ``data`` the user's avatar: processed, stored under a new random name, the
        old picture deleted."""
        picture = await asyncio.to_thread(process_avatar, data)
        name = f"{secrets.token_hex(16)}.webp"
        folder = uploads_dir / "avatars"
        await files.write_file(folder / name, picture)
        async with self._db.write() as session:
            stored = await session.get(User, user.id)
            assert stored is not None
            previous = stored.avatar_url
            stored.avatar_url = f"/avatars/{name}"
        if previous and previous.startswith("/avatars/"):
            await files.remove_files([folder / previous.removeprefix("/avatars/")])
        return stored

    async def change_password(
        self, user: User, *, current: str, new: str, keep_session: str
    ) -> None:
        """Change the password and sign out every other session, which may be the one the
        password change is meant to lock out."""
        if await self.authenticate(user.email, current) is None:
            raise BadRequest("Your current password is not right.")
        check_password(new, user.email)
        hashed = await asyncio.to_thread(self.passwords.hash, new)
        async with self._db.write() as session:
            stored = await session.get(User, user.id)
            assert stored is not None
            stored.hashed_password = hashed
            # The base class types its columns as plain values; the table has the real ones.
            tokens = AccessToken.__table__.c
            await session.execute(
                delete(AccessToken).where(tokens.user_id == user.id, tokens.token != keep_session)
            )

    async def deactivate(self, user: User, *, password: str) -> None:
        """Close the account: it can no longer sign in, and every session ends. Its messages
        stay, under its name, as a colleague's do after they leave."""
        if await self.authenticate(user.email, password) is None:
            raise BadRequest("That password is not right.")
        async with self._db.write() as session:
            stored = await session.get(User, user.id)
            assert stored is not None
            stored.is_active = False
            tokens = AccessToken.__table__.c
            await session.execute(delete(AccessToken).where(tokens.user_id == user.id))


def _email_taken(email: str) -> BadRequest:
    return BadRequest(f"An account for {email} already exists. Log in instead?")


async def _require_free(
    session: AsyncSession, email: str, handle: str | None, owner: int | None = None
) -> None:
    """Refuse an email or a handle that someone other than ``owner`` has, closed accounts
    included: a closed account's handle stays its own, so that the mentions of it in old
    messages never come to name someone else."""
    holder = await SQLAlchemyUserDatabase(session, User).get_by_email(email)
    if holder is not None and holder.id != owner:
        raise _email_taken(email)
    if handle is None:
        return
    holder_id = await session.scalar(select(User.id).where(User.handle == handle))
    if holder_id is not None and holder_id != owner:
        raise _handle_taken(handle)


def _handle_taken(handle: str) -> BadRequest:
    return BadRequest(f"@{handle} is taken; try another.")


def _password_helper(env: Environment) -> PasswordHelper:
    if env is Environment.TEST:
        # The suite signs up hundreds of people; full-strength argon2 would add minutes.
        return PasswordHelper(
            PasswordHash((Argon2Hasher(time_cost=1, memory_cost=8, parallelism=1),))
        )
    return PasswordHelper()
