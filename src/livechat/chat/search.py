"""Full-text search over every message a user may read.

User input never reaches ``MATCH`` as syntax: it is split into words and quoted phrases,
each becomes a double-quoted FTS5 string (so ``AND``, ``NEAR(``, ``body:``, ``*`` and ``-``
are plain text), and only the last bare word is prefix-matched, for search as you type.

Snippets are highlighted with two control characters that message bodies can never contain
(``clean_body`` strips them), then HTML-escaped, and only then are the markers turned into
``<mark>``: a message containing HTML shows as text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from markupsafe import Markup, escape
from sqlalchemy import Integer, String, text

from livechat.accounts.models import User
from livechat.chat.messages import CONTROL_CHARACTERS
from livechat.db import Database, DriverStatement, UTCDateTime
from livechat.errors import BadRequest
from livechat.inputs import is_text, storable

MAX_QUERY_CHARACTERS = 200
MAX_TERMS = 8
PAGE_SIZE = 20
# How deep results go: fifty pages of scrolling. Each page walks the index past the ones
# before it, so a page this deep already costs tens of milliseconds.
MAX_RESULTS = 1000
SNIPPET_TOKENS = 24
_OPEN, _CLOSE = "\x02", "\x03"

# A quoted phrase (closed or still being typed), or a run of anything else but space.
_TOKENS = re.compile(r'"([^"]*)"?|(\S+)')
# What unicode61 treats as part of a word; everything else only separates words.
_WORD = re.compile(r"\w", re.UNICODE)


@dataclass(frozen=True, slots=True)
class SearchResult:
    message_id: int
    room_slug: str
    room_name: str
    author_name: str
    author_id: int
    inserted_at: datetime
    snippet: Markup


def _quote(words: str) -> str:
    return '"' + words.replace('"', '""') + '"'


def to_fts_query(user_input: str) -> str | None:
    """Turn anything a person types into a safe FTS5 query, or None when nothing is left
    to search for. Every term is required; the last one matches as a prefix unless it is
    a quoted phrase."""
    # FTS5 stops reading a query at a NUL, which would leave a quote open; a lone
    # surrogate cannot even be sent to SQLite.
    user_input = CONTROL_CHARACTERS.sub(" ", user_input[:MAX_QUERY_CHARACTERS])
    user_input = storable(user_input, " ")
    terms: list[tuple[str, bool]] = []
    for match in _TOKENS.finditer(user_input):
        phrase, word = match.groups()
        candidate = " ".join((phrase if phrase is not None else word).split())
        if _WORD.search(candidate):
            terms.append((candidate, phrase is not None))
    if not terms:
        return None
    terms = terms[:MAX_TERMS]
    parts = [_quote(term) for term, _ in terms]
    last_term_is_phrase = terms[-1][1]
    if not last_term_is_phrase:
        parts[-1] += "*"
    return " ".join(parts)


def highlight(marked: str) -> Markup:
    escaped = str(escape(marked))
    return Markup(escaped.replace(_OPEN, "<mark>").replace(_CLOSE, "</mark>"))  # noqa: S704


# Newest first, as a conversation reads, so that FTS5 walks its index backwards from the
# newest match and stops once it has the page: a search costs what the page holds, not what
# the history holds. Ranking by bm25 instead would make FTS5 count every row each term
# matches, which for a short prefix over a long history is most of a search's time (10 to
# 30 ms of 12 to 35 at a million messages). Snippets are made only for the rows returned,
# since SQLite skips the offset's rows before it computes a row's columns.
_NEWEST_FIRST = DriverStatement(
    text(
        f"""
SELECT m.id AS message_id, r.slug AS room_slug, r.name AS room_name,
       u.display_name AS author_name, u.id AS author_id, m.inserted_at AS inserted_at,
       snippet(messages_fts, 0, '{_OPEN}', '{_CLOSE}', '…', {SNIPPET_TOKENS}) AS snippet
FROM messages_fts
JOIN messages AS m ON m.id = messages_fts.rowid
JOIN rooms AS r ON r.id = m.room_id
JOIN users AS u ON u.id = m.user_id
WHERE messages_fts MATCH :query
  AND m.deleted_at IS NULL
  AND (r.is_private = 0 OR EXISTS (
        SELECT 1 FROM memberships AS ms WHERE ms.room_id = r.id AND ms.user_id = :user_id))
  AND (:room_slug IS NULL OR r.slug = :room_slug)
ORDER BY messages_fts.rowid DESC
LIMIT :limit OFFSET :offset
"""  # noqa: S608  (the only interpolations are the module's own constants)
    ).columns(
        message_id=Integer,
        room_slug=String,
        room_name=String,
        author_name=String,
        author_id=Integer,
        inserted_at=UTCDateTime,
        snippet=String,
    )
)


async def search_messages(
    db: Database,
    user: User,
    query: str,
    room: str | None = None,
    *,
    limit: int = PAGE_SIZE,
    offset: int = 0,
) -> list[SearchResult]:
    """Messages matching ``query`` in the rooms ``user`` may read (or in the room with slug
    ``room``), newest first, up to the ``MAX_RESULTS``th."""
    if offset < 0:
        raise BadRequest("Results start at the first one.")
    fts_query = to_fts_query(query)
    limit = min(limit, MAX_RESULTS - offset)
    if fts_query is None or limit <= 0 or (room is not None and not is_text(room)):
        return []
    values = {
        "query": fts_query,
        "user_id": user.id,
        "room_slug": room,
        "limit": limit,
        "offset": offset,
    }
    async with db.read_alone() as driver:
        rows = await _NEWEST_FIRST.rows(driver, values)
    return [
        SearchResult(message_id, slug, name, author, author_id, inserted_at, highlight(snippet))
        for message_id, slug, name, author, author_id, inserted_at, snippet in rows
    ]
