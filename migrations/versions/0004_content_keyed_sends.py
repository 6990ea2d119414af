"""A resend is the same message only if it carries the same content, in the same room.

The key a page sends with a message changes only when the server acknowledges it, so text
edited and sent again while the socket was down came with the key of what was sent before,
and was acknowledged as a duplicate and dropped. A digest of the content now completes the
key, and keys are unique per person and room rather than per person. Messages already sent
with a key get the digest of what they hold now.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

import hashlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 1000


def _digest(body: str, attachment_ids: list[int]) -> str:
    """The same digest as livechat.chat.messages.content_digest, frozen as of this revision."""
    content = body + "\0" + ",".join(str(i) for i in sorted(set(attachment_ids)))
    return hashlib.sha256(content.encode()).hexdigest()[:32]


def upgrade() -> None:
    op.add_column("messages", sa.Column("content_digest", sa.String(length=32), nullable=True))
    connection = op.get_bind()
    messages = sa.table(
        "messages",
        sa.column("id", sa.Integer),
        sa.column("body", sa.Text),
        sa.column("client_msg_id", sa.String),
        sa.column("content_digest", sa.String),
    )
    attachments = sa.table(
        "attachments", sa.column("id", sa.Integer), sa.column("message_id", sa.Integer)
    )
    # aggregate_strings: SQLite's group_concat, PostgreSQL's string_agg.
    attachment_ids = sa.func.aggregate_strings(sa.cast(attachments.c.id, sa.Text), ",")
    keyed = (
        sa.select(messages.c.id, messages.c.body, attachment_ids)
        .select_from(messages.outerjoin(attachments, attachments.c.message_id == messages.c.id))
        .where(messages.c.client_msg_id.is_not(None), messages.c.content_digest.is_(None))
        .group_by(messages.c.id, messages.c.body)
        .order_by(messages.c.id)
        .limit(BATCH)
    )
    while rows := connection.execute(keyed).all():
        connection.execute(
            sa.text("UPDATE messages SET content_digest = :digest WHERE id = :id"),
            [
                {
                    "id": id_,
                    "digest": _digest(body, [int(i) for i in (files or "").split(",") if i]),
                }
                for id_, body, files in rows
            ],
        )
    op.drop_index("ix_messages_user_id_client_msg_id", table_name="messages")
    op.create_index(
        "ix_messages_room_id_user_id_client_msg_id_content_digest",
        "messages",
        ["room_id", "user_id", "client_msg_id", "content_digest"],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index("ix_messages_room_id_user_id_client_msg_id_content_digest", "messages")
    # Keys reused with other content, or in another room, cannot all stay unique per person.
    op.execute(
        "UPDATE messages SET client_msg_id = NULL WHERE id NOT IN"
        " (SELECT min(id) FROM messages WHERE client_msg_id IS NOT NULL"
        "  GROUP BY user_id, client_msg_id)"
    )
    op.create_index(
        "ix_messages_user_id_client_msg_id", "messages", ["user_id", "client_msg_id"], unique=True
    )
    # Not a batch rebuild: the search index's view refers to messages, and SQLite refuses
    # to rename the rebuilt table into place under it.
    op.execute("ALTER TABLE messages DROP COLUMN content_digest")
