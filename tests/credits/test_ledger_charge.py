"""Capturing the actual cost: a capture charges at most the reservation and gives the rest
back; still one settlement per job; quotas, key budgets and usage reports count the charge."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from pixelforge.api.container import Container
from pixelforge.api.metrics import Metrics
from pixelforge.config import Settings
from pixelforge.domain import GenerationRequest
from pixelforge.services.accounts import Principal
from pixelforge.store import ledger
from pixelforge.store.db import Database
from pixelforge.store.jobs import FAILED, SUCCEEDED
from pixelforge.store.models import LedgerEntry
from testing_engines import ZeroWorkEngine

RESERVED = 10_000  # local_per_image 0.01 USD
GRANT = 100_000
_names = itertools.count()


@pytest.fixture(params=["sqlite", "postgres"])
def container(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Container]:
    url = None
    if request.param == "postgres":
        url = request.getfixturevalue("postgres_server").create_database(f"charge_{next(_names)}")
    c = Container.build(
        Settings(home=tmp_path, workers=0, local_price_per_image="0.01", database_url=url),
        [ZeroWorkEngine()], Metrics(lambda: 0),
    )  # fmt: skip
    yield c
    c.stop()


@pytest.fixture
def payer(container: Container) -> Principal:
    user = container.accounts.create_user("payer@example.com", None)
    container.credits.grant(user.id, GRANT)
    key, _ = container.accounts.create_key(user.id, "k")
    return Principal(user.id, user.email, "member", "key", api_key_id=key.id)


@pytest.fixture
def job_id(container: Container, payer: Principal) -> str:
    request = GenerationRequest(prompt="x", model="zero")
    return container.jobs.submit(request, principal=payer).job.id


def settle(container: Container, job_id: str, capture: bool, amount: int | None) -> bool:
    with container.db.write() as s:
        return ledger.settle(s.connection(), job_id, capture, time.time(), "test", amount)


def settlement(container: Container, job_id: str) -> Any:
    with container.db.read() as s:
        return s.execute(
            select(LedgerEntry.kind, LedgerEntry.amount, LedgerEntry.delta).where(
                LedgerEntry.settles == job_id
            )
        ).one()


def balance(container: Container, payer: Principal) -> int:
    return container.credits.balance(payer.user_id or "")


def test_capture_below_reservation_returns_the_rest(
    container: Container, payer: Principal, job_id: str
) -> None:
    assert settle(container, job_id, True, 6_500)
    assert balance(container, payer) == GRANT - 6_500


def test_capture_row_records_charge_and_returned_delta(container: Container, job_id: str) -> None:
    settle(container, job_id, True, 6_500)
    assert tuple(settlement(container, job_id)) == (ledger.CAPTURE, 6_500, RESERVED - 6_500)


def test_capture_above_reservation_is_capped_at_reservation(
    container: Container, payer: Principal, job_id: str
) -> None:
    settle(container, job_id, True, RESERVED * 5)
    assert tuple(settlement(container, job_id)) == (ledger.CAPTURE, RESERVED, 0)
    assert balance(container, payer) == GRANT - RESERVED


def test_capture_without_amount_charges_the_reservation(
    container: Container, payer: Principal, job_id: str
) -> None:
    settle(container, job_id, True, None)
    assert balance(container, payer) == GRANT - RESERVED


def test_capture_of_zero_returns_everything(
    container: Container, payer: Principal, job_id: str
) -> None:
    settle(container, job_id, True, 0)
    assert balance(container, payer) == GRANT


def test_settle_refund_with_amount_is_refused(container: Container, job_id: str) -> None:
    with pytest.raises(ValueError, match="only a capture"):
        settle(container, job_id, False, 5)


def test_settle_negative_amount_is_refused(container: Container, job_id: str) -> None:
    with pytest.raises(ValueError, match="negative"):
        settle(container, job_id, True, -1)


def test_settle_after_partial_capture_returns_false(
    container: Container, payer: Principal, job_id: str
) -> None:
    assert settle(container, job_id, True, 4_000)
    assert settle(container, job_id, False, None) is False
    assert settle(container, job_id, True, 1_000) is False
    assert balance(container, payer) == GRANT - 4_000


def test_ledger_capture_that_takes_more_than_reserved_violates_check(
    container: Container, payer: Principal, job_id: str
) -> None:
    with pytest.raises(IntegrityError), container.db.write() as s:
        ledger.entry(
            s.connection(), user_id=payer.user_id, job_id=job_id, api_key_id=None,
            kind=ledger.CAPTURE, amount=RESERVED + 1, delta=-1, model="zero", settles=job_id,
            note="", created_at=time.time(),
        )  # fmt: skip


def test_spent_since_and_key_spent_count_only_the_charge(
    container: Container, payer: Principal, job_id: str
) -> None:
    settle(container, job_id, True, 2_500)
    with container.db.read() as s:
        conn = s.connection()
        spent = ledger.spent_since(conn, payer.user_id or "", 0.0)
        by_key = ledger.key_spent(conn, payer.api_key_id or "")
    assert (spent, by_key) == (2_500, 2_500)


def test_queue_finish_success_captures_the_charge(
    container: Container, payer: Principal, job_id: str
) -> None:
    claimed = container.queue.claim("w")
    assert claimed is not None
    assert container.queue.finish(claimed, SUCCEEDED, charge=3_000)
    assert balance(container, payer) == GRANT - 3_000


def test_queue_finish_failure_refunds_whatever_the_charge(
    container: Container, payer: Principal, job_id: str
) -> None:
    claimed = container.queue.claim("w")
    assert claimed is not None
    assert container.queue.finish(claimed, FAILED, charge=3_000)
    assert tuple(settlement(container, job_id)) == (ledger.REFUND, RESERVED, RESERVED)
    assert balance(container, payer) == GRANT


def test_queue_reservation_reads_the_held_amount(container: Container, job_id: str) -> None:
    assert container.queue.reservation(job_id) == RESERVED
    assert container.queue.reservation("job_unknown") is None


def test_usage_report_sums_the_charges(container: Container, payer: Principal, job_id: str) -> None:
    settle(container, job_id, True, 1_234)
    (row,) = container.credits.usage()
    assert (row["jobs"], row["charged"]) == (1, "0.001234")


def test_migration_0003_keeps_ledger_rows_of_0002_and_adds_the_check(tmp_path: Path) -> None:
    from importlib import resources

    from alembic import command
    from alembic.config import Config

    db = Database(f"sqlite:///{tmp_path / 'old.db'}")
    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("pixelforge.store") / "migrations"))
    try:
        with db.write_engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0002")
            conn.exec_driver_sql(
                "INSERT INTO users (id, email, role, disabled, created_at) "
                "VALUES ('u1', 'old@example.com', 'member', 0, 0)"
            )
            for kind, amount, delta in (("grant", 50, 50), ("reserve", 20, -20),
                                        ("capture", 20, 0)):  # fmt: skip
                conn.execute(
                    text(
                        "INSERT INTO ledger_entries (user_id, job_id, kind, amount, delta, "
                        "settles, note, created_at) VALUES ('u1', 'j1', :kind, :amount, :delta, "
                        ":settles, '', 0)"
                    ),
                    {"kind": kind, "amount": amount, "delta": delta,
                     "settles": "j1" if kind == "capture" else None},
                )  # fmt: skip
        db.migrate()
        with db.read() as s:
            assert ledger.balance(s.connection(), "u1") == 30
        with pytest.raises(IntegrityError), db.write() as s:
            ledger.entry(
                s.connection(), user_id="u1", job_id="j2", api_key_id=None, kind=ledger.REFUND,
                amount=5, delta=-5, model=None, settles="j2", note="", created_at=0.0,
            )  # fmt: skip
    finally:
        db.dispose()
