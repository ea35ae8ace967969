"""Migration 0005 (edit threads and their nodes) on SQLite and PostgreSQL: it upgrades a 0004
database in place, keeps its rows, enforces the tree's rules, and downgrades cleanly."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from migration_steps import alembic, database_at
from sqlalchemy import func, inspect, select, text
from sqlalchemy.exc import IntegrityError

from pixelforge.store.db import Database
from pixelforge.store.jobs import JobQueue
from pixelforge.store.models import Job, Thread, ThreadNode

NEW_TABLES = {"threads", "thread_nodes"}


@pytest.fixture(params=["sqlite", "postgresql"])
def old_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A database at revision 0004 holding one job."""
    with database_at(request, tmp_path, "0004") as db:
        with db.write() as s:
            JobQueue(db, lease_seconds=30).add(s, "compose", {}, max_attempts=3, job_id="job_old")
        yield db


def _tables(db: Database) -> set[str]:
    return set(inspect(db.write_engine).get_table_names())


def _node(node_id: str, position: int, parent: str | None = None, **fields: object) -> ThreadNode:
    values: dict[str, object] = {"job_id": "job_old", "asset_id": None, **fields}
    return ThreadNode(id=node_id, thread_id="thr_1", parent_id=parent, position=position,
                      depth=0 if parent is None else 1, instruction="x", model="compose",
                      created_at=0.0, **values)  # fmt: skip


def _thread(db: Database) -> None:
    with db.write() as s:
        s.add(Thread(id="thr_1", user_id=None, title="t", created_at=0.0, updated_at=0.0))
        s.flush()
        s.add(_node("node_root", 0))


def test_upgrade_from_0004_adds_the_thread_tables_and_keeps_jobs(old_db: Database) -> None:
    assert not _tables(old_db) & NEW_TABLES

    alembic(old_db, "upgrade", "0005")

    assert _tables(old_db) >= NEW_TABLES
    with old_db.read() as s:
        assert s.scalar(select(func.count()).select_from(Job)) == 1


def test_upgraded_tables_store_a_tree(old_db: Database) -> None:
    alembic(old_db, "upgrade", "0005")
    _thread(old_db)
    with old_db.write() as s:
        s.add(_node("node_a", 1, "node_root"))
        s.add(_node("node_b", 2, "node_root"))

    with old_db.read() as s:
        rows = s.execute(select(ThreadNode.id, ThreadNode.parent_id).order_by(ThreadNode.position))
        assert [tuple(r) for r in rows] == [
            ("node_root", None), ("node_a", "node_root"), ("node_b", "node_root"),
        ]  # fmt: skip


def test_upgraded_tables_refuse_a_node_without_job_or_asset(old_db: Database) -> None:
    alembic(old_db, "upgrade", "0005")
    _thread(old_db)

    with pytest.raises(IntegrityError), old_db.write() as s:
        s.add(_node("node_a", 1, "node_root", job_id=None))


def test_upgraded_tables_refuse_two_nodes_at_one_position(old_db: Database) -> None:
    alembic(old_db, "upgrade", "0005")
    _thread(old_db)

    with pytest.raises(IntegrityError), old_db.write() as s:
        s.add(_node("node_a", 0, "node_root"))


def test_upgraded_tables_refuse_a_parent_that_does_not_exist(old_db: Database) -> None:
    alembic(old_db, "upgrade", "0005")
    _thread(old_db)

    with pytest.raises(IntegrityError), old_db.write() as s:
        s.add(_node("node_a", 1, "node_missing"))


def test_downgrade_to_0004_drops_the_thread_tables_and_keeps_jobs(old_db: Database) -> None:
    alembic(old_db, "upgrade", "0005")
    _thread(old_db)

    alembic(old_db, "downgrade", "0004")

    assert not _tables(old_db) & NEW_TABLES
    with old_db.read() as s:
        assert s.scalar(select(func.count()).select_from(Job)) == 1
        assert s.scalars(text("SELECT version_num FROM alembic_version")).all() == ["0004"]
