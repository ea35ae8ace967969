"""Engines for server tests: one that does no work, one that blocks until released."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Sequence

from PIL import Image

from pixelforge.domain import ASPECT_RATIOS, Mode, OutputFormat, Tier
from pixelforge.domain.request import GenerationRequest
from pixelforge.engines.base import (
    CancelToken,
    Capabilities,
    Engine,
    GeneratedImage,
    GenerationResult,
    ModelInfo,
    ProgressEvent,
    ProgressSink,
    seeds_for,
)


def capabilities() -> Capabilities:
    return Capabilities(
        modes=frozenset(Mode), max_references=16, mask=True,
        aspect_ratios=frozenset(ASPECT_RATIOS), tiers=frozenset(Tier), explicit_sizes=True,
        max_pixels=4096 * 4096, max_edge=4096, n_max=10, deterministic_seed=True,
        negative_prompt=True, transparent_background=True, formats=frozenset(OutputFormat),
        speed_class="instant",
    )  # fmt: skip


class ZeroWorkEngine(Engine):
    """Returns a small solid image at once (server-overhead measurements)."""

    name = "zero"

    def __init__(self, model_id: str = "zero") -> None:
        self.model_id = model_id

    def models(self) -> Sequence[ModelInfo]:
        return [ModelInfo(self.model_id, self.name, "does no work", capabilities())]

    def run(
        self, request: GenerationRequest, progress: ProgressSink, cancel: CancelToken
    ) -> GenerationResult:
        size = request.output_size
        images = []
        for i, seed in enumerate(seeds_for(request)):
            cancel.raise_if_cancelled()
            images.append(
                GeneratedImage(
                    Image.new("RGB", (size.width, size.height), (seed % 256, 0, 0)), seed
                )
            )
            progress(ProgressEvent("render", (i + 1) / request.n))
        return GenerationResult(request.model, tuple(images))


class BlockingEngine(ZeroWorkEngine):
    """Blocks inside ``run`` until ``release()`` (or cancellation); counts its runs."""

    name = "blocking"

    def __init__(self, model_id: str = "blocking", preview: Image.Image | None = None) -> None:
        super().__init__(model_id)
        self.preview = preview
        self.release_event = threading.Event()
        self.started = threading.Event()
        self.runs = 0
        self._lock = threading.Lock()

    def release(self) -> None:
        self.release_event.set()

    def run(
        self, request: GenerationRequest, progress: ProgressSink, cancel: CancelToken
    ) -> GenerationResult:
        with self._lock:
            self.runs += 1
        progress(ProgressEvent("start", 0.1, "blocking", preview=self.preview))
        self.started.set()
        while not self.release_event.wait(0.02):
            cancel.raise_if_cancelled()
        return super().run(request, progress, cancel)


class FailingEngine(ZeroWorkEngine):
    """Raises the given error on every run and counts its calls."""

    name = "failing"

    def __init__(self, model_id: str, error: Exception) -> None:
        super().__init__(model_id)
        self.error = error
        self.calls = 0

    def models(self) -> Sequence[ModelInfo]:
        (info,) = super().models()
        return [ModelInfo(info.id, self.name, info.description, info.capabilities)]

    def run(
        self, request: GenerationRequest, progress: ProgressSink, cancel: CancelToken
    ) -> GenerationResult:
        self.calls += 1
        raise self.error


class RecordingEngine(ZeroWorkEngine):
    """Keeps every request it runs (as the worker decoded it from the queue), so tests see
    what reached the engine: references, roles, brand kit. Takes ``max_references`` images."""

    name = "recording"

    def __init__(self, model_id: str = "recording", max_references: int = 16) -> None:
        super().__init__(model_id)
        self.max_references = max_references
        self.requests: list[GenerationRequest] = []
        self._lock = threading.Lock()

    def models(self) -> Sequence[ModelInfo]:
        caps = dataclasses.replace(capabilities(), max_references=self.max_references)
        return [ModelInfo(self.model_id, self.name, "records its requests", caps)]

    def run(
        self, request: GenerationRequest, progress: ProgressSink, cancel: CancelToken
    ) -> GenerationResult:
        with self._lock:
            self.requests.append(request)
        return super().run(request, progress, cancel)
