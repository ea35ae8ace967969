"""The openai engine against a fake OpenAI Images API speaking the documented wire format."""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from contract import EngineContract, reference_image
from fake_openai import Behaviour, RunningFake, error_body, fake_openai, fake_openai_server
from PIL import Image

from pixelforge.domain import GenerationRequest, Mode, Reference
from pixelforge.domain.request import OutputFormat, Quality
from pixelforge.domain.sizes import Size, Tier
from pixelforge.engines.base import CancelToken, Engine
from pixelforge.engines.openai_images import OpenAIImagesEngine, OpenAIOptions, native_size
from pixelforge.errors import (
    CancelledError,
    PixelforgeError,
    ProviderRejectedError,
    SafetyBlockedError,
    UpstreamError,
    UpstreamTimeoutError,
)

__all__ = ["fake_openai", "fake_openai_server"]  # fixtures, re-exported for pytest

API_KEY = "sk-test-very-secret-key-0123456789"
MakeEngine = Callable[..., OpenAIImagesEngine]


@pytest.fixture
def make_engine(fake_openai: RunningFake) -> MakeEngine:
    def build(**kwargs: Any) -> OpenAIImagesEngine:
        options: dict[str, Any] = {"timeout": 10.0, "backoff_base": 0.01, **kwargs}
        return OpenAIImagesEngine(API_KEY, base_url=fake_openai.base_url, **options)

    return build


def assert_no_key(error: PixelforgeError) -> None:
    assert API_KEY not in str(error)
    assert API_KEY not in json.dumps(error.to_body())


class TestOpenAIContract(EngineContract):
    model_id = "gpt-image-1"
    sample_prompt = "A watercolour fox in a snowy forest"

    @pytest.fixture
    def engine(self, make_engine: MakeEngine) -> Engine:
        return make_engine()


def test_generate_sends_mapped_size_quality_and_format(
    make_engine: MakeEngine, fake_openai: RunningFake
) -> None:
    request = GenerationRequest(
        prompt="a lighthouse at dusk", model="gpt-image-1", size=Size(1280, 720),
        quality=Quality.HIGH, output_format=OutputFormat.WEBP, output_compression=80, n=2,
        options=OpenAIOptions(moderation="low", stream=False),
    )  # fmt: skip
    result = make_engine().generate(request)
    (sent,) = fake_openai.fake.requests
    assert sent.path == "/v1/images/generations"
    assert sent.headers["authorization"] == f"Bearer {API_KEY}"
    assert {k: sent.fields[k] for k in ("model", "size", "quality", "output_format", "n")} == {
        "model": "gpt-image-1", "size": "1536x1024", "quality": "high",
        "output_format": "webp", "n": 2,
    }  # fmt: skip
    assert (sent.fields["output_compression"], sent.fields["moderation"]) == (80, "low")
    assert [g.image.size for g in result.images] == [(1280, 720), (1280, 720)]
    info = result.images[0].info
    assert (info["provider_model"], info["native_size"]) == ("gpt-image-1", "1536x1024")
    assert info["usage_total_tokens"] == "8050"


def test_edit_sends_multipart_images_and_mask(
    make_engine: MakeEngine, fake_openai: RunningFake
) -> None:
    refs = (Reference(reference_image(96, 64)), Reference(reference_image(64, 64)))
    request = GenerationRequest(
        prompt="put a hat on it", model="gpt-image-1", mode=Mode.EDIT, references=refs,
        mask=reference_image(96, 64), aspect_ratio="3:2", tier=Tier.T512,
        options=OpenAIOptions(input_fidelity="high"),
    )  # fmt: skip
    result = make_engine().generate(request)
    (sent,) = fake_openai.fake.requests
    assert sent.path == "/v1/images/edits"
    assert sent.headers["content-type"].startswith("multipart/form-data")
    images = sent.files["image[]"]
    assert [(name, ctype) for name, ctype, _ in images] == [
        ("ref0.png", "image/png"), ("ref1.png", "image/png"),
    ]  # fmt: skip
    assert Image.open(io.BytesIO(images[0][2])).size == (96, 64)
    ((_, mask_type, mask_data),) = sent.files["mask"]
    assert (mask_type, Image.open(io.BytesIO(mask_data)).size) == ("image/png", (96, 64))
    assert sent.fields["prompt"] == "put a hat on it"
    assert (sent.fields["input_fidelity"], sent.fields["size"]) == ("high", "1536x1024")
    assert "moderation" not in sent.fields
    assert [g.image.size for g in result.images] == [(512, 336)]


def test_variation_uses_edits_with_default_prompt(
    make_engine: MakeEngine, fake_openai: RunningFake
) -> None:
    request = GenerationRequest(prompt="", model="gpt-image-1", mode=Mode.VARIATION,
                                references=(Reference(reference_image()),))  # fmt: skip
    make_engine().generate(request)
    (sent,) = fake_openai.fake.requests
    assert sent.path == "/v1/images/edits"
    assert sent.fields["prompt"]


def test_rate_limit_retries_after_retry_after_ms(
    make_engine: MakeEngine, fake_openai: RunningFake
) -> None:
    fake_openai.fake.rate_limited(1, retry_after_ms=200)
    started = time.monotonic()
    result = make_engine().generate(GenerationRequest(prompt="x", model="gpt-image-1"))
    assert time.monotonic() - started >= 0.2
    assert len(result.images) == 1
    requests = fake_openai.fake.requests
    assert len(requests) == 2
    assert requests[1].at - requests[0].at >= 0.2


