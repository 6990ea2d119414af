"""Alembic environment for livechat's SQLite database.

Migrations run on a synchronous connection (the pysqlite driver behind the app's aiosqlite
URL): they run before the server starts, or beside a test's event loop, where starting a
second event loop is not possible.
"""

from alembic import context
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from livechat.accounts import models as _accounts_models  # noqa: F401  (registers tables)
from livechat.chat import models as _chat_models  # noqa: F401  (registers tables)
from livechat.db import Base
from livechat.schema import include_name
from livechat.settings import Settings

config = context.config
url = make_url(config.attributes.get("database_url") or Settings().database_url)
sync_url = url.set(drivername=url.get_backend_name())

if context.is_offline_mode():
    context.configure(url=sync_url, target_metadata=Base.metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    engine = create_engine(sync_url)
    try:
        with engine.connect() as connection:
            # WAL is a property of the file: set it once here, so that the server's first
            # connections do not race each other to switch it (SQLite fails one of them at
            # once, busy timeout or not).
            connection.exec_driver_sql("PRAGMA journal_mode = WAL")
            connection.commit()  # end the transaction the PRAGMA began; migrations open their own
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
