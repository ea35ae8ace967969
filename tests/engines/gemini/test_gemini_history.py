"""The gemini engine's multi-turn editing: earlier turns sent with their thought signatures,
the new turn recorded in the result, and the fake refusing a model turn without them."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from contract import reference_image
from fake_gemini import PROMPT_TOKENS, THOUGHTS_TOKENS, FakeGemini, serve_fake, wire_bytes
from pydantic import ValidationError

from pixelforge.domain import GenerationRequest, ImageInput, Mode, Reference
from pixelforge.engines.base import GeneratedImage
from pixelforge.engines.gemini_images import GeminiImagesEngine, GeminiOptions, Turn, TurnPart
from pixelforge.errors import InvalidRequestError

API_KEY = "test-key-history-0123456789"
PRO = "gemini-3-pro-image-preview"
FLASH_25 = "gemini-2.5-flash-image"


@pytest.fixture(scope="module")
def fake_server() -> Iterator[FakeGemini]:
    yield from serve_fake()


@pytest.fixture
def fake(fake_server: FakeGemini) -> FakeGemini:
    fake_server.reset()
    return fake_server


@pytest.fixture
def gemini(fake: FakeGemini) -> Iterator[GeminiImagesEngine]:
    engine = GeminiImagesEngine(API_KEY, base_url=fake.base_url)
    engine.backoff_base = 0.0
    yield engine
    engine.close()


def png_of(image: GeneratedImage) -> bytes:
    buf = io.BytesIO()
    image.image.save(buf, format="PNG")
    return buf.getvalue()


def history_from(
    image: GeneratedImage, refs: tuple[Reference, ...], drop_signatures: bool = False
) -> tuple[Turn, ...]:
    """What a caller rebuilds from a stored turn: the user turn, then the model's."""
    turn = json.loads(image.info["turn"])

    def part(p: dict[str, Any], data: bytes | None) -> TurnPart:
        sig = None if drop_signatures else p.get("thought_signature")
        if data is None:
            return TurnPart(text=p["text"], thought_signature=sig)
        return TurnPart(data=data, mime_type=p["mime_type"], thought_signature=sig)

    user = [part(p, refs[p["reference"]].image.data if "reference" in p else None)
            for p in turn["user_parts"]]  # fmt: skip
    model = [part(p, png_of(image) if p.get("output") else None) for p in turn["model_parts"]]
    return (Turn(role="user", parts=tuple(user)), Turn(role="model", parts=tuple(model)))


def first_turn(gemini: GeminiImagesEngine, model: str = PRO) -> tuple[GeneratedImage, Reference]:
    ref = Reference(reference_image())
    request = GenerationRequest("make it blue", model=model, mode=Mode.EDIT, references=(ref,))
    (image,) = gemini.generate(request).images
    return image, ref


def continuation(
    image: GeneratedImage, history: tuple[Turn, ...], model: str = PRO, **kwargs: Any
) -> GenerationRequest:
    continued = Reference(ImageInput(png_of(image), image.image.width, image.image.height))
    return GenerationRequest(
        "now add a hat", model=model, mode=Mode.EDIT, references=(continued,),
        options=GeminiOptions(history=history), **kwargs,
    )  # fmt: skip


def test_history_is_sent_before_the_new_user_turn(
    gemini: GeminiImagesEngine, fake: FakeGemini
) -> None:
    image, ref = first_turn(gemini)
    gemini.generate(continuation(image, history_from(image, (ref,))))
    sent = fake.requests[1]
    assert sent.roles == ["user", "model", "user"]
    assert [p.get("text") for p in sent.turn(2)] == ["now add a hat"]  # continued image not resent
    assert [p.get("text") for p in sent.turn(0) if "text" in p] == [
        "Image to edit:",
        "make it blue",
    ]


def test_history_keeps_the_first_turns_signatures_byte_for_byte(
    gemini: GeminiImagesEngine, fake: FakeGemini
) -> None:
    image, ref = first_turn(gemini)
    gemini.generate(continuation(image, history_from(image, (ref,))))
    text_part, image_part = fake.requests[1].turn(1)
    issued = fake.issued[0]
    assert wire_bytes(text_part["thoughtSignature"]) == issued.text_signature
    assert wire_bytes(image_part["thoughtSignature"]) == issued.image_signature
    assert "inlineData" in image_part


