"""The one contract every engine passes, driven by each model's declared Capabilities.

Subclass :class:`EngineContract` in a ``Test*`` class and provide::

    class TestComposeContract(EngineContract):
        @pytest.fixture
        def engine(self) -> Engine:
            return ComposeEngine()

        model_id = "compose"
        sample_prompt = 'Minimal poster, headline "HELLO"'

Optional: ``extra_request_kwargs`` (a mapping merged into every request the suite builds,
e.g. engine options). Only the public contract of ``pixelforge.engines.base`` is used.
Tests whose subject the model does not declare (an undeclared aspect ratio, a capability the
model has so it cannot be violated, determinism when ``deterministic_seed`` is false) skip,
saying why.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import pytest
from PIL import Image

from pixelforge.domain import ASPECT_RATIOS, GenerationRequest, ImageInput, Mode, Reference
from pixelforge.domain.request import Background, EngineOptions, OutputFormat
from pixelforge.domain.sizes import MIN_SIDE, SIDE_STEP, Size, Tier
from pixelforge.engines.base import (
    CancelToken,
    Capabilities,
    Engine,
    GenerationResult,
    ModelInfo,
    ProgressEvent,
)
from pixelforge.errors import CancelledError, CapabilityError, InvalidRequestError

RequestFactory = Callable[..., GenerationRequest]


def reference_image(width: int = 64, height: int = 64) -> ImageInput:
    """A small decoded-and-re-encoded PNG input, as ingest would hand it to an engine."""
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (200, 40, 40)).save(buf, format="PNG")
    return ImageInput(data=buf.getvalue(), width=width, height=height, format="png")


class ForeignOptions(EngineOptions):
    """Options no real engine declares: any model must refuse them."""

    contract_probe: int = 0


def smallest_tier(caps: Capabilities) -> Tier:
    return min(caps.tiers, key=lambda t: t.long_edge)


def base_mode(caps: Capabilities) -> Mode:
    for mode in (Mode.GENERATE, Mode.EDIT, Mode.VARIATION):
        if mode in caps.modes:
            return mode
    raise AssertionError("the model declares no modes")


def images_of(result: GenerationResult) -> list[tuple[tuple[int, int], str, bytes]]:
    return [(g.image.size, g.image.mode, g.image.tobytes()) for g in result.images]


# --- capability violations ----------------------------------------------------------------
# Each builder returns the request overrides that break one capability the model lacks, or
# None when the model has it (then the test skips). The params are what the error may name.

Violation = Callable[[Capabilities], Mapping[str, Any] | None]


def _violate_mode(caps: Capabilities) -> Mapping[str, Any] | None:
    missing = [m for m in Mode if m not in caps.modes]
    if not missing:
        return None
    refs = () if missing[0] is Mode.GENERATE else (Reference(reference_image()),)
    return {"mode": missing[0], "references": refs}


def _violate_references(caps: Capabilities) -> Mapping[str, Any] | None:
    return {"references": (Reference(reference_image()),) * (caps.max_references + 1)}


def _violate_mask(caps: Capabilities) -> Mapping[str, Any] | None:
    if caps.mask:
        return None
    return {
        "mode": Mode.EDIT,
        "references": (Reference(reference_image()),),
        "mask": reference_image(),
    }


def _violate_aspect_ratio(caps: Capabilities) -> Mapping[str, Any] | None:
    missing = [r for r in ASPECT_RATIOS if r not in caps.aspect_ratios]
    return {"aspect_ratio": missing[0]} if missing else None


def _violate_tier(caps: Capabilities) -> Mapping[str, Any] | None:
    missing = [t for t in Tier if t not in caps.tiers]
    return {"tier": missing[0]} if missing else None


def _violate_explicit_size(caps: Capabilities) -> Mapping[str, Any] | None:
    return None if caps.explicit_sizes else {"size": Size(MIN_SIDE * 2, MIN_SIDE)}


def _violate_max_edge(caps: Capabilities) -> Mapping[str, Any]:
    # Always applies: a size one step over max_edge, explicit if the model takes explicit
    # sizes, else the first tier over it; past MAX_SIDE the request record refuses it.
    over = (caps.max_edge // SIDE_STEP + 1) * SIDE_STEP
    if not caps.explicit_sizes:
        for tier in Tier:
            if tier.long_edge > caps.max_edge:
                return {"tier": tier}
    short = max(MIN_SIDE, math.ceil(over / 8 / SIDE_STEP) * SIDE_STEP)
    return {"size": Size(over, short)}


def _violate_n(caps: Capabilities) -> Mapping[str, Any]:
    return {"n": caps.n_max + 1}


def _violate_negative_prompt(caps: Capabilities) -> Mapping[str, Any] | None:
    return None if caps.negative_prompt else {"negative_prompt": "blurry, low quality"}


def _violate_transparent(caps: Capabilities) -> Mapping[str, Any] | None:
    if caps.transparent_background:
        return None
    alpha = [f for f in (OutputFormat.PNG, OutputFormat.WEBP) if f in caps.formats]
    return {
        "background": Background.TRANSPARENT,
        "output_format": alpha[0] if alpha else OutputFormat.PNG,
    }


def _violate_format(caps: Capabilities) -> Mapping[str, Any] | None:
    missing = [f for f in OutputFormat if f not in caps.formats]
    return {"output_format": missing[0]} if missing else None


def _violate_options(caps: Capabilities) -> Mapping[str, Any]:
    return {"options": ForeignOptions()}


VIOLATIONS: dict[str, tuple[Violation, frozenset[str]]] = {
    "mode": (_violate_mode, frozenset({"mode"})),
    "references": (_violate_references, frozenset({"references"})),
    "mask": (_violate_mask, frozenset({"mask", "mode", "references"})),
    "aspect_ratio": (_violate_aspect_ratio, frozenset({"aspect_ratio"})),
    "tier": (_violate_tier, frozenset({"resolution"})),
    "explicit_size": (_violate_explicit_size, frozenset({"size"})),
    "max_edge": (_violate_max_edge, frozenset({"size", "resolution"})),
    "n": (_violate_n, frozenset({"n"})),
    "negative_prompt": (_violate_negative_prompt, frozenset({"negative_prompt"})),
    "transparent_background": (_violate_transparent, frozenset({"background"})),
    "output_format": (_violate_format, frozenset({"output_format"})),
    "options": (_violate_options, frozenset({"options"})),
}


class EngineContract:
    """Mixin of contract tests. A subclass provides ``engine``, ``model_id``, ``sample_prompt``."""

    model_id: ClassVar[str]
    sample_prompt: ClassVar[str]
    extra_request_kwargs: ClassVar[Mapping[str, Any]] = {}

    # --- fixtures -------------------------------------------------------------------------

    @pytest.fixture
    def engine(self) -> Engine:
        raise NotImplementedError("a contract subclass must provide the `engine` fixture")

    @pytest.fixture
    def model_info(self, engine: Engine) -> ModelInfo:
        return engine.model(self.model_id)

    @pytest.fixture
    def caps(self, model_info: ModelInfo) -> Capabilities:
        return model_info.capabilities

    @pytest.fixture
    def make_request(self, caps: Capabilities) -> RequestFactory:
        """Build a request the model accepts, with ``overrides`` applied."""

        def build(**overrides: Any) -> GenerationRequest:
            mode = base_mode(caps)
            kwargs: dict[str, Any] = {
                "prompt": self.sample_prompt,
                "model": self.model_id,
                "mode": mode,
                "references": () if mode is Mode.GENERATE else (Reference(reference_image()),),
                "aspect_ratio": next(r for r in ASPECT_RATIOS if r in caps.aspect_ratios),
                "tier": smallest_tier(caps),
                "output_format": (
                    OutputFormat.PNG if OutputFormat.PNG in caps.formats else min(caps.formats)
                ),
                **self.extra_request_kwargs,
                **overrides,
            }
            return GenerationRequest(**kwargs)

        return build

    @pytest.fixture
    def run_calls(self, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> list[object]:
        """Spy on ``engine.run``: every entry into it is recorded here."""
        calls: list[object] = []
        original = engine.run

        def spy(*args: Any, **kwargs: Any) -> GenerationResult:
            calls.append((args, kwargs))
            return original(*args, **kwargs)

        monkeypatch.setattr(engine, "run", spy)
        return calls

    # --- a. determinism -------------------------------------------------------------------

    def test_generate_repeats_pixels_when_seed_repeats(
        self, engine: Engine, caps: Capabilities, make_request: RequestFactory
    ) -> None:
        if not caps.deterministic_seed:
            pytest.skip(f"model {self.model_id!r} does not declare deterministic_seed")
        first = engine.generate(make_request(seed=12345))
        second = engine.generate(make_request(seed=12345))
        assert images_of(first) == images_of(second)

    def test_generate_changes_pixels_when_seed_changes(
        self, engine: Engine, caps: Capabilities, make_request: RequestFactory
    ) -> None:
        if not caps.deterministic_seed:
            pytest.skip(f"model {self.model_id!r} does not declare deterministic_seed")
        first = engine.generate(make_request(seed=1))
        second = engine.generate(make_request(seed=2))
        assert images_of(first) != images_of(second)

    # --- b. sizes and counts --------------------------------------------------------------

    @pytest.mark.parametrize("aspect_ratio", ASPECT_RATIOS)
    def test_generate_returns_output_size_when_aspect_ratio_declared(
        self,
        engine: Engine,
        caps: Capabilities,
        make_request: RequestFactory,
        aspect_ratio: str,
    ) -> None:
        if aspect_ratio not in caps.aspect_ratios:
            pytest.skip(f"model {self.model_id!r} does not declare aspect ratio {aspect_ratio}")
        request = make_request(aspect_ratio=aspect_ratio)
        result = engine.generate(request)
        expected = (request.output_size.width, request.output_size.height)
        assert [g.image.size for g in result.images] == [expected]

    def test_generate_returns_explicit_size_when_size_given(
        self, engine: Engine, caps: Capabilities, make_request: RequestFactory
    ) -> None:
        if not caps.explicit_sizes:
            pytest.skip(f"model {self.model_id!r} does not declare explicit_sizes")
        width = max(MIN_SIDE * 2, min(caps.max_edge, 512) // SIDE_STEP * SIDE_STEP)
        height = max(MIN_SIDE, width * 5 // 8 // SIDE_STEP * SIDE_STEP)
        assert width * height <= caps.max_pixels, "the probe size must fit the model"
        result = engine.generate(make_request(size=Size(width, height)))
        assert [g.image.size for g in result.images] == [(width, height)]

    def test_generate_returns_one_image_when_n_is_one(
        self, engine: Engine, make_request: RequestFactory
    ) -> None:
        assert len(engine.generate(make_request(n=1)).images) == 1

    def test_generate_returns_n_images_when_n_is_two(
        self, engine: Engine, caps: Capabilities, make_request: RequestFactory
    ) -> None:
        if caps.n_max < 2:
            pytest.skip(f"model {self.model_id!r} declares n_max={caps.n_max}")
        request = make_request(n=2)
        result = engine.generate(request)
        expected = (request.output_size.width, request.output_size.height)
        assert [g.image.size for g in result.images] == [expected, expected]

    def test_generate_gives_distinct_seeds_when_n_above_one(
        self, engine: Engine, caps: Capabilities, make_request: RequestFactory
    ) -> None:
        if caps.n_max < 2:
            pytest.skip(f"model {self.model_id!r} declares n_max={caps.n_max}")
        n = min(3, caps.n_max)
        seeds = [g.seed for g in engine.generate(make_request(n=n, seed=99)).images]
        assert len(set(seeds)) == n

    def test_generate_names_requested_model_when_run(
        self, engine: Engine, make_request: RequestFactory
    ) -> None:
        assert engine.generate(make_request()).model == self.model_id

    # --- c. capability violations ---------------------------------------------------------

    @pytest.mark.parametrize("violation", list(VIOLATIONS))
    def test_generate_rejects_before_work_when_capability_lacking(
        self,
        engine: Engine,
        caps: Capabilities,
        make_request: RequestFactory,
        run_calls: list[object],
        violation: str,
    ) -> None:
        build, params = VIOLATIONS[violation]
        overrides = build(caps)
        if overrides is None:
            pytest.skip(f"model {self.model_id!r} supports {violation}; nothing to violate")
        events: list[ProgressEvent] = []
        error: InvalidRequestError | None = None
        try:
            request = make_request(**overrides)
        except InvalidRequestError as exc:  # the request record itself forbids it
            error = exc
        else:
            with pytest.raises(CapabilityError) as excinfo:
                engine.generate(request, events.append)
            error = excinfo.value
        assert error.param in params
        assert events == []
        assert run_calls == []

    # --- d. progress ----------------------------------------------------------------------

    def _progress(
        self, engine: Engine, caps: Capabilities, make_request: RequestFactory
    ) -> list[float]:
        events: list[ProgressEvent] = []
        engine.generate(make_request(n=min(3, caps.n_max), seed=5), events.append)
        return [e.fraction for e in events]

    def test_generate_reports_progress_when_run(
        self, engine: Engine, caps: Capabilities, make_request: RequestFactory
    ) -> None:
        assert len(self._progress(engine, caps, make_request)) >= 1

    def test_generate_keeps_fractions_in_unit_range_when_reporting(
        self, engine: Engine, caps: Capabilities, make_request: RequestFactory
    ) -> None:
        fractions = self._progress(engine, caps, make_request)
        assert [f for f in fractions if not 0.0 <= f <= 1.0] == []

    def test_generate_reports_non_decreasing_fractions_when_run(
        self, engine: Engine, caps: Capabilities, make_request: RequestFactory
    ) -> None:
        fractions = self._progress(engine, caps, make_request)
        assert fractions == sorted(fractions)

    def test_generate_ends_progress_at_one_when_finished(
        self, engine: Engine, caps: Capabilities, make_request: RequestFactory
    ) -> None:
        fractions = self._progress(engine, caps, make_request)
        assert fractions[-1:] == [1.0]

    # --- e. cancellation ------------------------------------------------------------------

    def test_generate_raises_cancelled_when_token_cancelled_before_call(
        self, engine: Engine, make_request: RequestFactory
    ) -> None:
        token = CancelToken()
        token.cancel()
        with pytest.raises(CancelledError):
            engine.generate(make_request(), cancel=token)

    def test_generate_skips_run_when_token_cancelled_before_call(
        self, engine: Engine, make_request: RequestFactory, run_calls: list[object]
    ) -> None:
        token = CancelToken()
        token.cancel()
        events: list[ProgressEvent] = []
        with pytest.raises(CancelledError):
            engine.generate(make_request(), events.append, token)
        assert (run_calls, events) == ([], [])

    def test_generate_raises_cancelled_when_cancelled_during_progress(
        self, engine: Engine, caps: Capabilities, make_request: RequestFactory
    ) -> None:
        token = CancelToken()

        events: list[ProgressEvent] = []

        def cancel_on_first_event(event: ProgressEvent) -> None:
            events.append(event)
            if len(events) == 1:
                token.cancel()

        request = make_request(n=min(3, caps.n_max), seed=5)
        with pytest.raises(CancelledError):
            engine.generate(request, cancel_on_first_event, token)

    # --- f. models ------------------------------------------------------------------------

    def test_models_lists_at_least_one_when_called(self, engine: Engine) -> None:
        assert len(engine.models()) >= 1

    def test_models_lists_unique_ids_when_called(self, engine: Engine) -> None:
        ids = [m.id for m in engine.models()]
        assert len(ids) == len(set(ids))

    def test_models_names_own_engine_when_called(self, engine: Engine) -> None:
        assert {m.engine for m in engine.models()} == {engine.name}

    def test_models_include_contract_model_when_called(self, engine: Engine) -> None:
        assert self.model_id in [m.id for m in engine.models()]
