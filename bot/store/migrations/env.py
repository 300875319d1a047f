"""Alembic environment for the app store: online migrations against the URL `bot.store.migrate` passes in."""

from alembic import context

from bot.store._base import Base, create_engine_for

config = context.config
url = config.get_main_option("sqlalchemy.url")
if not url:
    raise RuntimeError("bot.store.migrate passes the database URL as sqlalchemy.url")
engine = create_engine_for(url)
with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
