"""Full-text search over message bodies.

An external-content FTS5 table indexes ``messages.body`` without storing a second copy, and
triggers keep it in step with every insert, edit and delete, so the index cannot drift.
Deleted messages (tombstones) are left out of the index. ``remove_diacritics 2`` makes
"cafe" find "café"; the prefix indexes make the as-you-type prefix queries cheap.

On PostgreSQL, a generated ``tsvector`` column and a GIN index stand for the FTS5 table and
its triggers: generated, it cannot drift either. Its text search configuration lowercases
and drops accents (``unaccent``) and stems nothing, as unicode61 does, and the body is split
on anything but letters and digits first, as unicode61 splits it: PostgreSQL's parser
would keep e-mail addresses, URLs and paths whole. The index leaves tombstones out.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Every kind of word PostgreSQL's parser finds; what it takes for anything else is gone by
# the time it parses, split away with the characters around it.
POSTGRESQL_WORDS = (
    "asciiword, word, numword, asciihword, hword, numhword, hword_asciipart, hword_part,"
    " hword_numpart"
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _upgrade_postgresql()
        return
    op.execute(
        """
        CREATE VIRTUAL TABLE messages_fts USING fts5(
            body,
            content='messages',
            content_rowid='id',
            tokenize='unicode61 remove_diacritics 2',
            prefix='2 3 4'
        )
        """
    )
    op.execute(
        """
        CREATE TRIGGER messages_fts_after_insert AFTER INSERT ON messages
        WHEN new.deleted_at IS NULL
        BEGIN
            INSERT INTO messages_fts (rowid, body) VALUES (new.id, new.body);
        END
        """
    )
    op.execute(
        """
        CREATE TRIGGER messages_fts_after_delete AFTER DELETE ON messages
        WHEN old.deleted_at IS NULL
        BEGIN
            INSERT INTO messages_fts (messages_fts, rowid, body)
            VALUES ('delete', old.id, old.body);
        END
        """
    )
    op.execute(
        """
        CREATE TRIGGER messages_fts_after_update AFTER UPDATE OF body, deleted_at ON messages
        BEGIN
            INSERT INTO messages_fts (messages_fts, rowid, body)
            SELECT 'delete', old.id, old.body WHERE old.deleted_at IS NULL;
            INSERT INTO messages_fts (rowid, body)
            SELECT new.id, new.body WHERE new.deleted_at IS NULL;
        END
        """
    )
    # Index whatever messages already exist when this migration runs on a live database.
    op.execute(
        "INSERT INTO messages_fts (rowid, body) SELECT id, body FROM messages"
        " WHERE deleted_at IS NULL"
    )


def _upgrade_postgresql() -> None:
    # A trusted extension since PostgreSQL 13: the database's owner may create it.
    op.execute("CREATE EXTENSION IF NOT EXISTS unaccent")
    op.execute("CREATE TEXT SEARCH CONFIGURATION livechat_search (COPY = pg_catalog.simple)")
    op.execute(
        f"ALTER TEXT SEARCH CONFIGURATION livechat_search ALTER MAPPING FOR {POSTGRESQL_WORDS}"
        " WITH unaccent, simple"
    )
    op.execute(
        "ALTER TABLE messages ADD COLUMN search_vector tsvector GENERATED ALWAYS AS"
        " (to_tsvector('livechat_search'::regconfig,"
        " regexp_replace(body, '[^[:alnum:]]+', ' ', 'g'))) STORED"
    )
    op.execute(
        "CREATE INDEX ix_messages_search_vector ON messages USING gin (search_vector)"
        " WHERE deleted_at IS NULL"
    )
    # Without finer statistics the planner takes rare words for common ones, and walks the
    # whole table newest first instead of asking the index.
    op.execute("ALTER TABLE messages ALTER COLUMN search_vector SET STATISTICS 1000")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_messages_search_vector")
        op.execute("ALTER TABLE messages DROP COLUMN search_vector")
        op.execute("DROP TEXT SEARCH CONFIGURATION livechat_search")
        return
    for trigger in ("after_update", "after_delete", "after_insert"):
        op.execute(f"DROP TRIGGER IF EXISTS messages_fts_{trigger}")
    op.execute("DROP TABLE IF EXISTS messages_fts")
