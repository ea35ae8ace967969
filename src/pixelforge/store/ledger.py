"""The credits ledger: append-only rows; a balance is the sum of their signed deltas.

Kinds: ``grant`` (+), ``adjust`` (±), ``reserve`` (−, when a job is accepted), and exactly one
of ``capture`` (0: the reservation becomes the charge) or ``refund`` (+, the reservation comes
back) per job. The unique ``settles`` column (the job id, on capture and refund rows only)
makes "one settlement per job" a database rule, and ``(job_id, kind)`` is unique too.
These functions run inside the caller's transaction, on its connection.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table, func, insert, select

from pixelforge.store.models import LedgerEntry

_L: Table = LedgerEntry.__table__  # type: ignore[assignment]

GRANT, ADJUST, RESERVE, CAPTURE, REFUND = "grant", "adjust", "reserve", "capture", "refund"


def balance(conn: Connection, user_id: str) -> int:
    return int(conn.execute(select(func.coalesce(func.sum(_L.c.delta), 0))
                            .where(_L.c.user_id == user_id)).scalar_one())  # fmt: skip


def spent_since(conn: Connection, user_id: str, since: float) -> int:
    """Credits held or charged (reservations not refunded) since ``since``."""
    reserved = select(func.coalesce(func.sum(_L.c.amount), 0)).where(
        _L.c.user_id == user_id, _L.c.kind == RESERVE, _L.c.created_at >= since
    )
    refunded = select(func.coalesce(func.sum(_L.c.amount), 0)).where(
        _L.c.user_id == user_id, _L.c.kind == REFUND, _L.c.created_at >= since
    )
    return int(conn.execute(reserved).scalar_one()) - int(conn.execute(refunded).scalar_one())


def key_spent(conn: Connection, api_key_id: str) -> int:
    reserved = select(func.coalesce(func.sum(_L.c.amount), 0)).where(
        _L.c.api_key_id == api_key_id, _L.c.kind == RESERVE
    )
    refunded = select(func.coalesce(func.sum(_L.c.amount), 0)).where(
        _L.c.api_key_id == api_key_id, _L.c.kind == REFUND
    )
    return int(conn.execute(reserved).scalar_one()) - int(conn.execute(refunded).scalar_one())


def entry(conn: Connection, **row: Any) -> None:
    conn.execute(insert(_L), [row])


def settle(conn: Connection, job_id: str, capture: bool, now: float, note: str = "") -> bool:
    """Capture or refund a job's reservation, once. False if there is nothing to settle."""
    held = conn.execute(
        select(_L.c.user_id, _L.c.amount, _L.c.api_key_id, _L.c.model).where(
            _L.c.job_id == job_id, _L.c.kind == RESERVE
        )
    ).first()
    if held is None:
        return False
    done = conn.execute(select(_L.c.id).where(_L.c.settles == job_id)).first()
    if done is not None:
        return False
    entry(
        conn, user_id=held.user_id, job_id=job_id, api_key_id=held.api_key_id,
        kind=CAPTURE if capture else REFUND, amount=held.amount,
        delta=0 if capture else held.amount, model=held.model, settles=job_id,
        note=note[:400], created_at=now,
    )  # fmt: skip
    return True
