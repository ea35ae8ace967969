"""The ``text-overlay`` model: the shared engine contract (with ``resize``, so the request's
size applies), the input kept at its own size by default, and no run without an overlay."""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pytest
from contract import EngineContract, reference_image
from PIL import Image

from pixelforge.domain import GenerationRequest, ImageInput, Mode, Reference, TextOverlay
from pixelforge.engines.base import Engine
from pixelforge.engines.text_overlay import MODEL_ID, TextOverlayEngine, TextOverlayOptions
from pixelforge.errors import InvalidRequestError

OVERLAY = TextOverlay(headline="HELLO")


class TestTextOverlayContract(EngineContract):
    model_id = MODEL_ID
    sample_prompt = 'text overlay: headline "HELLO"'
    extra_request_kwargs: ClassVar[Mapping[str, Any]] = {
        "options": TextOverlayOptions(resize=True), "text_overlay": OVERLAY,
    }  # fmt: skip

    @pytest.fixture
    def engine(self) -> Engine:
        return TextOverlayEngine()


def image_input(size: tuple[int, int], mode: str = "RGB", fmt: str = "PNG") -> ImageInput:
    rng = np.random.default_rng(3)
    channels = 4 if mode == "RGBA" else 3
    pixels = rng.integers(0, 256, (size[1], size[0], channels), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels, mode).save(buf, fmt)
    return ImageInput(buf.getvalue(), *size, fmt.lower())


def request(image: ImageInput, **fields: object) -> GenerationRequest:
    return GenerationRequest(
        "text overlay", model=MODEL_ID, mode=Mode.EDIT, references=(Reference(image),),
        text_overlay=OVERLAY, **fields,  # type: ignore[arg-type]
    )  # fmt: skip


@pytest.mark.parametrize(("size", "mode"), [((1000, 750), "RGB"), ((333, 517), "RGBA")])
def test_output_is_the_input_at_its_own_size_and_mode_by_default(
    size: tuple[int, int], mode: str
) -> None:
    source = image_input(size, mode)
    (made,) = TextOverlayEngine().generate(request(source, aspect_ratio="16:9")).images

    assert (made.image.size, made.image.mode) == (size, mode)
    with Image.open(io.BytesIO(source.data)) as original:
        assert made.image.tobytes() == original.convert(mode).tobytes()
    assert made.info["size"] == f"{size[0]}x{size[1]}"


def test_resize_crops_and_scales_to_the_requested_size() -> None:
    source = image_input((1000, 750))
    result = TextOverlayEngine().generate(
        request(source, aspect_ratio="1:1", options=TextOverlayOptions(resize=True))
    )
    assert result.images[0].image.size == (1024, 1024)


def test_refuses_a_request_without_an_overlay_before_work() -> None:
    bare = GenerationRequest("x", model=MODEL_ID, mode=Mode.EDIT,
                             references=(Reference(reference_image()),))  # fmt: skip
    with pytest.raises(InvalidRequestError) as excinfo:
        TextOverlayEngine().generate(bare)
    assert excinfo.value.param == "text_overlay"
