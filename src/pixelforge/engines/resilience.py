"""Circuit breakers and fallback chains around engines.

A model whose provider keeps failing (``UpstreamError``: 5xx, rate limits after retries,
timeouts) is skipped for a cool-down instead of being hammered. A request for a model with a
fallback chain (e.g. gemini-3-pro-image-preview -> gemini-2.5-flash-image -> gpt-image-1)
moves down the chain when a model fails upstream or its breaker is open; models that cannot
honour the request (capabilities) are skipped. Safety blocks, bad input and cancellation
never fall back. Timeouts open the breaker but do not fall back: the provider may have done
(and billed) the work.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from pixelforge.domain import GenerationRequest
from pixelforge.engines.base import CancelToken, GenerationResult, ProgressSink
from pixelforge.engines.registry import ModelRegistry
from pixelforge.errors import (
    CapabilityError,
    ProviderUnavailableError,
    UpstreamError,
    UpstreamTimeoutError,
)


class CircuitBreaker:
    """Per model: ``failures`` upstream failures in a row open it for ``cooldown`` seconds."""

    def __init__(
        self, failures: int = 5, cooldown: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:  # fmt: skip
        self.failures, self.cooldown, self.clock = failures, cooldown, clock
        self._lock = threading.Lock()
        self._state: dict[str, tuple[int, float]] = {}  # model -> (failures in a row, open until)

    def allow(self, model: str) -> bool:
        with self._lock:
            _, open_until = self._state.get(model, (0, 0.0))
            return self.clock() >= open_until

    def success(self, model: str) -> None:
        with self._lock:
            self._state.pop(model, None)

    def failure(self, model: str) -> None:
        with self._lock:
            count, open_until = self._state.get(model, (0, 0.0))
            count += 1
            if count >= self.failures:
                open_until, count = self.clock() + self.cooldown, 0
            self._state[model] = (count, open_until)


@dataclass(frozen=True, slots=True)
class Outcome:
    result: GenerationResult
    model: str
    skipped: tuple[str, ...]


class ResilientRunner:
    def __init__(
        self, registry: ModelRegistry, breaker: CircuitBreaker,
        fallbacks: Mapping[str, Sequence[str]] | None = None,
    ) -> None:  # fmt: skip
        self.registry, self.breaker = registry, breaker
        self.fallbacks = {k: tuple(v) for k, v in (fallbacks or {}).items()}

    def run(
        self, request: GenerationRequest, progress: ProgressSink, cancel: CancelToken
    ) -> Outcome:
        """Run on the requested model, or down its fallback chain; raise the last failure."""
        chain = [request.model, *self.fallbacks.get(request.model, ())]
        skipped: list[str] = []
        last: UpstreamError | None = None
        for model in chain:
            candidate = request
            if model != request.model:
                # Another engine's options do not apply: the fallback runs on its defaults.
                candidate = dataclasses.replace(request, model=model, options=None)
            engine, _ = self.registry.resolve(model)
            if model != request.model:
                try:
                    engine.check(candidate)
                except CapabilityError:
                    skipped.append(model)
                    continue
            if not self.breaker.allow(model):
                last = ProviderUnavailableError(f"{model} is failing; paused for a while")
                skipped.append(model)
                continue
            try:
                result = engine.generate(candidate, progress, cancel)
            except UpstreamError as exc:
                self.breaker.failure(model)
                if isinstance(exc, UpstreamTimeoutError):
                    raise
                last = exc
                skipped.append(model)
                continue
            self.breaker.success(model)
            return Outcome(result, model, tuple(skipped))
        assert last is not None
        raise last
