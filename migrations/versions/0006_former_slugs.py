"""A renamed room keeps its former slugs, so that links to them still lead to it.

Renaming a room gave it a new slug and dropped the old one: bookmarks, links pasted in
messages and open pages all led nowhere. Each slug a room leaves behind is now kept here
until the room is deleted, and no other room may take it meanwhile.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# 64-bit, as the models' ids (livechat.db.Id): INTEGER on SQLite, BIGINT elsewhere.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "former_slugs",
        sa.Column("id", ID, nullable=False),
        sa.Column("slug", sa.String(length=68), nullable=False),
        sa.Column("room_id", ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["room_id"],
            ["rooms.id"],
            name=op.f("fk_former_slugs_room_id_rooms"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_former_slugs")),
        sa.UniqueConstraint("slug", name=op.f("uq_former_slugs_slug")),
    )
    op.create_index(op.f("ix_former_slugs_room_id"), "former_slugs", ["room_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_former_slugs_room_id"), table_name="former_slugs")
    op.drop_table("former_slugs")
