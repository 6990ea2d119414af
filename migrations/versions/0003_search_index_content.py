"""The search index reads its text from the live messages only.

The FTS5 table named ``messages`` as its content, but its triggers leave deleted messages
(tombstones) out of the index, so SQLite's standard integrity check failed as soon as one
message was deleted. Its content is now a view of exactly the messages it indexes.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The name starts with messages_fts so that it reads as part of the search index; it must
# not end in one of FTS5's own shadow-table suffixes (_content, _data, _idx, _docsize,
# _config), which SQLite's defensive mode reserves.
LIVE_MESSAGES = "messages_fts_live"

TRIGGERS = (
    """
    CREATE TRIGGER messages_fts_after_insert AFTER INSERT ON messages
    WHEN new.deleted_at IS NULL
    BEGIN
        INSERT INTO messages_fts (rowid, body) VALUES (new.id, new.body);
    END
    """,
    """
    CREATE TRIGGER messages_fts_after_delete AFTER DELETE ON messages
    WHEN old.deleted_at IS NULL
    BEGIN
        INSERT INTO messages_fts (messages_fts, rowid, body)
        VALUES ('delete', old.id, old.body);
    END
    """,
    """
    CREATE TRIGGER messages_fts_after_update AFTER UPDATE OF body, deleted_at ON messages
    BEGIN
        INSERT INTO messages_fts (messages_fts, rowid, body)
        SELECT 'delete', old.id, old.body WHERE old.deleted_at IS NULL;
        INSERT INTO messages_fts (rowid, body)
        SELECT new.id, new.body WHERE new.deleted_at IS NULL;
    END
    """,
)


def _drop_index() -> None:
    for trigger in ("after_update", "after_delete", "after_insert"):
        op.execute(f"DROP TRIGGER IF EXISTS messages_fts_{trigger}")
    op.execute("DROP TABLE IF EXISTS messages_fts")


def _create_index(content: str) -> None:
    op.execute(
        f"""
        CREATE VIRTUAL TABLE messages_fts USING fts5(
            body,
            content='{content}',
            content_rowid='id',
            tokenize='unicode61 remove_diacritics 2',
            prefix='2 3 4'
        )
        """
    )
    for trigger in TRIGGERS:
        op.execute(trigger)


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return  # PostgreSQL's index (0002) leaves tombstones out already
    # A later migration that rebuilds messages (batch mode copies the table, drops it and
    # renames the copy) must drop this view first and create it again after: SQLite refuses
    # the rename while a view refers to a table that is, for that moment, gone.
    op.execute(
        f"""
        CREATE VIEW {LIVE_MESSAGES} AS
        SELECT id, body FROM messages WHERE deleted_at IS NULL
        """  # noqa: S608  (the only interpolation is the module's own constant)
    )
    _drop_index()
    _create_index(LIVE_MESSAGES)
    op.execute("INSERT INTO messages_fts (messages_fts) VALUES ('rebuild')")


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    _drop_index()
    _create_index("messages")
    # 'rebuild' would index the tombstones too, since they are rows of messages.
    op.execute(
        "INSERT INTO messages_fts (rowid, body) SELECT id, body FROM messages"
        " WHERE deleted_at IS NULL"
    )
    op.execute(f"DROP VIEW IF EXISTS {LIVE_MESSAGES}")
