"""The openai engine's streamed partial images, against the fake's SSE wire format."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from contract import reference_image
from fake_openai import (
    IMAGE_TOKENS_PER_INPUT,
    MODERATION_BODY,
    OUTPUT_TOKENS,
    TEXT_TOKENS,
    Behaviour,
    RunningFake,
    error_body,
    fake_openai,
    fake_openai_server,
    partial_colour,
)

from pixelforge.domain import GenerationRequest, Mode, Reference
from pixelforge.domain.sizes import Size
from pixelforge.engines.base import CancelToken, ProgressEvent
from pixelforge.engines.openai_images import OpenAIImagesEngine, OpenAIOptions
from pixelforge.errors import CancelledError, SafetyBlockedError, UpstreamError

__all__ = ["fake_openai", "fake_openai_server"]  # fixtures, re-exported for pytest

API_KEY = "sk-test-stream-secret-0123456789"
MakeEngine = Callable[..., OpenAIImagesEngine]


@pytest.fixture
def make_engine(fake_openai: RunningFake) -> MakeEngine:
    def build(**kwargs: Any) -> OpenAIImagesEngine:
        options: dict[str, Any] = {"timeout": 10.0, "backoff_base": 0.01, **kwargs}
        return OpenAIImagesEngine(API_KEY, base_url=fake_openai.base_url, **options)

    return build


def request(**kwargs: Any) -> GenerationRequest:
    return GenerationRequest(**{"prompt": "a lighthouse", "model": "gpt-image-1", **kwargs})


def partials(events: list[ProgressEvent]) -> list[ProgressEvent]:
    return [e for e in events if e.stage == "partial"]


def test_stream_sends_stream_and_partial_images_fields(
    make_engine: MakeEngine, fake_openai: RunningFake
) -> None:
    make_engine().generate(request(options=OpenAIOptions(partial_images=3)))
    (sent,) = fake_openai.fake.requests
    assert (sent.fields["stream"], sent.fields["partial_images"], sent.fields["n"]) == (True, 3, 1)


def test_stream_partial_previews_reach_progress_in_order(make_engine: MakeEngine) -> None:
    events: list[ProgressEvent] = []
    make_engine().generate(request(options=OpenAIOptions(partial_images=3)), events.append)
    previews = partials(events)
    assert [e.preview.getpixel((0, 0)) for e in previews if e.preview] == [
        partial_colour(0), partial_colour(1), partial_colour(2),
    ]  # fmt: skip
    assert [e.fraction for e in previews] == pytest.approx([0.25, 0.5, 0.75])


def test_stream_returns_final_image_at_requested_size(make_engine: MakeEngine) -> None:
    events: list[ProgressEvent] = []
    result = make_engine().generate(request(size=Size(1280, 720)), events.append)
    (image,) = result.images
    assert image.image.size == (1280, 720)
    assert image.image.getpixel((0, 0)) != partial_colour(1)  # the final, not the last partial
    assert [e.fraction for e in events][-1] == 1.0


def test_stream_reports_usage_of_completed_event_in_info(make_engine: MakeEngine) -> None:
    (image,) = make_engine().generate(request()).images
    assert image.info["usage_output_tokens"] == str(OUTPUT_TOKENS)
    assert image.info["usage_image_output_tokens"] == str(OUTPUT_TOKENS)
    assert image.info["usage_text_input_tokens"] == str(TEXT_TOKENS)
    assert image.info["usage_images"] == "1"


def test_stream_n_images_makes_one_call_per_image_with_rising_progress(
    make_engine: MakeEngine, fake_openai: RunningFake
) -> None:
    events: list[ProgressEvent] = []
    result = make_engine().generate(request(n=2), events.append)
    assert len(result.images) == len(fake_openai.fake.requests) == 2
    assert [r.fields["n"] for r in fake_openai.fake.requests] == [1, 1]
    fractions = [e.fraction for e in events]
    assert fractions == sorted(fractions)
    assert [e.index for e in partials(events)] == [0, 0, 1, 1]


def test_stream_edit_uses_image_edit_events_and_counts_image_input(
    make_engine: MakeEngine, fake_openai: RunningFake
) -> None:
    events: list[ProgressEvent] = []
    refs = (Reference(reference_image()), Reference(reference_image()))
    edit = request(mode=Mode.EDIT, references=refs, prompt="add a hat")
    (image,) = make_engine().generate(edit, events.append).images
    (sent,) = fake_openai.fake.requests
    assert (sent.path, sent.fields["stream"]) == ("/v1/images/edits", "true")
    assert len(partials(events)) == 2
    assert image.info["usage_image_input_tokens"] == str(2 * IMAGE_TOKENS_PER_INPUT)


def test_stream_ignores_partials_after_the_final_image(
    make_engine: MakeEngine, fake_openai: RunningFake
) -> None:
    fake_openai.fake.script(Behaviour(extra_partials=2))
    events: list[ProgressEvent] = []
    result = make_engine().generate(request(), events.append)
    assert len(result.images) == 1
    assert len(partials(events)) == 2
    assert [e.stage for e in events][-1] == "decode"


def test_stream_without_partials_still_returns_final_image(
    make_engine: MakeEngine, fake_openai: RunningFake
) -> None:
    events: list[ProgressEvent] = []
    result = make_engine().generate(request(options=OpenAIOptions(partial_images=0)), events.append)
    assert (len(result.images), partials(events)) == (1, [])
    assert fake_openai.fake.requests[0].fields["partial_images"] == 0


def test_stream_error_event_mid_stream_is_upstream_error_not_retried(
    make_engine: MakeEngine, fake_openai: RunningFake
) -> None:
    body = error_body("The server had an error while processing", None, "server_error")
    fake_openai.fake.script(Behaviour(stream_error=body, partials_before_error=1))
    events: list[ProgressEvent] = []
    with pytest.raises(UpstreamError) as excinfo:
        make_engine().generate(request(), events.append)
    error = excinfo.value
    assert (error.status, error.type) == (502, "upstream_error")
    assert "while processing" in error.message
    assert API_KEY not in error.message
    assert len(partials(events)) == 1
    assert len(fake_openai.fake.requests) == 1


def test_stream_moderation_blocked_event_is_safety_error(
    make_engine: MakeEngine, fake_openai: RunningFake
) -> None:
    fake_openai.fake.script(Behaviour(stream_error=MODERATION_BODY, partials_before_error=2))
    with pytest.raises(SafetyBlockedError) as excinfo:
        make_engine().generate(request())
    error = excinfo.value
    assert (error.status, error.code, error.param) == (400, "content_policy_violation", "prompt")
    assert "safety system" in error.message
    assert len(fake_openai.fake.requests) == 1


def test_stream_moderation_blocked_before_stream_is_safety_error(
    make_engine: MakeEngine, fake_openai: RunningFake
) -> None:
    fake_openai.fake.moderation_blocked()
    with pytest.raises(SafetyBlockedError):
        make_engine().generate(request())
    assert len(fake_openai.fake.requests) == 1


def test_stream_rate_limited_before_stream_is_retried(
    make_engine: MakeEngine, fake_openai: RunningFake
) -> None:
    fake_openai.fake.rate_limited(1, retry_after_ms=10)
    events: list[ProgressEvent] = []
    result = make_engine().generate(request(), events.append)
    assert len(result.images) == 1
    assert len(fake_openai.fake.requests) == 2
    assert len(partials(events)) == 2


def test_stream_ending_without_completed_event_is_upstream_error(
    make_engine: MakeEngine, fake_openai: RunningFake
) -> None:
    fake_openai.fake.script(Behaviour(no_completed=True))
    with pytest.raises(UpstreamError, match="without the final image"):
        make_engine().generate(request())
    assert len(fake_openai.fake.requests) == 1


def test_stream_cancel_on_partial_stops_without_result(
    make_engine: MakeEngine, fake_openai: RunningFake
) -> None:
    token = CancelToken()

    def cancel_on_first_partial(event: ProgressEvent) -> None:
        if event.stage == "partial":
            token.cancel()

    with pytest.raises(CancelledError):
        make_engine().generate(request(n=2), cancel_on_first_partial, token)
    assert len(fake_openai.fake.requests) == 1


def test_stream_off_makes_one_call_for_all_images(
    make_engine: MakeEngine, fake_openai: RunningFake
) -> None:
    events: list[ProgressEvent] = []
    result = make_engine().generate(request(n=3, options=OpenAIOptions(stream=False)),
                                    events.append)  # fmt: skip
    (sent,) = fake_openai.fake.requests
    assert ("stream" not in sent.fields, sent.fields["n"], len(result.images)) == (True, 3, 3)
    assert partials(events) == []
    assert {i.info["usage_images"] for i in result.images} == {"3"}
