"""Handles: the unique name each person is @mentioned by.

A handle is typed after an ``@`` in the middle of a sentence, so it is short, ASCII and
free of spaces and case: "@Alice" and "alice" name the same person, stored as ``alice``.
A few words are kept back for mentioning a whole group at once.
"""

from __future__ import annotations

import re
import unicodedata

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from livechat.accounts.models import HANDLE_MAX_LENGTH, User
from livechat.errors import BadRequest

HANDLE_MIN_LENGTH = 2
# What a handle made from a name keeps free for the number that tells namesakes apart:
# room for 9,999 of them.
SUFFIX_ROOM = 4
RESERVED_HANDLES = frozenset({"all", "everyone", "here", "channel"})
# For a name with too little ASCII in it to make a handle of ("李", "Ω").
FALLBACK_HANDLE = "user"

# Spelled out rather than matched case-insensitively: Python's IGNORECASE lets the Kelvin
# sign pass for a "k" and the long s for an "s".
_TYPED = re.compile(rf"[A-Za-z0-9_]{{{HANDLE_MIN_LENGTH},{HANDLE_MAX_LENGTH}}}")
_NOT_IN_A_HANDLE = re.compile(r"[^a-z0-9]+")


def clean_handle(text: str) -> str:
    """The handle ``text`` asks for, as stored; typed with or without its ``@``."""
    handle = text.strip().removeprefix("@")
    if not _TYPED.fullmatch(handle):
        raise BadRequest(
            f"Handles are {HANDLE_MIN_LENGTH} to {HANDLE_MAX_LENGTH} letters, digits or"
            " underscores, like @mary_jane."
        )
    handle = handle.lower()
    if handle in RESERVED_HANDLES:
        raise BadRequest(f"@{handle} is kept for mentioning a whole group; try another.")
    return handle


def handle_from_name(display_name: str) -> str:
    """A handle to offer someone called ``display_name``, before it is made unique:
    "Mary-Jane O'Neil" becomes ``mary_jane_o_neil``."""
    ascii_name = unicodedata.normalize("NFKD", display_name).encode("ascii", "ignore").decode()
    words = _NOT_IN_A_HANDLE.sub("_", ascii_name.lower()).strip("_")
    base = words[: HANDLE_MAX_LENGTH - SUFFIX_ROOM].rstrip("_")
    if len(base) < HANDLE_MIN_LENGTH or base in RESERVED_HANDLES:
        return FALLBACK_HANDLE
    return base


async def free_handle(session: AsyncSession, base: str, user_id: int | None = None) -> str:
    """``base`` if nobody has it, else the first of ``base2``, ``base3``… that nobody
    has. ``base`` is one ``handle_from_name`` made, with room for the number. The person
    ``user_id`` may take back their own handle."""
    similar = select(User.handle).where(User.handle.startswith(base, autoescape=True))
    if user_id is not None:
        similar = similar.where(User.id != user_id)
    taken = set(await session.scalars(similar))
    handle, suffix = base, 2
    while handle in taken:
        handle, suffix = f"{base}{suffix}", suffix + 1
    return handle
