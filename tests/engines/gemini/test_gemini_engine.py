"""The gemini engine against a fake server speaking Gemini's documented wire format."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest
from contract import EngineContract, reference_image
from fake_gemini import FakeGemini, serve_fake

from pixelforge.domain import GenerationRequest, Mode, Reference, Tier
from pixelforge.domain.request import ReferenceRole
from pixelforge.engines.base import CancelToken, Engine, ProgressEvent
from pixelforge.engines.gemini_images import GeminiImagesEngine, capabilities_for
from pixelforge.errors import (
    CapabilityError,
    InvalidRequestError,
    SafetyBlockedError,
    UpstreamError,
    UpstreamTimeoutError,
)

API_KEY = "test-key-0123456789"
PRO = "gemini-3-pro-image-preview"


@pytest.fixture(scope="module")
def fake_server() -> Iterator[FakeGemini]:
    yield from serve_fake()


@pytest.fixture
def fake(fake_server: FakeGemini) -> FakeGemini:
    fake_server.reset()
    return fake_server


def make_engine(fake: FakeGemini, **kwargs: object) -> GeminiImagesEngine:
    engine = GeminiImagesEngine(API_KEY, base_url=fake.base_url, **kwargs)  # type: ignore[arg-type]
    engine.backoff_base = 0.0
    return engine


@pytest.fixture
def gemini(fake: FakeGemini) -> Iterator[GeminiImagesEngine]:
    engine = make_engine(fake)
    yield engine
    engine.close()


class TestGeminiContract(EngineContract):
    model_id = PRO
    sample_prompt = "A studio photo of a red ceramic mug on a wooden table"

    @pytest.fixture
    def engine(self, gemini: GeminiImagesEngine) -> Engine:
        return gemini


def test_generate_sends_ratio_and_tier_as_image_config(
    gemini: GeminiImagesEngine, fake: FakeGemini
) -> None:
    request = GenerationRequest("a mug", model=PRO, aspect_ratio="16:9", tier=Tier.T2K)
    result = gemini.generate(request)
    (sent,) = fake.requests
    assert sent.image_config == {"aspectRatio": "16:9", "imageSize": "2K"}
    assert sent.body["generationConfig"]["responseModalities"] == ["IMAGE"]
    assert (sent.model, sent.api_key) == (PRO, API_KEY)
    assert [g.image.size for g in result.images] == [(2048, 1152)]


def test_generate_keeps_signature_and_usage_in_info(
    gemini: GeminiImagesEngine, fake: FakeGemini
) -> None:
    (image,) = gemini.generate(GenerationRequest("a mug", model=PRO)).images
    assert base64.b64decode(image.info["thought_signature"]) == fake.issued[-1].image_signature
    assert (image.info["prompt_tokens"], image.info["total_tokens"]) == ("12", "1212")
    assert image.info["finish_reason"] == "STOP"


def test_generate_omits_image_size_when_model_is_25_flash(
    gemini: GeminiImagesEngine, fake: FakeGemini
) -> None:
    request = GenerationRequest("a mug", model="gemini-2.5-flash-image", aspect_ratio="21:9")
    result = gemini.generate(request)
    assert fake.requests[0].image_config == {"aspectRatio": "21:9"}
    assert [g.image.size for g in result.images] == [(1024, 432)]


def test_generate_sends_512_tier_when_model_is_31_flash(
    gemini: GeminiImagesEngine, fake: FakeGemini
) -> None:
    request = GenerationRequest(
        "a mug", model="gemini-3.1-flash-image-preview", aspect_ratio="1:4", tier=Tier.T512
    )
    result = gemini.generate(request)
    assert fake.requests[0].image_config == {"aspectRatio": "1:4", "imageSize": "512"}
    assert [g.image.size for g in result.images] == [(128, 512)]


def test_generate_sends_14_references_as_inline_parts(
    gemini: GeminiImagesEngine, fake: FakeGemini
) -> None:
    refs = (Reference(reference_image(), ReferenceRole.PRODUCT),) * 14
    gemini.generate(GenerationRequest("combine them", model=PRO, references=refs))
    (sent,) = fake.requests
    assert sent.inline_parts == 14
    assert "Reference 14 (product):" in sent.texts
    assert sent.texts[-1] == "combine them"


def test_generate_rejects_15_references_before_any_request(
    gemini: GeminiImagesEngine, fake: FakeGemini
) -> None:
    refs = (Reference(reference_image()),) * 15
    with pytest.raises(CapabilityError) as excinfo:
        gemini.generate(GenerationRequest("too many", model=PRO, references=refs))
    assert (excinfo.value.param, fake.requests) == ("references", [])


def test_generate_labels_image_to_edit_when_mode_edit(
    gemini: GeminiImagesEngine, fake: FakeGemini
) -> None:
    refs = (Reference(reference_image()), Reference(reference_image(), ReferenceRole.STYLE))
    gemini.generate(GenerationRequest("make it blue", model=PRO, mode=Mode.EDIT, references=refs))
    assert fake.requests[0].texts == ["Image to edit:", "Reference 2 (style):", "make it blue"]


def test_generate_raises_safety_error_without_retry_when_blocked(
    gemini: GeminiImagesEngine, fake: FakeGemini
) -> None:
    fake.script("safety")
    with pytest.raises(SafetyBlockedError) as excinfo:
        gemini.generate(GenerationRequest("something forbidden", model=PRO))
    error = excinfo.value
    assert (error.status, error.type, error.code) == (
        400,
        "image_generation_user_error",
        "content_policy_violation",
    )
    assert "IMAGE_SAFETY" in error.message
    assert len(fake.requests) == 1


def test_generate_retries_when_rate_limited_then_succeeds(
    gemini: GeminiImagesEngine, fake: FakeGemini
) -> None:
    waits: list[float] = []
    gemini._sleep = waits.append
    fake.script("429")
    result = gemini.generate(GenerationRequest("a mug", model=PRO))
    assert len(result.images) == 1
    assert len(fake.requests) == 2
    assert waits == [0.0]  # the fake's Retry-After: 0


def test_generate_gives_up_after_max_retries_when_server_keeps_failing(
    fake: FakeGemini,
) -> None:
    engine = make_engine(fake, max_retries=2)
    fake.script("500", "503", "500")
    with pytest.raises(UpstreamError) as excinfo:
        engine.generate(GenerationRequest("a mug", model=PRO))
    assert excinfo.value.status == 502
    assert len(fake.requests) == 3


def test_generate_passes_client_error_through_without_retry_or_key(
    gemini: GeminiImagesEngine, fake: FakeGemini
) -> None:
    fake.script("400")
    with pytest.raises(InvalidRequestError) as excinfo:
        gemini.generate(GenerationRequest("a mug", model=PRO))
    assert excinfo.value.status == 400
    assert "invalid argument" in excinfo.value.message
    assert API_KEY not in excinfo.value.message
    assert len(fake.requests) == 1


def test_generate_raises_timeout_without_retry_when_provider_slow(fake: FakeGemini) -> None:
    engine = make_engine(fake, timeout=0.5)
    fake.script("slow")
    with pytest.raises(UpstreamTimeoutError) as excinfo:
        engine.generate(GenerationRequest("a mug", model=PRO))
    assert (excinfo.value.status, excinfo.value.code) == (504, "provider_timeout")
    assert len(fake.requests) == 1


def test_generate_uses_configured_model_when_name_is_new(fake: FakeGemini) -> None:
    engine = make_engine(fake, models=("gemini-3-pro-image",))
    result = engine.generate(GenerationRequest("a mug", model="gemini-3-pro-image", tier=Tier.T4K))
    assert [m.id for m in engine.models()] == ["gemini-3-pro-image"]
    assert fake.requests[0].model == "gemini-3-pro-image"
    assert [g.image.size for g in result.images] == [(4096, 4096)]


def test_generate_calls_once_per_image_with_progress(
    gemini: GeminiImagesEngine, fake: FakeGemini
) -> None:
    events: list[ProgressEvent] = []
    result = gemini.generate(GenerationRequest("a mug", model=PRO, n=3), events.append)
    assert len(result.images) == len(fake.requests) == 3
    assert [e.fraction for e in events] == pytest.approx([0.0, 1 / 3, 2 / 3, 1.0])


def test_generate_stops_between_images_when_cancelled(
    gemini: GeminiImagesEngine, fake: FakeGemini
) -> None:
    token = CancelToken()

    def cancel_after_first_image(event: ProgressEvent) -> None:
        if event.fraction > 0:
            token.cancel()

    with pytest.raises(Exception, match="cancelled"):
        gemini.generate(GenerationRequest("a mug", model=PRO, n=3), cancel_after_first_image, token)
    assert len(fake.requests) == 1


@pytest.mark.parametrize(
    ("model", "refs", "tiers", "extra_ratio", "speed"),
    [
        ("gemini-2.5-flash-image", 3, {Tier.T1K}, False, "fast"),
        ("gemini-3-pro-image-preview", 14, {Tier.T1K, Tier.T2K, Tier.T4K}, False, "standard"),
        ("gemini-3.1-flash-image-preview", 14, set(Tier), True, "fast"),
    ],
)
def test_capabilities_follow_model_family(
    model: str, refs: int, tiers: set[Tier], extra_ratio: bool, speed: str
) -> None:
    caps = capabilities_for(model)
    assert (caps.max_references, set(caps.tiers), caps.speed_class) == (refs, tiers, speed)
    assert ("1:4" in caps.aspect_ratios) is extra_ratio
    assert (caps.explicit_sizes, caps.mask, caps.transparent_background) == (False,) * 3
    assert caps.n_max == 4
