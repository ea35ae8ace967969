"""Compare: one brief sent to several models (or one model with several settings) at once.

A compare is 2 to :data:`MAX_ENTRIES` entries, each an ordinary job (so credits, idempotency,
queueing, fallbacks and the per-user concurrency cap all apply), submitted together: all of
them or none. Its view puts the entries side by side with their status, assets, seconds, cost
and output size. The owner then votes on pairs of finished entries (``services.arena`` turns
the votes into a leaderboard). Compares belong to their owner like jobs and assets: anyone
else gets the 404 a missing id gets (admins see every compare but vote only on their own).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pixelforge.domain import GenerationRequest
from pixelforge.domain.ratings import Outcome
from pixelforge.errors import (
    InvalidRequestError,
    JobStateError,
    NotFoundError,
    PermissionDeniedError,
    PixelforgeError,
)
from pixelforge.services.accounts import LOCAL, Principal
from pixelforge.services.generate import EncodedImage, GenerateService
from pixelforge.services.jobs import Idempotency, JobService, Submitted
from pixelforge.services.pricing import PriceTable, charge_for, from_micro
from pixelforge.store.db import Database
from pixelforge.store.jobs import SUCCEEDED, TERMINAL, new_id
from pixelforge.store.models import ArenaVote, Asset, Compare, CompareEntry, Job

MIN_ENTRIES, MAX_ENTRIES = 2, 8


class Category(StrEnum):
    """What a compare is for; the leaderboard is kept per category."""

    POSTER = "poster"
    PRODUCT = "product"
    PORTRAIT = "portrait"
    INFOGRAPHIC = "infographic"
    UI = "ui"
    THUMBNAIL = "thumbnail"
    CONCEPT = "concept"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class EntrySpec:
    """One entry to run: its request, the label naming its settings, its options as given."""

    request: GenerationRequest
    label: str = ""
    options: dict[str, Any] | None = None


def check_entries(entries: Sequence[EntrySpec], param: str = "entries") -> None:
    """2..8 entries, each model-and-label pair once (a model given twice needs labels)."""
    if not MIN_ENTRIES <= len(entries) <= MAX_ENTRIES:
        raise InvalidRequestError(
            f"{param}: a compare needs {MIN_ENTRIES} to {MAX_ENTRIES} entries; got "
            f"{len(entries)}", param=param,
        )  # fmt: skip
    seen: dict[tuple[str, str], int] = {}
    for i, entry in enumerate(entries):
        key = (entry.request.model, entry.label)
        if key in seen:
            shown = f"model {key[0]!r}" + (f" with label {key[1]!r}" if key[1] else "")
            raise InvalidRequestError(
                f"{param}[{i}].label: {shown} is already entry {seen[key]}; give each entry of "
                "the same model a different label (e.g. 'steps 30')", param=f"{param}[{i}].label",
            )  # fmt: skip
        seen[key] = i


@dataclass(frozen=True, slots=True)
class _Loaded:
    compare: Compare
    entries: list[CompareEntry]
    jobs: dict[str, Job]
    assets: dict[str, list[Asset]]  # job id -> its assets, in order
    votes: list[ArenaVote]


class CompareService:
    def __init__(self, db: Database, jobs: JobService, clock: Callable[[], float] = time.time):
        self.db, self.jobs, self.clock = db, jobs, clock

    def create(
        self, prompt: str, category: Category, entries: Sequence[EntrySpec],
        principal: Principal = LOCAL, idem: Idempotency | None = None,
        workspace: str | None = None,
    ) -> tuple[Compare, bool]:  # fmt: skip
        """Submit one job per entry and record the compare; (compare, replayed). ``workspace``
        tags every entry's assets (see ``JobService.submit``)."""
        check_entries(entries)
        compare = Compare(id=new_id("cmp"), user_id=principal.user_id, prompt=prompt,
                          category=category.value, created_at=self.clock())  # fmt: skip

        def record(s: Session, jobs: list[Job]) -> None:
            s.add(compare)
            s.flush()
            for i, (entry, job) in enumerate(zip(entries, jobs, strict=True)):
                s.add(CompareEntry(
                    id=new_id("entry"), compare_id=compare.id, position=i,
                    model=entry.request.model, label=entry.label, options=entry.options,
                    job_id=job.id, price=self.jobs.prices.price(entry.request),
                ))  # fmt: skip

        requests = [entry.request for entry in entries]
        submitted = self.jobs.submit_group(requests, record, idem, principal=principal,
                                           workspace=workspace)  # fmt: skip
        if isinstance(submitted, Submitted):
            return self._of_job(submitted.job.id), True
        return compare, False

    def _of_job(self, job_id: str) -> Compare:
        with self.db.read() as s:
            compare = s.scalar(
                select(Compare).join(CompareEntry, CompareEntry.compare_id == Compare.id)
                .where(CompareEntry.job_id == job_id)
            )  # fmt: skip
        if compare is None:
            raise NotFoundError("the compare this Idempotency-Key made is gone",
                                param="Idempotency-Key", code="compare_not_found")  # fmt: skip
        return compare

    def get(self, compare_id: str, principal: Principal = LOCAL) -> Compare:
        """The compare, if it exists and the caller may see it; 404 alike otherwise."""
        with self.db.read() as s:
            compare = s.get(Compare, compare_id)
        if compare is None or not (principal.is_admin or compare.user_id == principal.user_id):
            raise NotFoundError(f"compare {compare_id!r} not found", param="compare_id",
                                code="compare_not_found")  # fmt: skip
        return compare

    def _load(self, s: Session, compare: Compare) -> _Loaded:
        entries = list(s.scalars(select(CompareEntry).where(
            CompareEntry.compare_id == compare.id).order_by(CompareEntry.position)))  # fmt: skip
        job_ids = [e.job_id for e in entries]
        jobs = {j.id: j for j in s.scalars(select(Job).where(Job.id.in_(job_ids)))}
        assets: dict[str, list[Asset]] = {job_id: [] for job_id in job_ids}
        query = select(Asset).where(Asset.job_id.in_(job_ids)).order_by(Asset.position)
        for asset in s.scalars(query):
            assets[str(asset.job_id)].append(asset)
        votes = list(s.scalars(select(ArenaVote).where(
            ArenaVote.compare_id == compare.id).order_by(ArenaVote.id)))  # fmt: skip
        return _Loaded(compare, entries, jobs, assets, votes)

    def view(self, compare: Compare) -> dict[str, Any]:
        """The compare as the API shows it: entries side by side, then the votes."""
        with self.db.read() as s:
            loaded = self._load(s, compare)
        entries = [self._entry_view(e, loaded) for e in loaded.entries]
        done = all(e["status"] in TERMINAL for e in entries)
        return {
            "id": compare.id, "object": "compare", "prompt": compare.prompt,
            "category": compare.category, "created": int(compare.created_at),
            "status": "finished" if done else "running", "entries": entries,
            "votes": [_vote_view(v) for v in loaded.votes],
        }  # fmt: skip

    def _entry_view(self, entry: CompareEntry, loaded: _Loaded) -> dict[str, Any]:
        job = loaded.jobs[entry.job_id]
        shown = [a for a in loaded.assets[entry.job_id] if not a.deleted]
        made = loaded.assets[entry.job_id]
        job_view = self.jobs.view(job)
        seconds = (job.result or {}).get("seconds") if job.status == SUCCEEDED else None
        return {
            "id": entry.id, "position": entry.position, "model": entry.model,
            "label": entry.label or None, "options": entry.options, "job_id": job.id,
            "status": job.status, "progress": job_view["progress"], "error": job.error,
            "served_by": made[0].model if made else None,
            "assets": [a.id for a in shown], "seconds": seconds,
            "cost": job_view["cost"], "price": str(from_micro(entry.price)),
            "size": f"{made[0].width}x{made[0].height}" if made else None,
            "bytes": sum(a.bytes for a in made) if made else None,
        }  # fmt: skip

    def vote(
        self, compare_id: str, a: str, b: str, winner: Outcome, principal: Principal = LOCAL
    ) -> tuple[ArenaVote, bool]:
        """Record the owner's vote on two finished entries; (vote, replaced an earlier one).

        A later vote on the same pair (either order) replaces the earlier one.
        """
        compare = self.get(compare_id, principal)
        if compare.user_id != principal.user_id:
            raise PermissionDeniedError(f"only the owner of compare {compare_id!r} votes on it",
                                        code="owner_required")  # fmt: skip
        if a == b:
            raise InvalidRequestError(f"b: {b!r} is entry a too; vote on two different entries",
                                      param="b")  # fmt: skip
        with self.db.write() as s:
            loaded = self._load(s, compare)
            sides = [self._side(loaded, entry_id, name) for entry_id, name in ((a, "a"), (b, "b"))]
            (model_a, label_a), (model_b, label_b) = sides
            if sides[0] == sides[1]:
                raise InvalidRequestError(
                    f"b: both entries were made by model {model_b!r} (a fallback ran); a vote "
                    "between a model and itself says nothing", param="b",
                )  # fmt: skip
            pair = "|".join(sorted((a, b)))
            earlier = next((v for v in loaded.votes if v.pair == pair), None)
            if earlier is not None:
                s.delete(earlier)
                s.flush()
            vote = ArenaVote(
                compare_id=compare.id, user_id=principal.user_id, category=compare.category,
                pair=pair, entry_a=a, entry_b=b, model_a=model_a, label_a=label_a,
                model_b=model_b, label_b=label_b, winner=winner, created_at=self.clock(),
            )  # fmt: skip
            s.add(vote)
            s.flush()
        return vote, earlier is not None

    @staticmethod
    def _side(loaded: _Loaded, entry_id: str, param: str) -> tuple[str, str]:
        """(model that made the entry's images, label) of a finished entry of the compare."""
        entry = next((e for e in loaded.entries if e.id == entry_id), None)
        if entry is None:
            ids = ", ".join(e.id for e in loaded.entries)
            raise InvalidRequestError(
                f"{param}: {entry_id!r} is not an entry of compare {loaded.compare.id!r}; its "
                f"entries: {ids}", param=param,
            )  # fmt: skip
        job, made = loaded.jobs[entry.job_id], loaded.assets[entry.job_id]
        if job.status != SUCCEEDED or not made:
            raise JobStateError(
                f"{param}: entry {entry_id!r} is {job.status}; only entries whose job "
                "succeeded can be voted on", param=param,
            )  # fmt: skip
        return made[0].model, entry.label


