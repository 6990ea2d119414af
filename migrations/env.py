"""Alembic environment for livechat's database, SQLite or PostgreSQL.

Migrations run on a synchronous connection (pysqlite behind the app's aiosqlite URL,
psycopg behind its asyncpg one): they run before the server starts, or beside a test's
event loop, where starting a second event loop is not possible. A migration that differs
between the two asks ``op.get_bind().dialect.name``.
"""

from alembic import context
from sqlalchemy import create_engine

from livechat.accounts import models as _accounts_models  # noqa: F401  (registers tables)
from livechat.chat import models as _chat_models  # noqa: F401  (registers tables)
from livechat.db import Base
from livechat.schema import include_name, sync_url
from livechat.settings import Settings

config = context.config
url = sync_url(config.attributes.get("database_url") or Settings().database_url)

if context.is_offline_mode():
    context.configure(url=url, target_metadata=Base.metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            if connection.dialect.name == "sqlite":
                # WAL is a property of the file: set it once here, so that the server's
                # first connections do not race each other to switch it (SQLite fails one
                # of them at once, busy timeout or not).
                connection.exec_driver_sql("PRAGMA journal_mode = WAL")
                connection.commit()  # end the PRAGMA's transaction; migrations open their own
            # render_as_batch: SQLite alters most columns by copying the table, which
            # Alembic does only in batch mode.
            context.configure(
                connection=connection,
                target_metadata=Base.metadata,
                render_as_batch=True,
                include_name=include_name,
            )
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()
