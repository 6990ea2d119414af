"""Each membership remembers how far its person has read the room.

``last_read_id`` is the newest message of the room its person has seen; those after it
are unread. Everyone starts with their rooms read: before this, nothing was counted, and
a first count of a whole history would be noise.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# 64-bit, as the models' ids (livechat.db.Id): INTEGER on SQLite, BIGINT elsewhere.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.add_column("memberships", sa.Column("last_read_id", ID, nullable=False, server_default="0"))
    op.execute(
        "UPDATE memberships SET last_read_id = COALESCE("
        "(SELECT MAX(messages.id) FROM messages WHERE messages.room_id = memberships.room_id), 0)"
    )


def downgrade() -> None:
    op.drop_column("memberships", "last_read_id")
