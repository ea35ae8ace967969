"""The contract suite proves itself on a tiny fake engine; plus the model registry."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import pytest
from contract import EngineContract
from PIL import Image

from pixelforge.domain import ASPECT_RATIOS, GenerationRequest, Mode, OutputFormat, Tier
from pixelforge.engines.base import (
    CancelToken,
    Capabilities,
    Engine,
    GeneratedImage,
    GenerationResult,
    ModelInfo,
    ProgressEvent,
    ProgressSink,
    no_progress,
    seeds_for,
)
from pixelforge.engines.registry import ModelRegistry
from pixelforge.errors import InvalidRequestError

# A narrow model: most capabilities missing, so the violation checks have work to do.
NARROW = Capabilities(
    modes=frozenset({Mode.GENERATE}),
    max_references=0,
    mask=False,
    aspect_ratios=frozenset({"1:1", "3:2", "2:3", "16:9", "9:16"}),
    tiers=frozenset({Tier.T512, Tier.T1K}),
    explicit_sizes=True,
    max_pixels=1024 * 1024,
    max_edge=1024,
    n_max=4,
    deterministic_seed=True,
    negative_prompt=False,
    transparent_background=False,
    formats=frozenset({OutputFormat.PNG}),
    speed_class="instant",
)

# A broad model: nearly everything declared, so most violation checks skip, and the ones that
# always apply (n, oversize) go through the request record's own limits.
BROAD = Capabilities(
    modes=frozenset(Mode),
    max_references=4,
    mask=True,
    aspect_ratios=frozenset(ASPECT_RATIOS),
    tiers=frozenset({Tier.T512, Tier.T1K, Tier.T2K, Tier.T4K}),
    explicit_sizes=False,
    max_pixels=4096 * 4096,
    max_edge=4096,
    n_max=10,
    deterministic_seed=False,
    negative_prompt=True,
    transparent_background=True,
    formats=frozenset(OutputFormat),
    speed_class="fast",
)


class FakeEngine(Engine):
    """Solid colour per seed; one progress step per image; checks the token between images."""

    name = "fake"

    def models(self) -> Sequence[ModelInfo]:
        return [
            ModelInfo("fake-narrow", self.name, "solid colour, few capabilities", NARROW),
            ModelInfo("fake-broad", self.name, "solid colour, many capabilities", BROAD),
        ]

    def run(
        self, request: GenerationRequest, progress: ProgressSink, cancel: CancelToken
    ) -> GenerationResult:
        size = request.output_size
        images = []
        seeds = seeds_for(request)
        for index, seed in enumerate(seeds):
            cancel.raise_if_cancelled()
            rng = random.Random(seed)
            colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
            image = Image.new("RGB", (size.width, size.height), colour)
            images.append(GeneratedImage(image=image, seed=seed))
            progress(ProgressEvent("draw", (index + 1) / len(seeds), index=index))
        return GenerationResult(model=request.model, images=tuple(images))


class CancelIgnoringEngine(FakeEngine):
    """Broken on purpose: never looks at the cancel token once running."""

    def run(
        self, request: GenerationRequest, progress: ProgressSink, cancel: CancelToken
    ) -> GenerationResult:
        return super().run(request, progress, CancelToken())


class UncheckedEngine(FakeEngine):
    """Broken on purpose: skips the capability check and starts work straight away."""

    def generate(
        self,
        request: GenerationRequest,
        progress: ProgressSink = no_progress,
        cancel: CancelToken | None = None,
    ) -> GenerationResult:
        return self.run(request, progress, cancel or CancelToken())


class TestFakeNarrowContract(EngineContract):
    model_id = "fake-narrow"
    sample_prompt = 'Minimal poster, headline "HELLO"'

    @pytest.fixture
    def engine(self) -> Engine:
        return FakeEngine()


class TestFakeBroadContract(EngineContract):
    model_id = "fake-broad"
    sample_prompt = "A lighthouse at dusk"

    @pytest.fixture
    def engine(self) -> Engine:
        return FakeEngine()


class _BrokenContract(EngineContract):
    """Not collected (no ``Test`` prefix): used to run single checks against broken engines."""

    model_id = "fake-narrow"
    sample_prompt = "anything"


def _request(**overrides: Any) -> GenerationRequest:
    return GenerationRequest(
        **{"prompt": "p", "model": "fake-narrow", "tier": Tier.T512, **overrides}
    )


def test_contract_fails_engine_when_cancel_token_ignored_during_run() -> None:
    engine = CancelIgnoringEngine()
    with pytest.raises(pytest.fail.Exception, match="DID NOT RAISE"):
        _BrokenContract().test_generate_raises_cancelled_when_cancelled_during_progress(
            engine, NARROW, _request
        )


def test_contract_passes_engine_when_cancel_token_honoured_during_run() -> None:
    _BrokenContract().test_generate_raises_cancelled_when_cancelled_during_progress(
        FakeEngine(), NARROW, _request
    )


def test_contract_fails_engine_when_capabilities_not_checked() -> None:
    engine = UncheckedEngine()
    run_calls: list[object] = []
    original_run = engine.run

    def spy(*args: Any) -> GenerationResult:
        run_calls.append(args)
        return original_run(*args)

    engine.run = spy  # type: ignore[method-assign]
    with pytest.raises(pytest.fail.Exception, match="DID NOT RAISE"):
        _BrokenContract().test_generate_rejects_before_work_when_capability_lacking(
            engine, NARROW, _request, run_calls, "output_format"
        )
    assert len(run_calls) == 1


def test_broken_engine_returns_all_images_when_cancelled_during_run() -> None:
    token = CancelToken()
    result = CancelIgnoringEngine().generate(_request(n=3), lambda _: token.cancel(), token)
    assert len(result.images) == 3


# --- the registry -------------------------------------------------------------------------


class OtherEngine(FakeEngine):
    name = "other"

    def models(self) -> Sequence[ModelInfo]:
        return [ModelInfo("other-one", self.name, "another", NARROW)]


def test_resolve_returns_serving_engine_when_model_known() -> None:
    fake, other = FakeEngine(), OtherEngine()
    engine, info = ModelRegistry([fake, other]).resolve("other-one")
    assert (engine, info.id) == (other, "other-one")


def test_resolve_raises_with_model_param_when_model_unknown() -> None:
    with pytest.raises(InvalidRequestError) as excinfo:
        ModelRegistry([FakeEngine(), OtherEngine()]).resolve("dall-e-9")
    assert excinfo.value.param == "model"


def test_resolve_names_value_and_known_ids_when_model_unknown() -> None:
    with pytest.raises(InvalidRequestError) as excinfo:
        ModelRegistry([FakeEngine(), OtherEngine()]).resolve("dall-e-9")
    message = excinfo.value.message
    assert "'dall-e-9'" in message
    assert message.endswith("allowed: fake-narrow, fake-broad, other-one")


def test_registry_raises_value_error_when_model_id_served_twice() -> None:
    class Clash(FakeEngine):
        name = "clash"

        def models(self) -> Sequence[ModelInfo]:
            return [ModelInfo("fake-broad", self.name, "clashes", BROAD)]

    with pytest.raises(ValueError, match="fake-broad"):
        ModelRegistry([FakeEngine(), Clash()])


def test_registry_lists_every_model_when_built() -> None:
    ids = [m.id for m in ModelRegistry([FakeEngine(), OtherEngine()]).models()]
    assert ids == ["fake-narrow", "fake-broad", "other-one"]
