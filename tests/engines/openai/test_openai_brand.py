"""A brand kit on the openai engine: phrased into the prompt, its logo sent as the last input
image (so a generation with it goes to the edits endpoint), never crowding out a reference."""

from __future__ import annotations

import io
from typing import Any

from contract import reference_image
from fake_openai import RunningFake, fake_openai, fake_openai_server
from PIL import Image

from pixelforge.domain import Brand, GenerationRequest, Reference
from pixelforge.engines.openai_images import OpenAIImagesEngine, OpenAIOptions

__all__ = ["fake_openai", "fake_openai_server"]  # fixtures, re-exported for pytest

LOGO = reference_image(90, 30)
KIT = Brand(palette=("#0b5394", "#f1c232"), headline_font="serif", tone=("warm",), logo=LOGO)


def generate(fake: RunningFake, **fields: Any) -> None:
    engine = OpenAIImagesEngine("sk-test", base_url=fake.base_url, timeout=10.0)
    try:
        request = GenerationRequest(**{"prompt": "a bakery poster", "model": "gpt-image-1",
                                       "options": OpenAIOptions(stream=False), **fields})  # fmt: skip
        engine.generate(request)
    finally:
        engine.close()


def test_brand_kit_goes_to_edits_with_logo_last_and_guidelines_in_prompt(
    fake_openai: RunningFake,
) -> None:
    generate(fake_openai, references=(Reference(reference_image(64, 64)),), brand=KIT)

    (sent,) = fake_openai.fake.requests
    assert sent.path == "/v1/images/edits"
    names = [name for name, _, _ in sent.files["image[]"]]
    assert names == ["ref0.png", "logo1.png"]
    assert Image.open(io.BytesIO(sent.files["image[]"][1][2])).size == (90, 30)
    prompt = sent.fields["prompt"]
    assert prompt.startswith("a bakery poster\n\nBrand guidelines: ")
    assert "#0b5394, #f1c232" in prompt
    assert "tone: warm" in prompt
    assert "the last reference image" in prompt


def test_brand_kit_without_logo_keeps_plain_generation(fake_openai: RunningFake) -> None:
    generate(fake_openai, brand=Brand(tone=("calm",)))

    (sent,) = fake_openai.fake.requests
    assert sent.path == "/v1/images/generations"
    assert sent.fields["prompt"] == "a bakery poster\n\nBrand guidelines: tone: calm."


def test_logo_is_left_out_when_the_references_fill_the_model(fake_openai: RunningFake) -> None:
    generate(fake_openai, references=(Reference(reference_image()),) * 16, brand=KIT)

    (sent,) = fake_openai.fake.requests
    assert len(sent.files["image[]"]) == 16
    assert "the last reference image" not in sent.fields["prompt"]


def test_generation_with_references_sends_them_to_edits(fake_openai: RunningFake) -> None:
    generate(fake_openai, references=(Reference(reference_image()),))

    (sent,) = fake_openai.fake.requests
    assert (sent.path, len(sent.files["image[]"])) == ("/v1/images/edits", 1)
    assert "moderation" not in sent.fields
