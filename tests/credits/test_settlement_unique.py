"""One settlement per job is a database rule (security.md row 32): two connections that try to
capture the same job at once leave exactly one capture row."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from pixelforge.api.container import Container
from pixelforge.api.metrics import Metrics
from pixelforge.config import Settings
from pixelforge.domain import GenerationRequest
from pixelforge.services.accounts import Principal
from pixelforge.store import ledger
from pixelforge.store.models import LedgerEntry
from testing_engines import ZeroWorkEngine

_names = itertools.count()


@pytest.fixture(params=["sqlite", "postgres"])
def container(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Container]:
    url = None
    if request.param == "postgres":
        url = request.getfixturevalue("postgres_server").create_database(f"settle_{next(_names)}")
    c = Container.build(
        Settings(home=tmp_path, workers=0, local_price_per_image="0.01", database_url=url),
        [ZeroWorkEngine()], Metrics(lambda: 0),
    )  # fmt: skip
    yield c
    c.stop()


@pytest.fixture
def job_id(container: Container) -> str:
    user = container.accounts.create_user("payer@example.com", None)
    container.credits.grant(user.id, 100_000)
    principal = Principal(user.id, user.email, "member", "key")
    request = GenerationRequest(prompt="x", model="zero")
    return container.jobs.submit(request, principal=principal).job.id


def settlements(container: Container, job_id: str) -> int:
    with container.db.read() as s:
        return int(
            s.scalar(
                select(func.count()).where(
                    LedgerEntry.job_id == job_id,
                    LedgerEntry.kind.in_([ledger.CAPTURE, ledger.REFUND]),
                )
            )
            or 0
        )


def race_two_captures(container: Container, job_id: str) -> list[Any]:
    """A captures and holds its transaction open while B tries; then A commits."""
    outcomes: list[Any] = []
    engine = container.db.write_engine

    def second() -> None:
        try:
            with engine.connect() as conn, conn.begin():
                outcomes.append(ledger.settle(conn, job_id, True, time.time(), "second"))
        except IntegrityError as exc:
            outcomes.append(exc)

    with engine.connect() as conn:
        trans = conn.begin()
        outcomes.append(ledger.settle(conn, job_id, True, time.time(), "first"))
        thread = threading.Thread(target=second)
        thread.start()
        time.sleep(0.3)  # B is now blocked (SQLite: on the write lock; PostgreSQL: on the index)
        trans.commit()
    thread.join(30)
    return outcomes


def test_settle_concurrent_captures_leave_exactly_one_row(
    container: Container, job_id: str
) -> None:
    race_two_captures(container, job_id)
    assert settlements(container, job_id) == 1


def test_settle_concurrent_capture_loser_gets_false_or_integrity_error(
    container: Container, job_id: str
) -> None:
    first, second = race_two_captures(container, job_id)
    assert first is True
    assert second is False or isinstance(second, IntegrityError)


def test_settle_barrier_started_captures_have_one_winner(container: Container, job_id: str) -> None:
    barrier = threading.Barrier(2)
    wins: list[bool] = []

    def capture() -> None:
        barrier.wait()
        try:
            with container.db.write_engine.connect() as conn, conn.begin():
                wins.append(ledger.settle(conn, job_id, True, time.time()))
        except IntegrityError:
            wins.append(False)

    threads = [threading.Thread(target=capture) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(wins) == [False, True]


def raw_settlement(conn: Any, job_id: str, kind: str) -> None:
    """A settlement row written without settle()'s look-before-insert."""
    ledger.entry(
        conn, user_id=conn.execute(select(LedgerEntry.user_id).where(
            LedgerEntry.job_id == job_id, LedgerEntry.kind == ledger.RESERVE)).scalar_one(),
        job_id=job_id, api_key_id=None, kind=kind, amount=10_000,
        delta=0 if kind == ledger.CAPTURE else 10_000, model="zero", settles=job_id,
        note="", created_at=time.time(),
    )  # fmt: skip


def test_ledger_second_capture_row_violates_unique_constraint(
    container: Container, job_id: str
) -> None:
    with container.db.write() as s:
        raw_settlement(s.connection(), job_id, ledger.CAPTURE)
    with pytest.raises(IntegrityError), container.db.write() as s:
        raw_settlement(s.connection(), job_id, ledger.CAPTURE)


def test_ledger_refund_after_capture_violates_unique_settles(
    container: Container, job_id: str
) -> None:
    with container.db.write() as s:
        raw_settlement(s.connection(), job_id, ledger.CAPTURE)
    with pytest.raises(IntegrityError), container.db.write() as s:
        raw_settlement(s.connection(), job_id, ledger.REFUND)


def test_settle_after_capture_returns_false(container: Container, job_id: str) -> None:
    with container.db.write() as s:
        assert ledger.settle(s.connection(), job_id, True, time.time())
    with container.db.write() as s:
        assert ledger.settle(s.connection(), job_id, False, time.time()) is False
