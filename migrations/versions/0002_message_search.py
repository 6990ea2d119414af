"""Full-text search over message bodies.

An external-content FTS5 table indexes ``messages.body`` without storing a second copy, and
triggers keep it in step with every insert, edit and delete, so the index cannot drift.
Deleted messages (tombstones) are left out of the index. ``remove_diacritics 2`` makes
"cafe" find "café"; the prefix indexes make the as-you-type prefix queries cheap.

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


def upgrade() -> None:
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


def downgrade() -> None:
    for trigger in ("after_update", "after_delete", "after_insert"):
        op.execute(f"DROP TRIGGER IF EXISTS messages_fts_{trigger}")
    op.execute("DROP TABLE IF EXISTS messages_fts")
