"""The built-in ``text-overlay`` model: the edit action that puts exact text on an image.

It takes one image (``references[0]``, mode ``edit``) and returns it as it is; the text is
drawn by the output chain, which draws every request's ``text_overlay`` whatever the engine
(``services.generate.encode_result``). Running the action as a model gives it what every job
has: a queue, credits, idempotency, an asset whose ``parent_id`` is the source, and a C2PA
manifest that records the source as its parent ingredient.

The output keeps the input's own size (``TextOverlayOptions.resize`` false, the default):
the request's size fields are then ignored, so no pixel of the picture is resampled. With
``resize`` the input is cropped to the requested ratio around its detail and scaled to the
requested size, like any model's output size.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from PIL import Image, ImageOps

from pixelforge.domain import GenerationRequest, Mode, OutputFormat, Tier
from pixelforge.domain.request import EngineOptions
from pixelforge.domain.sizes import ASPECT_RATIOS, MAX_SIDE
from pixelforge.engines.base import (
    CancelToken,
    Capabilities,
    Engine,
    GeneratedImage,
    GenerationResult,
    ModelInfo,
    ProgressEvent,
    ProgressSink,
    seeds_for,
)
from pixelforge.engines.compose.engine import focus_point
from pixelforge.errors import InvalidRequestError

MODEL_ID = "text-overlay"


class TextOverlayOptions(EngineOptions):
    """Options of the ``text-overlay`` model."""

    resize: bool = False
    """False: the output is the input at its own size; True: cropped and scaled to the
    request's size (aspect ratio and resolution, or ``size``)."""


CAPABILITIES = Capabilities(
    modes=frozenset({Mode.EDIT}),
    max_references=1,
    mask=False,
    aspect_ratios=frozenset(ASPECT_RATIOS),
    tiers=frozenset(Tier),
    explicit_sizes=True,
    max_pixels=MAX_SIDE * MAX_SIDE,
    max_edge=MAX_SIDE,
    n_max=1,
    # The seed changes nothing: the same image and overlay always give the same pixels.
    deterministic_seed=False,
    negative_prompt=False,
    transparent_background=True,
    formats=frozenset(OutputFormat),
    speed_class="instant",
    options_type=TextOverlayOptions,
)


def decoded(data: bytes) -> Image.Image:
    """An input file as RGB, or RGBA when it has transparency, upright."""
    with Image.open(io.BytesIO(data)) as im:
        im.load()
        upright = ImageOps.exif_transpose(im)
    alpha = upright.mode in ("RGBA", "LA", "PA") or "transparency" in upright.info
    return upright.convert("RGBA" if alpha else "RGB")


def cover(image: Image.Image, width: int, height: int, focus: tuple[float, float]) -> Image.Image:
    """``image`` cropped to ``width:height`` around ``focus`` and scaled to that size."""
    return ImageOps.fit(image, (width, height), Image.Resampling.LANCZOS, centering=focus)


class TextOverlayEngine(Engine):
    name = "text-overlay"

    def models(self) -> Sequence[ModelInfo]:
        return [
            ModelInfo(
                id=MODEL_ID, engine=self.name, capabilities=CAPABILITIES,
                description="Exact text on an image: headline, subtitle, call to action and "
                "labels in any script, placed where the image is calm, always readable.",
            )
        ]  # fmt: skip

    def check(self, request: GenerationRequest) -> None:
        super().check(request)
        if request.text_overlay is None:
            raise InvalidRequestError(
                f"text_overlay: model {MODEL_ID!r} draws the request's text overlay; give "
                "text_overlay with at least a headline, subtitle, cta or labels",
                param="text_overlay",
            )

    def run(
        self, request: GenerationRequest, progress: ProgressSink, cancel: CancelToken
    ) -> GenerationResult:
        progress(ProgressEvent("decode", 0.0, "reading the image"))
        cancel.raise_if_cancelled()
        source = request.references[0].image
        image = decoded(source.data)
        options = request.options
        if isinstance(options, TextOverlayOptions) and options.resize:
            size = request.output_size
            if image.size != (size.width, size.height):
                image = cover(image, size.width, size.height, focus_point(source.data))
        cancel.raise_if_cancelled()
        (seed,) = seeds_for(request)
        info = {"size": f"{image.width}x{image.height}"}
        progress(ProgressEvent("render", 1.0, "image ready for its text"))
        return GenerationResult(request.model, (GeneratedImage(image, seed, info=info),))
