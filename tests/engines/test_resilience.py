"""Circuit breakers and fallback chains around engines."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from pixelforge.domain import GenerationRequest, Tier
from pixelforge.engines.base import CancelToken, no_progress
from pixelforge.engines.registry import ModelRegistry
from pixelforge.engines.resilience import CircuitBreaker, ResilientRunner
from pixelforge.errors import (
    ProviderUnavailableError,
    SafetyBlockedError,
    UpstreamError,
    UpstreamTimeoutError,
)
from testing_engines import FailingEngine, ZeroWorkEngine


def request(model: str) -> GenerationRequest:
    return GenerationRequest(prompt="x", model=model, tier=Tier.T512, seed=1)


def runner(
    *engines: ZeroWorkEngine, chain: Sequence[str] = (), breaker: CircuitBreaker | None = None
) -> ResilientRunner:
    registry = ModelRegistry(list(engines))
    fallbacks = {"primary": list(chain)} if chain else {}
    return ResilientRunner(registry, breaker or CircuitBreaker(), fallbacks)


def test_run_falls_back_when_primary_fails_upstream() -> None:
    primary = FailingEngine("primary", UpstreamError("down"))
    outcome = runner(primary, ZeroWorkEngine("backup"), chain=["backup"]).run(
        request("primary"), no_progress, CancelToken()
    )
    assert (outcome.model, outcome.skipped) == ("backup", ("primary",))


def test_run_raises_last_failure_when_chain_exhausted() -> None:
    primary = FailingEngine("primary", UpstreamError("down"))
    backup = FailingEngine("backup", UpstreamError("also down"))
    with pytest.raises(UpstreamError, match="also down"):
        runner(primary, backup, chain=["backup"]).run(
            request("primary"), no_progress, CancelToken()
        )


@pytest.mark.parametrize(
    "error",
    [SafetyBlockedError("blocked"), UpstreamTimeoutError("slow")],
    ids=["safety", "timeout"],
)
def test_run_does_not_fall_back_when_error_is_final(error: Exception) -> None:
    primary = FailingEngine("primary", error)
    backup = ZeroWorkEngine("backup")
    with pytest.raises(type(error)):
        runner(primary, backup, chain=["backup"]).run(
            request("primary"), no_progress, CancelToken()
        )


def test_breaker_opens_after_consecutive_failures() -> None:
    now = [0.0]
    breaker = CircuitBreaker(failures=2, cooldown=30.0, clock=lambda: now[0])
    primary = FailingEngine("primary", UpstreamError("down"))
    run = runner(primary, breaker=breaker)
    for _ in range(2):
        with pytest.raises(UpstreamError):
            run.run(request("primary"), no_progress, CancelToken())
    with pytest.raises(ProviderUnavailableError):
        run.run(request("primary"), no_progress, CancelToken())
    assert primary.calls == 2  # the open breaker answered without calling the provider
    now[0] = 31.0
    with pytest.raises(UpstreamError):
        run.run(request("primary"), no_progress, CancelToken())
    assert primary.calls == 3


def test_breaker_closes_again_after_success() -> None:
    breaker = CircuitBreaker(failures=2)
    breaker.failure("m")
    breaker.success("m")
    breaker.failure("m")
    assert breaker.allow("m")
