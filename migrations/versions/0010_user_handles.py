"""Each person has a handle, the unique name others @mention them by.

People who signed up before handles existed are given one made from their display name,
as a newcomer who leaves the field empty is: ASCII, lowercase, underscores between the
words, "user" for a name with too little ASCII in it. Namesakes are numbered in the order
they signed up ("ann", "ann2", "ann3"), so the oldest account keeps the plain handle.

The derivation is copied here rather than imported: a migration must go on doing what it
did when it was written, whatever the application's rules become.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05
"""

import re
import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# 64-bit, as the models' ids (livechat.db.Id): INTEGER on SQLite, BIGINT elsewhere.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
HANDLE_LENGTH = 30
# Room left at the end of a handle made from a name for its number among namesakes.
SUFFIX_ROOM = 4
RESERVED = frozenset({"all", "everyone", "here", "channel"})

users = sa.table(
    "users",
    sa.column("id", ID),
    sa.column("display_name", sa.String()),
    sa.column("handle", sa.String()),
)


def _handle_from_name(display_name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", display_name).encode("ascii", "ignore").decode()
    words = re.sub(r"[^a-z0-9]+", "_", ascii_name.lower()).strip("_")
    base = words[: HANDLE_LENGTH - SUFFIX_ROOM].rstrip("_")
    return "user" if len(base) < 2 or base in RESERVED else base


def _handles(names: Sequence[tuple[int, str]]) -> list[dict[str, object]]:
    """A distinct handle for each ``(id, display_name)``, in the order given."""
    taken: set[str] = set()
    handles = []
    for user_id, display_name in names:
        base = _handle_from_name(display_name)
        handle, suffix = base, 2
        while handle in taken:
            handle, suffix = f"{base}{suffix}", suffix + 1
        taken.add(handle)
        handles.append({"user_id": user_id, "new_handle": handle})
    return handles


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("handle", sa.String(length=HANDLE_LENGTH), nullable=True))
    connection = op.get_bind()
    names = connection.execute(sa.select(users.c.id, users.c.display_name).order_by(users.c.id))
    handles = _handles([(user_id, display_name) for user_id, display_name in names])
    if handles:
        connection.execute(
            users.update()
            .where(users.c.id == sa.bindparam("user_id"))
            .values(handle=sa.bindparam("new_handle")),
            handles,
        )
    with op.batch_alter_table("users") as batch:
        batch.alter_column("handle", existing_type=sa.String(length=HANDLE_LENGTH), nullable=False)
        batch.create_unique_constraint(op.f("uq_users_handle"), ["handle"])


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint(op.f("uq_users_handle"), type_="unique")
        batch.drop_column("handle")
