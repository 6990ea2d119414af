"""People and their sessions."""

from __future__ import annotations

from datetime import datetime

from fastapi_users_db_sqlalchemy import SQLAlchemyBaseUserTable
from fastapi_users_db_sqlalchemy.access_token import SQLAlchemyBaseAccessTokenTable
from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from livechat.db import Base, UTCDateTime, utcnow
from livechat.time_zones import NAME_MAX_LENGTH

DISPLAY_NAME_MAX_LENGTH = 40
HANDLE_MAX_LENGTH = 30


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


class AccessToken(SQLAlchemyBaseAccessTokenTable[int], Base):
    """A signed-in browser: the session cookie carries ``token``."""

    __tablename__ = "access_tokens"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
