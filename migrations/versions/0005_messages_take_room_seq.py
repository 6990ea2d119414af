"""A message inserted under its room's next sequence number moves the room on to it.

Posting took the number with an UPDATE of the room, then inserted the message: two
statements, inside BEGIN IMMEDIATE and COMMIT, each a trip to the driver's thread. The
INSERT now reads the number from the room, and this trigger takes it for the room, so a
post is one statement, which SQLite runs as a transaction of its own. A message inserted
under a number the room has passed (as ``livechat seed`` does) leaves the room as it is.

Only on SQLite, whose writers take turns on the whole database. On PostgreSQL, concurrent
INSERTs would read the same number: there a post takes it by updating the room, whose
row lock makes the next post wait for the number to move on.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute(
        """
        CREATE TRIGGER messages_take_room_seq AFTER INSERT ON messages
        BEGIN
            UPDATE rooms SET last_seq = NEW.seq, updated_at = NEW.inserted_at
            WHERE id = NEW.room_id AND last_seq < NEW.seq;
        END
        """
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute("DROP TRIGGER IF EXISTS messages_take_room_seq")
