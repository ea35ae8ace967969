"""Migration 0004 (compares, entries, arena votes) on SQLite and PostgreSQL: it upgrades a 0003
database in place, keeps its rows, enforces the vote rules, and downgrades cleanly."""

from __future__ import annotations

from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest
from alembic.config import Config
from migration_steps import alembic, database_at
from sqlalchemy import func, inspect, select, text
from sqlalchemy.exc import IntegrityError

from pixelforge.store.db import Database
from pixelforge.store.jobs import JobQueue
from pixelforge.store.models import ArenaVote, Compare, CompareEntry, Job

NEW_TABLES = {"compares", "compare_entries", "arena_votes"}


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("pixelforge.store") / "migrations"))
    return cfg


@pytest.fixture(params=["sqlite", "postgresql"])
def old_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A database at revision 0003 holding one job."""
    with database_at(request, tmp_path, "0003") as db:
        with db.write() as s:
            JobQueue(db, lease_seconds=30).add(s, "compose", {}, max_attempts=3, job_id="job_old")
        yield db


def _tables(db: Database) -> set[str]:
    return set(inspect(db.write_engine).get_table_names())


def _vote(pair: str, winner: str = "a") -> ArenaVote:
    return ArenaVote(
        compare_id="cmp_1", user_id=None, category="poster", pair=pair, entry_a="entry_a",
        entry_b="entry_b", model_a="compose", label_a="", model_b="zero", label_b="",
        winner=winner, created_at=0.0,
    )  # fmt: skip


def _compare(db: Database) -> None:
    with db.write() as s:
        s.add(Compare(id="cmp_1", user_id=None, prompt="p", category="poster", created_at=0.0))
        s.flush()
        s.add(CompareEntry(id="entry_a", compare_id="cmp_1", position=0, model="compose",
                           label="", options=None, job_id="job_old", price=1000))  # fmt: skip


def test_upgrade_from_0003_adds_the_compare_tables_and_keeps_jobs(old_db: Database) -> None:
    assert not _tables(old_db) & NEW_TABLES

    old_db.migrate()

    assert _tables(old_db) >= NEW_TABLES
    with old_db.read() as s:
        assert s.scalar(select(func.count()).select_from(Job)) == 1


def test_upgraded_tables_store_a_compare_its_entry_and_a_vote(old_db: Database) -> None:
    old_db.migrate()
    _compare(old_db)
    with old_db.write() as s:
        s.add(_vote("entry_a|entry_b", "tie"))

    with old_db.read() as s:
        entry = s.execute(select(CompareEntry.job_id, CompareEntry.price)).one()
        winner = s.scalar(select(ArenaVote.winner))
    assert (*entry, winner) == ("job_old", 1000, "tie")


def test_upgraded_tables_refuse_a_winner_outside_a_b_tie(old_db: Database) -> None:
    old_db.migrate()
    _compare(old_db)

    with pytest.raises(IntegrityError), old_db.write() as s:
        s.add(_vote("entry_a|entry_b", "c"))


def test_upgraded_tables_refuse_two_votes_on_one_pair(old_db: Database) -> None:
    old_db.migrate()
    _compare(old_db)
    with old_db.write() as s:
        s.add(_vote("entry_a|entry_b"))

    with pytest.raises(IntegrityError), old_db.write() as s:
        s.add(_vote("entry_a|entry_b", "b"))


def test_downgrade_to_0003_drops_the_compare_tables_and_keeps_jobs(old_db: Database) -> None:
    old_db.migrate()

    alembic(old_db, "downgrade", "0003")

    assert not _tables(old_db) & NEW_TABLES
    with old_db.read() as s:
        assert s.scalar(select(func.count()).select_from(Job)) == 1
        assert s.scalars(text("SELECT version_num FROM alembic_version")).all() == ["0003"]
