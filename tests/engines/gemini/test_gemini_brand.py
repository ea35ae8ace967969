"""A brand kit on the gemini engine: the logo as the last labelled reference when the model has
room, the guidelines after the prompt; the logo is left out of the turn record (it is no
reference of the job), so a later turn can still rebuild the conversation."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from contract import reference_image
from fake_gemini import FakeGemini, serve_fake

from pixelforge.domain import Brand, GenerationRequest, Reference
from pixelforge.engines.gemini_images import GeminiImagesEngine

PRO, FLASH_25 = "gemini-3-pro-image-preview", "gemini-2.5-flash-image"
KIT = Brand(palette=("#0b5394",), tone=("playful",), logo=reference_image(90, 30))


@pytest.fixture(scope="module")
def fake_server() -> Iterator[FakeGemini]:
    yield from serve_fake()


@pytest.fixture
def gemini(fake_server: FakeGemini) -> Iterator[GeminiImagesEngine]:
    fake_server.reset()
    engine = GeminiImagesEngine("test-key-0123456789", base_url=fake_server.base_url)
    engine.backoff_base = 0.0
    yield engine
    engine.close()


def test_brand_logo_is_the_last_labelled_reference_and_guidelines_follow_the_prompt(
    gemini: GeminiImagesEngine, fake_server: FakeGemini
) -> None:
    request = GenerationRequest("a mug", model=PRO, references=(Reference(reference_image()),),
                                brand=KIT)  # fmt: skip
    result = gemini.generate(request)

    (sent,) = fake_server.requests
    assert sent.inline_parts == 2
    assert sent.texts[:2] == ["Reference 1 (subject):", "Reference 2 (logo):"]
    assert sent.texts[-1].startswith("a mug\n\nBrand guidelines: use the brand colour palette "
                                     "#0b5394")  # fmt: skip
    assert "tone: playful" in sent.texts[-1]
    assert "the last reference image" in sent.texts[-1]
    turn = json.loads(result.images[0].info["turn"])
    assert [p.get("reference") for p in turn["user_parts"] if "reference" in p] == [0]
    assert turn["user_parts"][-1] == {"text": sent.texts[-1]}


def test_brand_logo_is_left_out_when_the_references_fill_the_model(
    gemini: GeminiImagesEngine, fake_server: FakeGemini
) -> None:
    refs = (Reference(reference_image()),) * 3  # gemini 2.5 flash takes 3
    gemini.generate(GenerationRequest("a mug", model=FLASH_25, references=refs, brand=KIT))

    (sent,) = fake_server.requests
    assert sent.inline_parts == 3
    assert "Reference 4 (logo):" not in sent.texts
    assert "the last reference image" not in sent.texts[-1]
