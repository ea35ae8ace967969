"""The arena leaderboard: the votes of compares, fitted with Bradley-Terry, per category.

A contestant is a model (the one that made the images) with the entry's settings label, if
any: ``compose`` and ``compose`` labelled ``svg`` are rated apart. The math, its scale and its
intervals are in :mod:`pixelforge.domain.ratings`. Every user's votes count (``user_id``
narrows it to one user's); a category narrows it to the compares of that use case.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from pixelforge.domain.ratings import PRIOR, Outcome, Rating, Vote, fit
from pixelforge.services.compare import Category
from pixelforge.store.db import Database
from pixelforge.store.models import ArenaVote

METHOD = "bradley-terry"
SCALE_NOTE = "400*log10(strength) + 1000; the ratings average 1000"
INTERVAL_NOTE = "95% Wald interval from the Fisher information at the fit"
CSV_COLUMNS = ("rank", "model", "label", "rating", "ci_low", "ci_high", "wins", "losses",
               "ties", "votes")  # fmt: skip
_OUTCOMES: dict[str, Outcome] = {"a": "a", "b": "b", "tie": "tie"}
_SEPARATOR = "\x1f"  # joins model and label into one player name; labels cannot contain it


@dataclass(frozen=True, slots=True)
class Row:
    rank: int
    model: str
    label: str
    rating: Rating


@dataclass(frozen=True, slots=True)
class Leaderboard:
    category: Category | None
    votes: int
    rows: list[Row]
    prior: float

    def view(self) -> dict[str, Any]:
        return {
            "object": "leaderboard", "category": self.category, "votes": self.votes,
            "method": METHOD, "scale": SCALE_NOTE, "interval": INTERVAL_NOTE,
            "prior": self.prior, "data": [_row_view(row) for row in self.rows],
        }  # fmt: skip

    def to_csv(self) -> str:
        """One line per contestant, best first (text cells cannot start a spreadsheet formula)."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(CSV_COLUMNS)
        for row in self.rows:
            view = _row_view(row)
            view["model"], view["label"] = _cell(row.model), _cell(row.label)
            writer.writerow(view[column] for column in CSV_COLUMNS)
        return buffer.getvalue()


def _row_view(row: Row) -> dict[str, Any]:
    r = row.rating
    return {
        "rank": row.rank, "model": row.model, "label": row.label or None,
        "rating": round(r.rating, 1), "ci_low": round(r.ci_low, 1),
        "ci_high": round(r.ci_high, 1), "wins": r.wins, "losses": r.losses, "ties": r.ties,
        "votes": r.votes,
    }  # fmt: skip


def _cell(text: str) -> str:
    """OWASP CSV-injection guard: a leading =, +, -, @, tab or CR is quoted with '."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


class Arena:
    def __init__(self, db: Database, prior: float = PRIOR) -> None:
        self.db, self.prior = db, prior

    def leaderboard(
        self, category: Category | None = None, user_id: str | None = None
    ) -> Leaderboard:
        """Ratings from every vote (of ``category``, and of ``user_id``, when given)."""
        query = select(ArenaVote.model_a, ArenaVote.label_a, ArenaVote.model_b,
                       ArenaVote.label_b, ArenaVote.winner).order_by(ArenaVote.id)  # fmt: skip
        if category is not None:
            query = query.where(ArenaVote.category == category.value)
        if user_id is not None:
            query = query.where(ArenaVote.user_id == user_id)
        with self.db.read() as s:
            rows = s.execute(query).all()
        # A vote between a contestant and itself is refused when cast; skip any all the same.
        votes = [
            Vote(f"{ma}{_SEPARATOR}{la}", f"{mb}{_SEPARATOR}{lb}", _OUTCOMES[winner])
            for ma, la, mb, lb, winner in rows
            if (ma, la) != (mb, lb)
        ]
        ranked = []
        for rank, rating in enumerate(fit(votes, prior=self.prior), 1):
            model, _, label = rating.player.rpartition(_SEPARATOR)
            ranked.append(Row(rank, model, label, rating))
        return Leaderboard(category, len(votes), ranked, self.prior)
