"""Alembic migrations create the schema on SQLite and PostgreSQL, idempotently."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, inspect, select, text

from pixelforge.store.db import Database
from pixelforge.store.jobs import JobQueue
from pixelforge.store.models import Base, Job

TABLES = {"jobs", "assets", "idempotency_records", "compares", "compare_entries", "arena_votes",
          "threads", "thread_nodes"}  # fmt: skip


def _head() -> str:
    from importlib import resources

    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("pixelforge.store") / "migrations"))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    assert head is not None
    return head


HEAD = _head()


def test_migrate_creates_every_table(fresh_db: Database) -> None:
    assert set(inspect(fresh_db.write_engine).get_table_names()) >= TABLES


def test_migrate_leaves_schema_matching_models(fresh_db: Database) -> None:
    with fresh_db.write_engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_migrate_twice_keeps_existing_rows(fresh_db: Database) -> None:
    queue = JobQueue(fresh_db, lease_seconds=30)
    with fresh_db.write() as s:
        queue.add(s, "m", {}, max_attempts=3)
    fresh_db.migrate()
    with fresh_db.read() as s:
        assert s.scalar(select(func.count()).select_from(Job)) == 1


def test_migrate_twice_stays_at_head_revision(fresh_db: Database) -> None:
    fresh_db.migrate()
    with fresh_db.read() as s:
        assert s.scalars(text("SELECT version_num FROM alembic_version")).all() == [HEAD]


def test_sqlite_database_uses_wal_journal(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'wal.db'}")
    try:
        database.migrate()
        with database.write_engine.connect() as conn:
            mode = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
    finally:
        database.dispose()
    assert mode == "wal"
