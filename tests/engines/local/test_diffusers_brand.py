"""A brand kit reaches local diffusion models as prompt phrasing (the shared helper): the image
equals the one made from the phrased prompt, and the logo is not sent (no room for it)."""

from __future__ import annotations

import io
from typing import Any

from PIL import Image

from pixelforge.domain import Brand, GenerationRequest, ImageInput, Size
from pixelforge.engines.base import brand_prompt
from pixelforge.engines.local.engine import DiffusersEngine
from pixelforge.engines.local.options import LocalOptions

PROMPT = "a lighthouse on a cliff"


def logo() -> ImageInput:
    buf = io.BytesIO()
    Image.new("RGB", (30, 10), (255, 0, 255)).save(buf, "PNG")
    return ImageInput(buf.getvalue(), 30, 10)


def pixels(engine: DiffusersEngine, **fields: Any) -> bytes:
    request = GenerationRequest(**{"prompt": PROMPT, "model": "tiny-sd", "seed": 5,
                                   "size": Size(128, 128), "options": LocalOptions(steps=2),
                                   **fields})  # fmt: skip
    return engine.generate(request).images[0].image.tobytes()


def test_brand_kit_is_phrased_into_the_prompt(local_engine: DiffusersEngine) -> None:
    kit = Brand(palette=("#0b5394", "#f1c232"), tone=("stormy",), logo=logo())
    phrased = brand_prompt(GenerationRequest(PROMPT, brand=kit))

    branded = pixels(local_engine, brand=kit)

    assert branded == pixels(local_engine, prompt=phrased)
    assert branded != pixels(local_engine)
