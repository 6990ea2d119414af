"""Full-text search over the messages a user may read.

User input never reaches ``MATCH`` as syntax: it is split into words and quoted phrases,
each becomes a double-quoted FTS5 string (so ``AND``, ``NEAR(``, ``body:``, ``*`` and ``-``
are plain text), and only the last bare word is prefix-matched, for search as you type.
On PostgreSQL the same terms become a ``tsquery`` of quoted lexemes, letters and digits
only, a phrase's words joined by ``<->``, the last bare word's marked ``:*``.

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
# What PostgreSQL's index splits a message on (migration 0002): anything but letters and
# digits.
_NOT_IN_WORDS = re.compile(r"[\W_]+", re.UNICODE)


@dataclass(frozen=True, slots=True)
class SearchResult:
    message_id: int
    room_id: int
    room_slug: str
    room_name: str
    author_name: str
    author_id: int
    inserted_at: datetime
    snippet: Markup


def _quote(words: str) -> str:
    return '"' + words.replace('"', '""') + '"'


def _terms(user_input: str) -> list[tuple[str, bool]]:
    """The words and quoted phrases of ``user_input``, each with whether it is a phrase."""
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
    return terms[:MAX_TERMS]


def to_fts_query(user_input: str) -> str | None:
    """Turn anything a person types into a safe FTS5 query, or None when nothing is left
    to search for. Every term is required; the last one matches as a prefix unless it is
    a quoted phrase."""
    terms = _terms(user_input)
    if not terms:
        return None
    parts = [_quote(term) for term, _ in terms]
    last_term_is_phrase = terms[-1][1]
    if not last_term_is_phrase:
        parts[-1] += "*"
    return " ".join(parts)


def to_tsquery(user_input: str) -> str | None:
    """The same query for PostgreSQL's ``to_tsquery``: each term's words, split as its
    index splits them, quoted as lexemes, so nothing of the input is read as an operator."""
    parts, last_is_phrase = [], False
    for term, is_phrase in _terms(user_input):
        words = [word for word in _NOT_IN_WORDS.split(term) if word]
        if words:
            parts.append(" <-> ".join(f"'{word}'" for word in words))
            last_is_phrase = is_phrase
    if not parts:
        return None
    if not last_is_phrase:
        parts[-1] += ":*"
    return " & ".join(f"({part})" for part in parts)


def highlight(marked: str) -> Markup:
    escaped = str(escape(marked))
    return Markup(escaped.replace(_OPEN, "<mark>").replace(_CLOSE, "</mark>"))  # noqa: S704


# Newest first, as a conversation reads, so that FTS5 walks its index backwards from the
# newest match and stops once it has the page: a search costs what the page holds, not what
# the history holds. Ranking by bm25 instead would make FTS5 count every row each term
# matches, which for a short prefix over a long history is most of a search's time (10 to
# 30 ms of 12 to 35 at a million messages). Snippets are made only for the rows returned,
# since SQLite skips the offset's rows before it computes a row's columns.
_COLUMNS = {
    "message_id": Integer,
    "room_id": Integer,
    "room_slug": String,
    "room_name": String,
    "author_name": String,
    "author_id": Integer,
    "inserted_at": UTCDateTime,
    "snippet": String,
}
_SQLITE = text(
    f"""
SELECT m.id AS message_id, r.id AS room_id, r.slug AS room_slug, r.name AS room_name,
       u.display_name AS author_name, u.id AS author_id, m.inserted_at AS inserted_at,
       snippet(messages_fts, 0, '{_OPEN}', '{_CLOSE}', '…', {SNIPPET_TOKENS}) AS snippet
FROM messages_fts
JOIN messages AS m ON m.id = messages_fts.rowid
JOIN rooms AS r ON r.id = m.room_id
JOIN users AS u ON u.id = m.user_id
WHERE messages_fts MATCH :query
  AND m.deleted_at IS NULL
  AND ((:public_rooms AND r.is_private = 0) OR EXISTS (
        SELECT 1 FROM memberships AS ms WHERE ms.room_id = r.id AND ms.user_id = :user_id))
  AND (:room_slug IS NULL OR r.slug = :room_slug)