def test_continuation_without_signatures_is_refused_by_gemini_3(
    gemini: GeminiImagesEngine, fake: FakeGemini
) -> None:
    image, ref = first_turn(gemini)
    with pytest.raises(InvalidRequestError) as excinfo:
        gemini.generate(continuation(image, history_from(image, (ref,), drop_signatures=True)))
    assert "thought_signature" in excinfo.value.message
    assert len(fake.requests) == 2  # refused, not retried


def test_continuation_without_signatures_passes_on_25_flash(
    gemini: GeminiImagesEngine, fake: FakeGemini
) -> None:
    image, ref = first_turn(gemini, FLASH_25)
    history = history_from(image, (ref,), drop_signatures=True)
    result = gemini.generate(continuation(image, history, model=FLASH_25))
    assert len(result.images) == 1


def test_result_info_records_the_turn_with_its_signatures(
    gemini: GeminiImagesEngine, fake: FakeGemini
) -> None:
    image, _ = first_turn(gemini)
    turn = json.loads(image.info["turn"])
    assert (turn["model_id"], turn["continues"]) == (PRO, False)
    assert turn["user_parts"] == [
        {"text": "Image to edit:"}, {"reference": 0, "mime_type": "image/png"},
        {"text": "make it blue"},
    ]  # fmt: skip
    text_part, output = turn["model_parts"]
    assert base64.b64decode(text_part["thought_signature"]) == fake.issued[0].text_signature
    assert (output["output"], output["mime_type"]) == (True, "image/png")
    assert base64.b64decode(output["thought_signature"]) == fake.issued[0].image_signature


def test_continued_turn_is_recorded_as_continuing(
    gemini: GeminiImagesEngine, fake: FakeGemini
) -> None:
    image, ref = first_turn(gemini)
    (second,) = gemini.generate(continuation(image, history_from(image, (ref,)))).images
    turn = json.loads(second.info["turn"])
    assert (turn["continues"], turn["user_parts"]) == (True, [{"text": "now add a hat"}])


def test_generate_with_history_sends_every_reference(
    gemini: GeminiImagesEngine, fake: FakeGemini
) -> None:
    image, ref = first_turn(gemini)
    extra = Reference(reference_image(32, 32))
    request = GenerationRequest("use this logo", model=PRO, references=(extra,),
                                options=GeminiOptions(history=history_from(image, (ref,))))  # fmt: skip
    gemini.generate(request)
    assert fake.requests[1].inline_parts == 1


def test_info_carries_usage_billing_classes(gemini: GeminiImagesEngine, fake: FakeGemini) -> None:
    image, _ = first_turn(gemini)
    assert (image.info["usage_image_output_tokens"], image.info["usage_images"]) == ("1120", "1")
    assert image.info["usage_text_input_tokens"] == str(PROMPT_TOKENS)
    assert image.info["usage_text_output_tokens"] == str(THOUGHTS_TOKENS)


def test_options_round_trip_through_the_blob_context() -> None:
    stored: dict[str, bytes] = {}

    def put(data: bytes, extension: str) -> str:
        stored[f"k.{extension}"] = data
        return f"k.{extension}"

    part = TurnPart(data=b"\x89PNG-bytes", mime_type="image/png", thought_signature="c2ln")
    options = GeminiOptions(history=(Turn(role="model", parts=(part,)),))
    dumped = options.model_dump(mode="json", context={"blob_put": put})
    assert dumped["history"][0]["parts"][0]["data"] == {"blob": "k.png"}
    loaded = GeminiOptions.model_validate(dumped, context={"blob_get": stored.__getitem__})
    assert loaded == options
    assert GeminiOptions.model_validate(options.model_dump(mode="json")) == options


@pytest.mark.parametrize(
    "raw",
    [
        {"history": [{"role": "user", "parts": [{"text": "hi"}]}]},
        {"history": [{"role": "model", "parts": [{"text": "hi", "data": "aGk="}]}]},
        {"history": [{"role": "model", "parts": [{"data": "aGk=", "mime_type": "image/gif"}]}]},
        {"history": [{"role": "model", "parts": [{"text": "x", "thought_signature": "!!"}]}]},
    ],
)
def test_options_refuse_malformed_history(raw: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        GeminiOptions.model_validate(raw)
