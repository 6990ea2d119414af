"""Mentions, and the notifications they raise.

A message keeps the members it mentions (``messages.mentions``, each handle as written with
the person it named), so that its text links them however their handles change later. Each
of them gets a notification, counted until they read it; so does the other person of a
direct conversation, for every message sent to them.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# 64-bit, as the models' ids (livechat.db.Id): INTEGER on SQLite, BIGINT elsewhere.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.add_column("messages", sa.Column("mentions", sa.JSON(), nullable=True))
    op.create_table(
        "notifications",
        sa.Column("id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("message_id", ID, nullable=False),
        sa.Column("room_id", ID, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("read_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint("kind IN ('mention', 'direct')", name=op.f("ck_notifications_kind")),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_notifications_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_notifications_message_id_messages"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["room_id"],
            ["rooms.id"],
            name=op.f("fk_notifications_room_id_rooms"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
        sa.UniqueConstraint(
            "user_id", "message_id", name=op.f("uq_notifications_user_id_message_id")
        ),
    )
    op.create_index("ix_notifications_message_id", "notifications", ["message_id"], unique=False)
    op.create_index("ix_notifications_room_id", "notifications", ["room_id"], unique=False)
    op.create_index("ix_notifications_user_id_id", "notifications", ["user_id", "id"])
    unread = sa.text("read_at IS NULL")
    op.create_index(
        "ix_notifications_unread",
        "notifications",
        ["user_id", "room_id"],
        sqlite_where=unread,
        postgresql_where=unread,
    )


def downgrade() -> None:
    op.drop_table("notifications")
    op.drop_column("messages", "mentions")