ORDER BY messages_fts.rowid DESC
LIMIT :limit OFFSET :offset
"""  # noqa: S608  (the only interpolations are the module's own constants)
).columns(**_COLUMNS)
# PostgreSQL walks the GIN index, or the newest messages backwards, whichever its
# statistics say is cheaper, and makes headlines for the page's rows alone. ts_headline
# would drop what looks like a tag or an entity, so ``<`` and ``&`` stand aside as control
# characters, which no message holds, while it reads the body. It shows no cut, and leaves
# out what comes before the first word and after the last: what it left out is put back
# where that is only punctuation, and an ellipsis where it holds words, as FTS5 does.
_POSTGRESQL = text(
    f"""
SELECT page.id AS message_id, r.id AS room_id, r.slug AS room_slug, r.name AS room_name,
       u.display_name AS author_name, u.id AS author_id, page.inserted_at AS inserted_at,
       replace(replace(
           CASE WHEN shown.lead ~ '[[:alnum:]]' THEN '…' ELSE shown.lead END
             || shown.marked
             || CASE WHEN shown.tail ~ '[[:alnum:]]' THEN '…' ELSE shown.tail END,
           chr(1), '<'), chr(4), '&') AS snippet
FROM (
    SELECT m.id, m.room_id, m.user_id, m.inserted_at,
           replace(replace(m.body, '<', chr(1)), '&', chr(4)) AS text
    FROM messages AS m
    JOIN rooms AS r ON r.id = m.room_id
    WHERE m.search_vector @@ to_tsquery('livechat_search'::regconfig, :query)
      AND m.deleted_at IS NULL
      AND ((CAST(:public_rooms AS BOOLEAN) AND NOT r.is_private) OR EXISTS (
            SELECT 1 FROM memberships AS ms WHERE ms.room_id = r.id AND ms.user_id = :user_id))
      AND (CAST(:room_slug AS TEXT) IS NULL OR r.slug = CAST(:room_slug AS TEXT))
    ORDER BY m.id DESC
    LIMIT :limit OFFSET :offset
) AS page
CROSS JOIN LATERAL (
    SELECT headline.marked,
           substr(page.text, 1, greatest(found.at - 1, 0)) AS lead,
           CASE WHEN found.at = 0 THEN ''
                ELSE substr(page.text, found.at + length(headline.plain)) END AS tail
    FROM (
        SELECT marked, replace(replace(marked, chr(2), ''), chr(3), '') AS plain
        FROM ts_headline(
            'livechat_search'::regconfig,
            page.text,
            to_tsquery('livechat_search'::regconfig, :query),
            'StartSel=' || chr(2) || ', StopSel=' || chr(3)
              || ', MaxWords={SNIPPET_TOKENS}, MinWords=8, ShortWord=0, MaxFragments=1'
        ) AS marked
    ) AS headline
    CROSS JOIN LATERAL (SELECT strpos(page.text, headline.plain) AS at) AS found
) AS shown
JOIN rooms AS r ON r.id = page.room_id
JOIN users AS u ON u.id = page.user_id
ORDER BY page.id DESC
"""  # noqa: S608  (the only interpolation is the module's own constant)
).columns(**_COLUMNS)
_NEWEST_FIRST = DriverStatement(_SQLITE, postgresql=_POSTGRESQL)


async def search_messages(
    db: Database,
    user: User,
    query: str,
    room: str | None = None,
    *,
    public_rooms: bool = False,
    limit: int = PAGE_SIZE,
    offset: int = 0,
) -> list[SearchResult]:
    """Messages matching ``query`` in the rooms ``user`` is a member of, and in every
    public room too with ``public_rooms``, or in the one room with slug ``room`` if they
    may read it; newest first, up to the ``MAX_RESULTS``th."""
    if offset < 0:
        raise BadRequest("Results start at the first one.")
    parsed = to_tsquery(query) if db.dialect == "postgresql" else to_fts_query(query)
    limit = min(limit, MAX_RESULTS - offset)
    if parsed is None or limit <= 0 or (room is not None and not is_text(room)):
        return []
    values = {
        "query": parsed,
        "user_id": user.id,
        "room_slug": room,
        # One room is searched wherever its reader may read it, member or not.
        "public_rooms": public_rooms or room is not None,
        "limit": limit,
        "offset": offset,
    }
    async with db.read_alone() as driver:
        rows = await _NEWEST_FIRST.rows(driver, values)
    return [
        SearchResult(message_id, room_id, slug, name, author, author_id, at, highlight(snippet))
        for message_id, room_id, slug, name, author, author_id, at, snippet in rows
    ]
