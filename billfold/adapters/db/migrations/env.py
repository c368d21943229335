"""Alembic environment: runs against the connection handed in by billfold, or the URL from
BILLFOLD_DATABASE_URL when alembic is run by hand."""

from __future__ import annotations

from alembic import context

from billfold.adapters.db.connect import database_url_from_env, make_engine
from billfold.adapters.db.migrate import billfold_owns
from billfold.adapters.db.schema import metadata

config = context.config
target_metadata = metadata


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
            include_name=billfold_owns,
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(database_url_from_env(config.get_main_option("sqlalchemy.url")))
    with engine.connect() as conn:
        context.configure(
            connection=conn,
            target_metadata=target_metadata,
            render_as_batch=conn.dialect.name == "sqlite",
            compare_type=True,
            include_name=billfold_owns,
        )
        with context.begin_transaction():
            context.run_migrations()


run()
