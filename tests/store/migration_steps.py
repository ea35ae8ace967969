"""Alembic steps for the migration tests: a database at an old revision, then up or down."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config

from pixelforge.store.db import Database


def alembic(db: Database, action: str, revision: str) -> None:
    """``alembic upgrade|downgrade <revision>`` on ``db``."""
    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("pixelforge.store") / "migrations"))
    with db.write_engine.begin() as conn:
        cfg.attributes["connection"] = conn
        getattr(command, action)(cfg, revision)


@contextmanager
def database_at(
    request: pytest.FixtureRequest, tmp_path: Path, revision: str
) -> Iterator[Database]:
    """A new database (``request.param``: sqlite or postgresql) migrated up to ``revision``."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'old.db'}"
    else:
        url = request.getfixturevalue("postgres_server").create_database(
            f"old_{uuid.uuid4().hex[:12]}"
        )
    db = Database(url)
    try:
        alembic(db, "upgrade", revision)
        yield db
    finally:
        db.dispose()
