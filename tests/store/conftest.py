"""Store fixtures: a migrated ``Database`` on SQLite (a temp file) and on PostgreSQL.

``fresh_db`` is a brand-new database per test (for migration tests). ``db`` reuses one migrated
PostgreSQL database per session (creating databases is slow) and empties its tables first.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from pixelforge.store.db import Database

BACKENDS = ["sqlite", "postgresql"]
TRUNCATE = (
    "TRUNCATE batch_requests, batches, files, arena_votes, compare_entries, compares, "
    "thread_nodes, threads, "
    "idempotency_records, assets, jobs"
)


def new_database_url(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    server = request.getfixturevalue("postgres_server")
    url: str = server.create_database(f"store_{uuid.uuid4().hex[:16]}")
    return url


@pytest.fixture(params=BACKENDS)
def fresh_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A newly created, migrated database, once per backend."""
    database = Database(new_database_url(request.param, tmp_path, request))
    database.migrate()
    try:
        yield database
    finally:
        database.dispose()


@pytest.fixture(scope="session")
def shared_pg_url(request: pytest.FixtureRequest) -> str:
    server = request.getfixturevalue("postgres_server")
    url: str = server.create_database(f"store_shared_{uuid.uuid4().hex[:8]}")
    database = Database(url)
    try:
        database.migrate()
    finally:
        database.dispose()
    return url


@pytest.fixture(params=BACKENDS)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A migrated, empty database, once per backend."""
    if request.param == "sqlite":
        database = Database(f"sqlite:///{tmp_path / 'store.db'}")
        database.migrate()
    else:
        database = Database(request.getfixturevalue("shared_pg_url"))
        with database.write() as s:
            # Every table that references jobs goes with them (PostgreSQL refuses otherwise).
            s.execute(text(TRUNCATE))
    try:
        yield database
    finally:
        database.dispose()
