"""Alembic environment: runs migrations over the async SQLite engine livechat uses."""

import asyncio

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from livechat.accounts import models as _accounts_models  # noqa: F401  (registers tables)
from livechat.chat import models as _chat_models  # noqa: F401  (registers tables)
from livechat.db import Base
from livechat.settings import Settings

config = context.config
url = config.attributes.get("database_url") or Settings().database_url


def include_name(name: str | None, type_: str, _parent_names: object) -> bool:
    # The FTS5 table and its shadow tables are managed by hand in their migration; the
    # models do not describe them, so autogenerate must not offer to drop them.
    return not (type_ == "table" and name is not None and name.startswith("messages_fts"))


def run_migrations(connection: Connection) -> None:
    # render_as_batch: SQLite alters most columns by copying the table, which Alembic does
    # only in batch mode.
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=True,
        include_name=include_name,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_async_migrations() -> None:
    engine = create_async_engine(url)
    async with engine.connect() as connection:
        await connection.run_sync(run_migrations)
    await engine.dispose()


if context.is_offline_mode():
    context.configure(url=url, target_metadata=Base.metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(run_async_migrations())
