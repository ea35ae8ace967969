"""50 simultaneous OpenAI-style generation requests on SQLite: all answered, none locked out."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from pixelforge.store.models import Job
from server_support import start_server
from testing_engines import ZeroWorkEngine

REQUESTS = 50


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(logging.Formatter().format(record))


@dataclass(frozen=True)
class Burst:
    statuses: list[int]
    bodies: list[dict[str, Any]]
    job_statuses: list[str]
    log: list[str]


async def post_all(base_url: str) -> list[httpx.Response]:
    body = {"prompt": "a red square", "model": "zero", "size": "256x256"}
    limits = httpx.Limits(max_connections=REQUESTS)
    async with httpx.AsyncClient(base_url=base_url, timeout=60, limits=limits) as client:
        return await asyncio.gather(
            *(client.post("/v1/images/generations", json=body) for _ in range(REQUESTS))
        )


@pytest.fixture(scope="module")
def burst(tmp_path_factory: pytest.TempPathFactory) -> Burst:
    handler = Collect()
    root = logging.getLogger()
    root.addHandler(handler)
    live = start_server(tmp_path_factory.mktemp("burst-home"), [ZeroWorkEngine()])
    try:
        responses = asyncio.run(post_all(live.base_url))
        with live.container.db.read() as s:
            job_statuses = list(s.scalars(select(Job.status)))
    finally:
        live.stop()
        root.removeHandler(handler)
    return Burst(
        [r.status_code for r in responses], [r.json() for r in responses], job_statuses,
        handler.lines,
    )  # fmt: skip


def test_concurrent_generations_all_answer_200(burst: Burst) -> None:
    assert burst.statuses == [200] * REQUESTS


def test_concurrent_generations_each_return_one_image(burst: Burst) -> None:
    assert [len(body.get("data", [])) for body in burst.bodies] == [1] * REQUESTS


def test_concurrent_generations_record_every_job_succeeded(burst: Burst) -> None:
    assert burst.job_statuses == ["succeeded"] * REQUESTS


def test_concurrent_generations_log_no_locked_database(burst: Burst) -> None:
    assert [line for line in burst.log if "locked" in line.lower()] == []
