"""What input may be, checked where it enters, before any actor or query sees it.

SQLite stores an integer in 64 bits and text as UTF-8. A larger id makes the driver raise
``OverflowError``; a lone surrogate, which JSON can carry as ``"\\ud800"``, has no UTF-8
form and makes it raise ``UnicodeEncodeError``. Either would be a crash deep inside a
transaction, so both are refused here, as the refusals the pages know how to show.
"""

from __future__ import annotations

import re

from livechat.errors import BadRequest

# Ids are SQLite rowids: positive, and at most the largest 64-bit signed integer.
MAX_ID = 2**63 - 1

# A Python string holds astral characters as single code points, so any surrogate code
# point in one is a lone surrogate, which has no UTF-8 form. PostgreSQL's text refuses NUL.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_DIGITS = re.compile(r"[0-9]{1,19}")


def is_id(value: int) -> bool:
    return 0 < value <= MAX_ID


def parse_id(value: object) -> int | None:
    """An id sent as a JSON number or as the digits of a form field; None for anything
    else, including ``true``, signs, spaces and numbers out of range."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if is_id(value) else None
    if isinstance(value, str) and _DIGITS.fullmatch(value):
        number = int(value)
        return number if is_id(number) else None
    return None


def is_text(value: str) -> bool:
    """Whether ``value`` can be stored: no lone surrogate, no NUL."""
    return _UNSTORABLE.search(value) is None


def require_text(value: str, refusal: str) -> str:
    if not is_text(value):
        raise BadRequest(refusal)
    return value


def one_line(value: str, *, named: str, max_length: int, empty: str) -> str:
    """``value`` as a name is kept: on one line, each run of whitespace one space. Refused
    in words about what it names (``named``, like "Token names") unless it is storable
    text, and not empty (``empty`` says what to give) nor longer than ``max_length``."""
    line = " ".join(require_text(value, f"{named} must be valid text.").split())
    if not line:
        raise BadRequest(empty)
    if len(line) > max_length:
        raise BadRequest(f"{named} are at most {max_length} characters.")
    return line


def storable(value: str, replacement: str = "") -> str:
    """``value`` with what ``is_text`` refuses replaced."""
    return _UNSTORABLE.sub(replacement, value)
