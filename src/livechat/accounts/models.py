"""People, their sessions, and the tokens programs act for them with."""

from __future__ import annotations

from datetime import datetime

from fastapi_users_db_sqlalchemy import SQLAlchemyBaseUserTable
from fastapi_users_db_sqlalchemy.access_token import SQLAlchemyBaseAccessTokenTable
from sqlalchemy import JSON, Boolean, CheckConstraint, ForeignKey, String, false
from sqlalchemy.orm import Mapped, mapped_column

from livechat.db import Base, UTCDateTime, utcnow
from livechat.time_zones import NAME_MAX_LENGTH

DISPLAY_NAME_MAX_LENGTH = 40
HANDLE_MAX_LENGTH = 30
WEBHOOK_URL_MAX_LENGTH = 2000
WEBHOOK_SECRET_MAX_LENGTH = 64
TOKEN_NAME_MAX_LENGTH = 80
# How much of a token's secret is kept in the clear, for its owner to tell it from their
# others: the "lc_" every secret starts with and seven characters of the random part.
TOKEN_SHOWN_LENGTH = 10
SHA256_HEX_LENGTH = 64


class User(SQLAlchemyBaseUserTable[int], Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    display_name: Mapped[str] = mapped_column(String(DISPLAY_NAME_MAX_LENGTH))
    # How others @mention the person: unique, and lowercase as ``accounts.handles`` makes it.
    handle: Mapped[str] = mapped_column(String(HANDLE_MAX_LENGTH), unique=True)
    avatar_url: Mapped[str | None] = mapped_column(String(255), default=None)
    # An IANA name; None follows the zone the person's browser reports.
    time_zone: Mapped[str | None] = mapped_column(String(NAME_MAX_LENGTH), default=None)
    inserted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # A program rather than a person: it acts through API tokens and never logs in.
    is_bot: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Where a bot is told what happens in its rooms, and the key those calls are signed
    # with: kept as it is, since signing needs it, not a digest of it.
    webhook_url: Mapped[str | None] = mapped_column(String(WEBHOOK_URL_MAX_LENGTH), default=None)
    webhook_secret: Mapped[str | None] = mapped_column(
        String(WEBHOOK_SECRET_MAX_LENGTH), default=None
    )


class AccessToken(SQLAlchemyBaseAccessTokenTable[int], Base):
    """A signed-in browser: the session cookie carries ``token``."""

    __tablename__ = "access_tokens"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)


class ApiToken(Base):
    """A personal access token: what a program sends as ``Authorization: Bearer`` to act
    for its owner (``accounts/tokens.py``). Only a digest of the secret is stored, so a
    copy of the database opens no one's account."""

    __tablename__ = "api_tokens"
    __table_args__ = (CheckConstraint("scope IN ('read', 'write')", name="scope"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # What it is for, in its owner's words.
    name: Mapped[str] = mapped_column(String(TOKEN_NAME_MAX_LENGTH))
    prefix: Mapped[str] = mapped_column(String(TOKEN_SHOWN_LENGTH))
    secret_hash: Mapped[str] = mapped_column(String(SHA256_HEX_LENGTH), unique=True, index=True)
    scope: Mapped[str] = mapped_column(String(8))
    # The rooms it reaches, by id; None reaches every room its owner may read.
    room_ids: Mapped[list[int] | None] = mapped_column(JSON(none_as_null=True), default=None)
    inserted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
