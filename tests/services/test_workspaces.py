"""Studio workspaces in the services: a submitted job stores its workspace (or the continued
asset's) for the worker; groups tag every job; other values are refused naming ``workspace``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from pixelforge.domain import GenerationRequest
from pixelforge.engines.registry import ModelRegistry
from pixelforge.errors import InvalidRequestError
from pixelforge.services.assets import WORKSPACE_KEY, AssetService
from pixelforge.services.jobs import JobService
from pixelforge.store.blobs import LocalBlobStore
from pixelforge.store.db import Database
from pixelforge.store.jobs import JobQueue
from pixelforge.store.models import Asset, Job
from testing_engines import ZeroWorkEngine

REQUEST = GenerationRequest(prompt="a paper crane", model="zero")


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'store.db'}")
    database.migrate()
    try:
        yield database
    finally:
        database.dispose()


@pytest.fixture
def jobs(db: Database, tmp_path: Path) -> JobService:
    return JobService(JobQueue(db, lease_seconds=30), ModelRegistry([ZeroWorkEngine()]),
                      LocalBlobStore(tmp_path / "blobs"), max_attempts=3,
                      retention_seconds=3600)  # fmt: skip


def an_asset(db: Database, asset_id: str, workspace: str | None) -> str:
    with db.write() as s:
        s.add(Asset(id=asset_id, user_id=None, job_id=None, position=0, blob_key="k",
                    format="png", width=8, height=8, bytes=10, model="zero", seed=1,
                    prompt="p", params={}, parent_id=None, timings={}, cost="0",
                    created_at=1.0, deleted=False, workspace=workspace))  # fmt: skip
    return asset_id


def stored(db: Database, job_id: str) -> str | None:
    with db.read() as s:
        job = s.get(Job, job_id)
        assert job is not None
        value = job.request.get(WORKSPACE_KEY)
    assert value is None or isinstance(value, str)
    return value


def test_submit_stores_the_workspace_given(jobs: JobService, db: Database) -> None:
    job = jobs.submit(REQUEST, workspace="draft").job
    assert stored(db, job.id) == "draft"


def test_submit_continuing_an_asset_takes_its_workspace(jobs: JobService, db: Database) -> None:
    source = an_asset(db, "img_src", "explore")
    job = jobs.submit(REQUEST, continue_from=source).job
    assert stored(db, job.id) == "explore"


def test_submit_prefers_the_given_workspace_to_the_continued_one(
    jobs: JobService, db: Database
) -> None:
    source = an_asset(db, "img_src", "explore")
    job = jobs.submit(REQUEST, continue_from=source, workspace="draft").job
    assert stored(db, job.id) == "draft"


def test_submit_continuing_an_untagged_asset_stores_none(jobs: JobService, db: Database) -> None:
    source = an_asset(db, "img_src", None)
    job = jobs.submit(REQUEST, continue_from=source).job
    assert stored(db, job.id) is None


def test_submit_refuses_an_unknown_workspace_and_makes_no_job(
    jobs: JobService, db: Database
) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        jobs.submit(REQUEST, workspace="gallery")
    assert caught.value.param == "workspace"
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(Job)) == 0


def test_submit_group_tags_every_job(jobs: JobService, db: Database) -> None:
    made = jobs.submit_group([REQUEST, REQUEST], lambda s, js: None, workspace="explore")
    assert isinstance(made, list)
    assert [stored(db, j.id) for j in made] == ["explore", "explore"]


def test_search_refuses_an_unknown_workspace_naming_it(db: Database, tmp_path: Path) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        AssetService(db, LocalBlobStore(tmp_path / "blobs")).search(workspace="Draft")
    assert caught.value.param == "workspace"
