"""Migration 0009 (each asset's studio workspace) on SQLite and PostgreSQL: it upgrades a 0008
database in place, keeps its assets (untagged), indexes the column that ``GET /api/assets``
filters on, and downgrades cleanly."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from migration_steps import alembic, database_at
from sqlalchemy import inspect, text

from pixelforge.services.assets import AssetService
from pixelforge.store.blobs import LocalBlobStore
from pixelforge.store.db import Database
from pixelforge.store.models import Asset

INSERT = text(
    "INSERT INTO assets (id, user_id, job_id, position, blob_key, format, width, height, bytes,"
    " model, seed, prompt, params, parent_id, timings, cost, created_at, deleted) VALUES"
    " (:id, NULL, NULL, 0, 'k', 'png', 8, 8, 10, 'compose', 1, 'old', '{}', NULL, '{}', '0',"
    " :created, :deleted)"
)


@pytest.fixture(params=["sqlite", "postgresql"])
def old_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A database at revision 0008 holding one asset (written as 0008 knew it)."""
    with database_at(request, tmp_path, "0008") as db:
        with db.write_engine.begin() as conn:
            conn.execute(INSERT, {"id": "img_old", "created": 1.0, "deleted": False})
        yield db


def _columns(db: Database) -> set[str]:
    return {c["name"] for c in inspect(db.write_engine).get_columns("assets")}


def _indexes(db: Database) -> set[str]:
    return {str(i["name"]) for i in inspect(db.write_engine).get_indexes("assets")}


def test_upgrade_from_0008_adds_the_indexed_workspace_column(old_db: Database) -> None:
    assert "workspace" not in _columns(old_db)

    alembic(old_db, "upgrade", "0009")

    assert "workspace" in _columns(old_db)
    assert "ix_assets_workspace" in _indexes(old_db)


def test_upgrade_keeps_existing_assets_without_a_workspace(old_db: Database) -> None:
    alembic(old_db, "upgrade", "0009")

    with old_db.read() as s:
        asset = s.get(Asset, "img_old")
        assert asset is not None
        assert (asset.prompt, asset.workspace) == ("old", None)


def test_upgraded_database_stores_and_filters_workspaces(old_db: Database, tmp_path: Path) -> None:
    alembic(old_db, "upgrade", "0009")
    with old_db.write() as s:
        s.add(Asset(id="img_new", user_id=None, job_id=None, position=0, blob_key="k2",
                    format="png", width=8, height=8, bytes=10, model="compose", seed=2,
                    prompt="new", params={}, parent_id=None, timings={}, cost="0",
                    created_at=2.0, deleted=False, workspace="explore"))  # fmt: skip
    assets = AssetService(old_db, LocalBlobStore(tmp_path / "blobs"))

    assert [a.id for a in assets.search(workspace="explore").items] == ["img_new"]
    assert [a.id for a in assets.search(workspace="draft").items] == []
    assert [a.id for a in assets.search().items] == ["img_new", "img_old"]


def test_downgrade_to_0008_drops_the_column_and_keeps_assets(old_db: Database) -> None:
    alembic(old_db, "upgrade", "0009")

    alembic(old_db, "downgrade", "0008")

    assert "workspace" not in _columns(old_db)
    assert "ix_assets_workspace" not in _indexes(old_db)
    with old_db.write_engine.connect() as conn:
        assert conn.execute(text("SELECT id FROM assets")).scalars().all() == ["img_old"]
