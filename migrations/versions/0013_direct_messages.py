"""Direct conversations: a private room of two people, one per pair.

``rooms.direct_key`` names the pair by their ids, lower first ("3:7"), and is unique, so
that starting a conversation with someone twice, or both of them at once, opens the one
room. Rooms made before are no one's direct conversation.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("rooms", sa.Column("direct_key", sa.String(length=40), nullable=True))
    op.create_index("ix_rooms_direct_key", "rooms", ["direct_key"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_rooms_direct_key", table_name="rooms")
    op.drop_column("rooms", "direct_key")
