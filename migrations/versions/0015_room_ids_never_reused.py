"""Room ids are never handed out twice.

Without AUTOINCREMENT, SQLite gives the id of a deleted room that had the highest id to
the next room made. Whatever still names the old room by its id would then name the new
one: a token kept to the old room would reach it, and an event stream's position would
skip its first messages. The table is copied into one with AUTOINCREMENT, as messages
have had since the start, keeping every row, index, constraint and trigger. PostgreSQL's
sequences never hand an id out twice.

The copy is made by hand rather than by Alembic's batch mode, which writes a table's
constraints in no set order: the table comes out as 0014 left it, but for the key.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = "name, slug, description, creator_id, is_private, last_seq, inserted_at, updated_at"
_TABLE = """
CREATE TABLE rooms_copy (
    {key},
    name VARCHAR(60) NOT NULL,
    slug VARCHAR(68) NOT NULL,
    description VARCHAR(280) NOT NULL,
    creator_id INTEGER,
    is_private BOOLEAN NOT NULL,
    last_seq INTEGER NOT NULL,
    inserted_at DATETIME NOT NULL,
    updated_at DATETIME NOT NULL,
    direct_key VARCHAR(40),
    {primary_key}CONSTRAINT fk_rooms_creator_id_users FOREIGN KEY(creator_id)
        REFERENCES users (id) ON DELETE SET NULL,
    CONSTRAINT uq_rooms_slug UNIQUE (slug)
)
"""


def _copy(table: str) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    # A trigger that names the table stops SQLite renaming the copy into its place
    # (0005's, which moves a room's sequence on): each is set aside and made again.
    triggers = bind.exec_driver_sql(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND sql LIKE '%rooms%'"
    ).all()
    for name, _ in triggers:
        op.execute(f'DROP TRIGGER "{name}"')
    op.execute(table)
    columns = f"id, {_COLUMNS}, direct_key"
    op.execute(f"INSERT INTO rooms_copy ({columns}) SELECT {columns} FROM rooms")  # noqa: S608
    # Migrations run with SQLite's foreign keys off: dropping the old table takes no
    # membership, message or file with it, and theirs name the copy once it is renamed.
    op.execute("DROP TABLE rooms")
    op.execute("ALTER TABLE rooms_copy RENAME TO rooms")
    op.execute("CREATE UNIQUE INDEX ix_rooms_direct_key ON rooms (direct_key)")
    for _, sql in triggers:
        op.execute(sql)


def upgrade() -> None:
    _copy(
        _TABLE.format(
            key="id INTEGER NOT NULL CONSTRAINT pk_rooms PRIMARY KEY AUTOINCREMENT", primary_key=""
        )
    )


def downgrade() -> None:
    _copy(
        _TABLE.format(
            key="id INTEGER NOT NULL", primary_key="CONSTRAINT pk_rooms PRIMARY KEY (id),\n    "
        )
    )
