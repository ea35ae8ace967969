"""The embedded worker pool: threads that claim jobs, run engines and record results.

Each running job has a lease keeper that renews the lease every third of its length and
turns a cancel request into the engine's cancel token. A worker that dies leaves its lease
to expire; another worker then claims the job again (see ``store.jobs``).

A successful job is charged what its reported usage costs (``services.pricing``; a batch job
at the batch discount), at most its reservation; each asset records its part of that charge
as ``cost``, the job as ``result.cost``. An image whose engine returned conversation state (``info["turn"]``) keeps it
on its asset (``params.turn``), and a job that continues an asset makes it the new assets'
``parent_id``. A job's stored ``workspace`` (see ``JobService.submit``) tags its assets.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from pixelforge.engines.base import CancelToken, ProgressEvent
from pixelforge.engines.registry import ModelRegistry
from pixelforge.engines.resilience import CircuitBreaker, ResilientRunner
from pixelforge.errors import CancelledError, PixelforgeError
from pixelforge.postprocess.chain import BARE, OutputChain
from pixelforge.postprocess.overlay import TextOverlayer
from pixelforge.services.assets import WORKSPACE_KEY
from pixelforge.services.codec import decode_request
from pixelforge.services.generate import TURN_KEY, encode_result
from pixelforge.services.previews import PreviewBoard
from pixelforge.services.pricing import BATCH_KEY, PriceTable, charge_for, from_micro
from pixelforge.store.blobs import BlobStore
from pixelforge.store.jobs import (
    CANCELED,
    FAILED,
    SUCCEEDED,
    Claimed,
    JobQueue,
    LeaseLostError,
    new_id,
)
from pixelforge.store.models import Asset

log = logging.getLogger("pixelforge.worker")

#: Called with (job id, model, status, seconds) when a job ends.
FinishHook = Callable[[str, str, str, float], None]


class _LeaseKeeper(threading.Thread):
    def __init__(self, queue: JobQueue, claimed: Claimed, token: CancelToken) -> None:
        super().__init__(name=f"lease-{claimed.id[-6:]}", daemon=True)
        self.queue, self.claimed, self.token = queue, claimed, token
        self.stopped = threading.Event()
        self.lost = False
        self.cancel_requested = threading.Event()

    def run(self) -> None:
        # Tick at least every second so a cancel request reaches a silent engine quickly.
        while not self.stopped.wait(min(self.queue.lease / 3, 1.0)):
            try:
                if self.queue.heartbeat(self.claimed):
                    self.cancel_requested.set()
                    self.token.cancel()
            except LeaseLostError:
                self.lost = True
                self.token.cancel()
                return
            except Exception:  # a failed renewal is retried on the next tick
                log.exception("lease renewal failed for %s", self.claimed.id)


def _turn(info: Mapping[str, str]) -> dict[str, Any] | None:
    """The conversation state an engine returned for an image, if any."""
    try:
        state = json.loads(info[TURN_KEY]) if TURN_KEY in info else None
    except ValueError:
        log.warning("an engine returned conversation state that is not JSON; not kept")
        return None
    return state if isinstance(state, dict) else None


class JobRunner:
    """Runs one claimed job to its end."""

    def __init__(
        self, queue: JobQueue, registry: ModelRegistry, blobs: BlobStore,
        resilient: ResilientRunner | None = None, prices: PriceTable | None = None,
        previews: PreviewBoard | None = None, chain: OutputChain = BARE,
        overlayer: TextOverlayer | None = None,
    ) -> None:  # fmt: skip
        self.queue, self.registry, self.blobs, self.chain = queue, registry, blobs, chain
        self.overlayer = overlayer or TextOverlayer()
        self.previews = previews or PreviewBoard()
        self.resilient = resilient or ResilientRunner(registry, CircuitBreaker())
        self.prices = prices or PriceTable.load()
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._running: dict[str, CancelToken] = {}

    def shutdown(self) -> None:
        """Stop running jobs at their next step; they go back to the queue, not failed."""
        self.stopping.set()
        with self._lock:
            for token in self._running.values():
                token.cancel()

    def run(self, claimed: Claimed) -> str:
        """Returns the status recorded (``"lost"``: lease lost; ``"released"``: shutdown)."""
        token = CancelToken()
        with self._lock:
            self._running[claimed.id] = token
        try:
            return self._run(claimed, token)
        finally:
            self.previews.drop(claimed.id)
            with self._lock:
                self._running.pop(claimed.id, None)

    def _run(self, claimed: Claimed, token: CancelToken) -> str:
        keeper = _LeaseKeeper(self.queue, claimed, token)
        keeper.start()
        started = time.perf_counter()
        last = [started]

        def on_progress(event: ProgressEvent) -> None:
            # Record progress at most 4 times a second (never for jobs that end sooner: the
            # final write records it); the lease keeper renews the lease through silences.
            if event.preview is not None:
                self.previews.post(claimed.id, event.preview)
            now = time.perf_counter()
            if now - last[0] >= 0.25 and event.fraction < 1.0:
                last[0] = now
                try:
                    if self.queue.heartbeat(claimed, event.fraction, event.message):
                        keeper.cancel_requested.set()
                        token.cancel()
                except LeaseLostError:
                    token.cancel()
                    raise CancelledError("lease lost") from None
            token.raise_if_cancelled()

        try:
            request = decode_request(claimed.request, self.blobs, self.registry)
            outcome = self.resilient.run(request, on_progress, token)
            result, used = outcome.result, outcome.model
            run_seconds = time.perf_counter() - started
            encoded = encode_result(dataclasses.replace(request, model=used), result, self.chain,
                                    self.overlayer)  # fmt: skip
            infos = [img.info for img in result.images]
            costs = self.prices.usage_cost(used, infos, bool(claimed.request.get(BATCH_KEY)))
            charge = charge_for(self.queue.reservation(claimed.id), costs, len(encoded))
            parent = claimed.request.get("continue_from")
            workspace = claimed.request.get(WORKSPACE_KEY)
            assets = []
            for i, (img, info, share) in enumerate(zip(encoded, infos, charge.shares, strict=True)):
                key = self.blobs.put(img.data, img.extension)
                params: dict[str, Any] = {**img.metadata}
                if used != request.model:
                    params["fallback_from"] = request.model
                if (turn := _turn(info)) is not None:
                    params[TURN_KEY] = turn
                assets.append(Asset(
                    id=new_id("img"), job_id=claimed.id, user_id=claimed.user_id, position=i,
                    blob_key=key,
                    format=request.output_format.value, width=img.width, height=img.height,
                    bytes=len(img.data), model=used, seed=img.seed, prompt=request.prompt,
                    params=params, parent_id=parent if isinstance(parent, str) else None,
                    timings={"run_s": round(run_seconds, 4)}, cost=str(from_micro(share)),
                    created_at=self.queue.clock(), deleted=False, watermark_id=img.watermark_id,
                    workspace=workspace if isinstance(workspace, str) else None,
                ))  # fmt: skip
            total = time.perf_counter() - started
            outcome_body: dict[str, Any] = {"assets": [a.id for a in assets],
                                            "seconds": round(total, 4)}  # fmt: skip
            if charge.total is not None:
                outcome_body["cost"] = charge.total
            ok = self.queue.finish(claimed, SUCCEEDED, assets=assets, result=outcome_body,
                                   charge=charge.total)  # fmt: skip
            return SUCCEEDED if ok else "lost"
        except CancelledError:
            if keeper.lost:
                return "lost"
            if self.stopping.is_set() and not keeper.cancel_requested.is_set():
                self.queue.release(claimed, "worker shut down; waiting for another")
                return "released"
            ok = self.queue.finish(
                claimed, CANCELED, error={"code": "job_cancelled", "message": "cancelled"}
            )
            return CANCELED if ok else "lost"
        except PixelforgeError as exc:
            body = {"code": exc.code, "message": exc.message, "type": exc.type}
            return FAILED if self.queue.finish(claimed, FAILED, error=body) else "lost"
        except Exception:
            log.exception("job %s failed", claimed.id)
            body = {"code": "engine_error", "message": "the engine failed", "type": "server_error"}
            return FAILED if self.queue.finish(claimed, FAILED, error=body) else "lost"
        finally:
            keeper.stopped.set()


class WorkerPool:
    """``size`` threads claiming and running jobs until stopped."""

    def __init__(
        self, queue: JobQueue, runner: JobRunner, size: int, poll_seconds: float,
        on_finish: FinishHook | None = None,
    ) -> None:  # fmt: skip
        self.queue, self.runner = queue, runner
        self.size, self.poll = size, poll_seconds
        self.on_finish = on_finish
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.name = new_id("worker")

    def start(self) -> None:
        for i in range(self.size):
            t = threading.Thread(target=self._loop, args=(f"{self.name}-{i}",), daemon=True,
                                 name=f"pixelforge-worker-{i}")  # fmt: skip
            t.start()
            self._threads.append(t)

    def wake(self) -> None:
        self._wake.set()

    @property
    def alive(self) -> int:
        return sum(t.is_alive() for t in self._threads)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop claiming; running jobs are interrupted and put back in the queue."""
        self._stop.set()
        self._wake.set()
        self.runner.shutdown()
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))

    def _loop(self, owner: str) -> None:
        busy = False
        while not self._stop.is_set():
            try:
                claimed = self.queue.claim(owner, look_first=not busy)
            except Exception:
                log.exception("claim failed")
                claimed = None
            if claimed is None:
                busy = self._wake.wait(self.poll)
                self._wake.clear()
                continue
            busy = True
            started = time.perf_counter()
            status = self.runner.run(claimed)
            if self.on_finish is not None:
                self.on_finish(claimed.id, claimed.model, status, time.perf_counter() - started)
