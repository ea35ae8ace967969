"""Everything the server runs on, built once in the app's lifespan."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from pixelforge.api.metrics import Metrics
from pixelforge.api.ratelimit import RateLimiter
from pixelforge.bootstrap import output_chain
from pixelforge.config import Settings
from pixelforge.engines.base import Engine
from pixelforge.engines.registry import ModelRegistry
from pixelforge.engines.resilience import CircuitBreaker, ResilientRunner
from pixelforge.jobs.worker import JobRunner, WorkerPool
from pixelforge.services.accounts import Accounts
from pixelforge.services.arena import Arena
from pixelforge.services.assets import AssetService
from pixelforge.services.batches import BatchService
from pixelforge.services.compare import CompareService
from pixelforge.services.credits import Credits
from pixelforge.services.export import ExportService
from pixelforge.services.fetch import FetchPolicy, SafeFetcher
from pixelforge.services.files import FileService
from pixelforge.services.jobs import JobService
from pixelforge.services.previews import PreviewBoard
from pixelforge.services.pricing import PriceTable
from pixelforge.services.references import ReferenceService
from pixelforge.services.text_overlay import TextOverlayService
from pixelforge.services.thread_tree import EditThreadService
from pixelforge.services.threads import ThreadService
from pixelforge.services.upscale import UpscaleService
from pixelforge.services.variations import VariationService
from pixelforge.store.blobs import LocalBlobStore
from pixelforge.store.db import Database
from pixelforge.store.jobs import JobQueue


@dataclass(slots=True)
class Container:
    settings: Settings
    db: Database
    registry: ModelRegistry
    queue: JobQueue
    jobs: JobService
    assets: AssetService
    pool: WorkerPool
    metrics: Metrics
    accounts: Accounts
    prices: PriceTable
    credits: Credits
    threads: ThreadService
    compares: CompareService
    arena: Arena
    limiter: RateLimiter = field(default_factory=lambda: RateLimiter(0))
    fetcher: SafeFetcher = field(default_factory=SafeFetcher)
    previews: PreviewBoard = field(default_factory=PreviewBoard)
    _users_seen: list[float] = field(default_factory=lambda: [0.0, 0.0])
    files: FileService = field(init=False)
    batches: BatchService = field(init=False)

    def auth_required(self) -> bool:
        """Sign-in is needed when configured so, or (``auto``) once any user exists."""
        mode = self.settings.auth
        if mode != "auto":
            return mode == "required"
        checked, found = self._users_seen
        if found or time.monotonic() - checked < 2.0:
            return bool(found)
        found_now = self.accounts.any_users()
        self._users_seen[:] = [time.monotonic(), 1.0 if found_now else 0.0]
        return found_now

    @classmethod
    def build(cls, settings: Settings, engines: Sequence[Engine], metrics: Metrics) -> Container:
        settings.home.mkdir(parents=True, exist_ok=True)
        db = Database(settings.resolved_database_url)
        db.migrate()
        blobs = LocalBlobStore(settings.blob_dir)
        registry = ModelRegistry(engines)
        queue = JobQueue(db, settings.lease_seconds, user_concurrency=settings.user_concurrency)
        accounts = Accounts(db, session_seconds=settings.session_days * 86400)
        prices = PriceTable.load(settings.prices_file, settings.local_price_per_image)
        known = {m.id for m in registry.models()}
        for model, chain in settings.fallbacks.items():
            unknown = [m for m in (model, *chain) if m not in known]
            if unknown:
                raise ValueError(
                    f"PIXELFORGE_FALLBACKS names models this server does not serve: "
                    f"{', '.join(unknown)}; served: {', '.join(sorted(known))}"
                )
        breaker = CircuitBreaker(settings.breaker_failures, settings.breaker_cooldown_seconds)
        previews = PreviewBoard()
        runner = JobRunner(queue, registry, blobs, ResilientRunner(registry, breaker,
                                                                    settings.fallbacks),
                           prices, previews, output_chain(settings))  # fmt: skip
        jobs = JobService(
            queue, registry, blobs, max_attempts=settings.max_attempts,
            retention_seconds=settings.idempotency_retention_hours * 3600, prices=prices,
        )  # fmt: skip
        files = FileService(db, blobs, settings.batch_max_file_bytes)
        batches = BatchService(db, jobs, files, max_requests=settings.batch_max_requests,
                               poll_seconds=settings.batch_poll_seconds)  # fmt: skip

        def finished(job_id: str, model: str, status: str, seconds: float) -> None:
            metrics.job_finished(model, status, seconds)
            jobs.notify_finished(job_id)
            batches.wake()

        pool = WorkerPool(queue, runner, settings.workers, settings.poll_seconds, finished)
        jobs.wake = pool.wake
        assets = AssetService(db, blobs)
        built = cls(
            settings, db, registry, queue, jobs, assets, pool, metrics, accounts, prices,
            Credits(db), ThreadService(db, blobs, assets, registry), CompareService(db, jobs),
            Arena(db),
            RateLimiter(settings.rate_limit_per_minute),
            SafeFetcher(FetchPolicy(max_bytes=settings.max_upload_bytes)), previews,
        )  # fmt: skip
        built.files, built.batches = files, batches
        return built

    @property
    def exports(self) -> ExportService:
        """Exports and sidecars of assets, with the output chain's signing identity and
        prompt-metadata setting (stateless: built on the container's services)."""
        return ExportService(self.assets, self.pool.runner.chain, self.settings.max_image_pixels)

    @property
    def variations(self) -> VariationService:
        """Variations of assets (stateless: built on the container's services)."""
        return VariationService(self.db, self.jobs, self.assets, self.registry)

    @property
    def upscales(self) -> UpscaleService:
        """Upscaling assets (stateless: built on the container's services)."""
        return UpscaleService(self.jobs, self.assets, self.registry, self.variations)

    @property
    def text_overlays(self) -> TextOverlayService:
        """The text edit action on assets (stateless: built on the container's services)."""
        return TextOverlayService(self.jobs, self.assets, self.registry, self.references)

    @property
    def edit_threads(self) -> EditThreadService:
        """Edit threads (stateless: built on the container's services)."""
        return EditThreadService(self.db, self.jobs, self.assets, self.threads, self.registry)

    @property
    def references(self) -> ReferenceService:
        """The reference library (stateless: built on the container's database and blobs)."""
        retention = self.settings.idempotency_retention_hours * 3600
        return ReferenceService(self.db, self.assets.blobs, retention_seconds=retention)

    def start(self) -> None:
        self.pool.start()
        self.batches.start()

    def stop(self) -> None:
        self.batches.stop()
        self.pool.stop()
        self.registry.close()
        self.db.dispose()