def _vote_view(vote: ArenaVote) -> dict[str, Any]:
    return {"a": vote.entry_a, "b": vote.entry_b, "winner": vote.winner,
            "created": int(vote.created_at)}  # fmt: skip


def vote_view(vote: ArenaVote, replaced: bool) -> dict[str, Any]:
    """A vote as ``POST /api/compare/{id}/votes`` answers it."""
    return {
        "object": "compare.vote", "compare_id": vote.compare_id, **_vote_view(vote),
        "category": vote.category,
        "models": {"a": _contestant(vote.model_a, vote.label_a),
                   "b": _contestant(vote.model_b, vote.label_b)},
        "replaced": replaced,
    }  # fmt: skip


def _contestant(model: str, label: str) -> dict[str, str | None]:
    return {"model": model, "label": label or None}


@dataclass(frozen=True, slots=True)
class LocalOutcome:
    """One entry run in-process (the CLI): its images, seconds and cost, or its error."""

    model: str
    images: list[EncodedImage]
    seconds: float
    cost: int | None
    error: str | None = None


def run_locally(
    service: GenerateService, prices: PriceTable, requests: Sequence[GenerationRequest]
) -> list[LocalOutcome]:
    """Run every request in turn; one failing model does not stop the others.

    ``cost`` is what the run would be charged at the price table (its usage cost when the
    engine reported usage, never more than the price).
    """
    outcomes = []
    for request in requests:
        try:
            result, images, seconds = service.run(request)
        except PixelforgeError as exc:
            outcomes.append(LocalOutcome(request.model, [], 0.0, None, exc.message))
            continue
        infos = [img.info for img in result.images]
        charge = charge_for(prices.price(request), prices.usage_cost(request.model, infos),
                            len(images))  # fmt: skip
        outcomes.append(LocalOutcome(request.model, images, seconds, charge.total))
    return outcomes
