"""Personal access tokens, and bots.

A token lets a program act for its owner through the API: ``api_tokens`` keeps a digest
of its secret (never the secret), the first characters of the secret for its owner to
recognise it by, whether it may write or only read, and the rooms it is limited to (NULL
for every room its owner may read). A bot is a user that is a program: it never logs in,
acts through its tokens, and may be told of events at a webhook, whose calls are signed
with a key kept on the user. Everyone who signed up before is a person.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# 64-bit, as the models' ids (livechat.db.Id): INTEGER on SQLite, BIGINT elsewhere.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("prefix", sa.String(length=10), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("scope", sa.String(length=8), nullable=False),
        sa.Column("room_ids", sa.JSON(), nullable=True),
        sa.Column("inserted_at", sa.DateTime(), nullable=False),
        sa.Column("last_used_at", sa.DateTime(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint("scope IN ('read', 'write')", name=op.f("ck_api_tokens_scope")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_api_tokens_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
    )
    op.create_index("ix_api_tokens_user_id", "api_tokens", ["user_id"], unique=False)
    op.create_index("ix_api_tokens_secret_hash", "api_tokens", ["secret_hash"], unique=True)
    # Added in place rather than by rebuilding the table, which every other table refers to.
    op.add_column(
        "users", sa.Column("is_bot", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    op.add_column("users", sa.Column("webhook_url", sa.String(length=2000), nullable=True))
    op.add_column("users", sa.Column("webhook_secret", sa.String(length=64), nullable=True))


def downgrade() -> None:
    op.drop_column("users", "webhook_secret")
    op.drop_column("users", "webhook_url")
    op.drop_column("users", "is_bot")
    op.drop_table("api_tokens")
