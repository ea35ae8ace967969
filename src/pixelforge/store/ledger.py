"""The credits ledger: append-only rows; a balance is the sum of their signed deltas.

Kinds: ``grant`` (+), ``adjust`` (±), ``reserve`` (−, when a job is accepted), and exactly one
of ``capture`` or ``refund`` (+, the reservation comes back) per job. A capture's ``amount`` is
the charge, at most the reservation; its ``delta`` (reservation − charge, never negative)
returns the rest. The unique ``settles`` column (the job id, on capture and refund rows only)
makes "one settlement per job" a database rule, ``(job_id, kind)`` is unique too, and a check
constraint makes a settlement's delta never negative: a settlement can give back, never take.
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


def _spent(conn: Connection, *where: Any) -> int:
    """Reserved minus what came back (refunds, and the part of captures below the reservation)."""
    moved = select(func.coalesce(func.sum(_L.c.delta), 0)).where(
        *where, _L.c.kind.in_((RESERVE, CAPTURE, REFUND))
    )
    return -int(conn.execute(moved).scalar_one())


def spent_since(conn: Connection, user_id: str, since: float) -> int:
    """Credits held or charged (reservations not given back) since ``since``."""
    return _spent(conn, _L.c.user_id == user_id, _L.c.created_at >= since)


def key_spent(conn: Connection, api_key_id: str) -> int:
    return _spent(conn, _L.c.api_key_id == api_key_id)


def entry(conn: Connection, **row: Any) -> None:
    conn.execute(insert(_L), [row])


def reserved(conn: Connection, job_id: str) -> int | None:
    """The amount held for a job, or None when nothing was reserved."""
    amount = conn.execute(
        select(_L.c.amount).where(_L.c.job_id == job_id, _L.c.kind == RESERVE)
    ).scalar_one_or_none()
    return None if amount is None else int(amount)


def settle(
    conn: Connection, job_id: str, capture: bool, now: float, note: str = "",
    amount: int | None = None,
) -> bool:  # fmt: skip
    """Capture or refund a job's reservation, once. False if there is nothing to settle.

    A capture charges ``amount`` (default: the whole reservation), never more than the
    reservation: a larger amount is capped, and what is not charged returns to the balance.
    """
    if amount is not None and (not capture or amount < 0):
        raise ValueError("amount: only a capture takes an amount, and it cannot be negative")
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
    if capture:
        charge = held.amount if amount is None else min(int(amount), held.amount)
        kind, delta = CAPTURE, held.amount - charge
    else:
        kind, charge, delta = REFUND, held.amount, held.amount
    entry(
        conn, user_id=held.user_id, job_id=job_id, api_key_id=held.api_key_id, kind=kind,
        amount=charge, delta=delta, model=held.model, settles=job_id, note=note[:400],
        created_at=now,
    )  # fmt: skip
    return True
