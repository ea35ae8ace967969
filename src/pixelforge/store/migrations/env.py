"""Alembic environment: runs on the connection the application hands in."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from pixelforge.store.models import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # the `alembic` command line: connect from the configured URL
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.begin() as conn:
        context.configure(connection=conn, target_metadata=Base.metadata)
        context.run_migrations()
    engine.dispose()
else:
    context.configure(connection=connection, target_metadata=Base.metadata)
    with context.begin_transaction():
        context.run_migrations()
