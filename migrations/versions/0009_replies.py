"""A message may reply to an earlier one of its room.

``reply_to_id`` names the message replied to. It is no foreign key: a message is never
removed but with its whole room (a deleted one stays as a tombstone), and the column is
added in place, without rebuilding the messages table and its triggers on SQLite.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# 64-bit, as the models' ids (livechat.db.Id): INTEGER on SQLite, BIGINT elsewhere.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.add_column("messages", sa.Column("reply_to_id", ID, nullable=True))


def downgrade() -> None:
    op.drop_column("messages", "reply_to_id")