def test_server_error_twice_then_success(make_engine: MakeEngine, fake_openai: RunningFake) -> None:
    fake_openai.fake.server_error(2)
    result = make_engine().generate(GenerationRequest(prompt="x", model="gpt-image-1"))
    assert len(result.images) == 1
    assert len(fake_openai.fake.requests) == 3


def test_server_error_past_max_retries_is_upstream_error(
    make_engine: MakeEngine, fake_openai: RunningFake
) -> None:
    fake_openai.fake.server_error(3)
    with pytest.raises(UpstreamError) as excinfo:
        make_engine(max_retries=2).generate(GenerationRequest(prompt="x", model="gpt-image-1"))
    error = excinfo.value
    assert (error.status, error.type, error.code) == (
        502,
        "upstream_error",
        "provider_bad_response",
    )
    assert len(fake_openai.fake.requests) == 3
    assert_no_key(error)


def test_moderation_blocked_is_safety_error_not_retried(
    make_engine: MakeEngine, fake_openai: RunningFake
) -> None:
    fake_openai.fake.moderation_blocked()
    with pytest.raises(SafetyBlockedError) as excinfo:
        make_engine().generate(GenerationRequest(prompt="something bad", model="gpt-image-1"))
    error = excinfo.value
    assert (error.status, error.code) == (400, "content_policy_violation")
    assert error.type == "image_generation_user_error"
    assert "safety system" in error.message
    assert len(fake_openai.fake.requests) == 1
    assert_no_key(error)


def test_other_client_error_passes_message_through_not_retried(
    make_engine: MakeEngine, fake_openai: RunningFake
) -> None:
    body = error_body("Invalid value for 'quality'.", "invalid_value", "invalid_request_error")
    body["error"]["param"] = "quality"
    fake_openai.fake.script(Behaviour(400, body))
    with pytest.raises(ProviderRejectedError) as excinfo:
        make_engine().generate(GenerationRequest(prompt="x", model="gpt-image-1"))
    error = excinfo.value
    assert (error.status, error.param) == (400, "quality")
    assert "Invalid value for 'quality'." in error.message
    assert len(fake_openai.fake.requests) == 1
    assert_no_key(error)


def test_timeout_is_not_retried(make_engine: MakeEngine, fake_openai: RunningFake) -> None:
    fake_openai.fake.slow(1.5)
    with pytest.raises(UpstreamTimeoutError) as excinfo:
        make_engine(timeout=0.4).generate(GenerationRequest(prompt="x", model="gpt-image-1"))
    error = excinfo.value
    assert (error.status, error.type, error.code) == (504, "upstream_error", "provider_timeout")
    time.sleep(0.3)  # a retry, had there been one, would have arrived by now
    assert len(fake_openai.fake.requests) == 1
    assert_no_key(error)


def test_x_should_retry_false_is_honoured(
    make_engine: MakeEngine, fake_openai: RunningFake
) -> None:
    fake_openai.fake.server_error(1, headers={"x-should-retry": "false"})
    with pytest.raises(UpstreamError) as excinfo:
        make_engine().generate(GenerationRequest(prompt="x", model="gpt-image-1"))
    assert excinfo.value.status == 502
    assert len(fake_openai.fake.requests) == 1


def test_new_model_name_from_configuration_works(
    make_engine: MakeEngine, fake_openai: RunningFake
) -> None:
    engine = make_engine(models=("gpt-image-9",))
    result = engine.generate(GenerationRequest(prompt="x", model="gpt-image-9", aspect_ratio="2:3"))
    (sent,) = fake_openai.fake.requests
    assert (sent.fields["model"], sent.fields["size"]) == ("gpt-image-9", "1024x1536")
    assert result.model == "gpt-image-9"
    assert [g.image.size for g in result.images] == [(688, 1024)]


def test_gpt_image_2_sends_exact_size_and_crops_past_three_to_one(
    make_engine: MakeEngine, fake_openai: RunningFake
) -> None:
    engine = make_engine()
    wide = engine.generate(GenerationRequest(prompt="x", model="gpt-image-2", aspect_ratio="16:9"))
    strip = engine.generate(
        GenerationRequest(prompt="x", model="gpt-image-2", size=Size(1024, 256))
    )
    assert [r.fields["size"] for r in fake_openai.fake.requests] == ["1024x576", "1024x352"]
    assert (wide.images[0].image.size, strip.images[0].image.size) == ((1024, 576), (1024, 256))
    assert "4:1" not in engine.model("gpt-image-2").capabilities.aspect_ratios


@pytest.mark.parametrize(
    ("target", "native"),
    [
        (Size(1024, 1024), "1024x1024"), (Size(1024, 864), "1024x1024"),
        (Size(1024, 816), "1536x1024"), (Size(1024, 576), "1536x1024"),
        (Size(768, 1024), "1024x1536"), (Size(256, 1024), "1024x1536"),
    ],
)  # fmt: skip
def test_native_size_maps_fixed_family_by_nearest_ratio(target: Size, native: str) -> None:
    assert str(native_size("gpt-image-1", target)) == native


def test_cancel_during_retry_wait_stops_without_another_request(
    make_engine: MakeEngine, fake_openai: RunningFake
) -> None:
    fake_openai.fake.rate_limited(1, retry_after_ms=5000)
    token = CancelToken()
    timer = threading.Timer(0.3, token.cancel)
    timer.start()
    started = time.monotonic()
    with pytest.raises(CancelledError):
        make_engine().generate(GenerationRequest(prompt="x", model="gpt-image-1"), cancel=token)
    timer.join()
    assert time.monotonic() - started < 2.0
    assert len(fake_openai.fake.requests) == 1
