"""The built-in ``compose`` engine: prompt or brief -> designed image, offline, no weights.

Steps, in call order: parse the prompt into a brief (or take the caller's brief), apply the
request's brand kit, lay the brief out on the canvas for each seed, rasterize the scene. Same
prompt + seed -> same bytes.

A brand kit (``request.brand``): its colours replace the brief's palette (parsed or given), its
fonts set the headline and body families, its first tone word that names a style sets the
style when the brief has none, and its logo is drawn in the bottom-right corner, in a band the
layout keeps free of text (see ``Designer.reserve_logo``).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Literal

import numpy as np
from PIL import Image

from pixelforge.domain import GenerationRequest, ImageInput, Mode, OutputFormat, Tier
from pixelforge.domain.request import EngineOptions, ReferenceRole
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
from pixelforge.engines.compose.brief import Brief
from pixelforge.engines.compose.icons import ATTRIBUTION, IconSet
from pixelforge.engines.compose.layout import Designer
from pixelforge.engines.compose.palette import STYLES
from pixelforge.engines.compose.parse import parse_prompt
from pixelforge.engines.compose.render import render_scene
from pixelforge.engines.compose.text import FontLibrary


class ComposeOptions(EngineOptions):
    """Options of the compose engine."""

    brief: Brief | None = None
    """A structured brief; when given, the prompt is only used as the image's description."""
    svg: bool = False
    """Also return the SVG of each design."""
    reframe: Literal["crop", "pad"] = "crop"
    """How an input image meets the requested ratio: smart crop around its detail, or pad."""


CAPABILITIES = Capabilities(
    modes=frozenset(Mode),
    max_references=1,
    mask=False,
    aspect_ratios=frozenset(ASPECT_RATIOS),
    tiers=frozenset(Tier),
    explicit_sizes=True,
    max_pixels=MAX_SIDE * MAX_SIDE,
    max_edge=MAX_SIDE,
    n_max=10,
    deterministic_seed=True,
    negative_prompt=False,
    transparent_background=True,
    formats=frozenset(OutputFormat),
    speed_class="instant",
    options_type=ComposeOptions,
    returns_svg=True,
)


def focus_point(data: bytes) -> tuple[float, float]:
    """Where the detail of an image is (0..1 each way), for smart cropping."""
    with Image.open(io.BytesIO(data)) as im:
        im.draft("L", (128, 128))
        small = np.asarray(im.convert("L").resize((64, 64)), dtype=np.float32)
    gy, gx = np.gradient(small)
    energy = np.hypot(gx, gy)
    total = float(energy.sum())
    if total <= 0:
        return 0.5, 0.5
    ys, xs = np.mgrid[0:64, 0:64]
    return float((energy * xs).sum() / total / 63), float((energy * ys).sum() / total / 63)


class ComposeEngine(Engine):
    name = "compose"

    def __init__(self, fonts: FontLibrary, icons: IconSet) -> None:
        self.fonts = fonts
        self.icons = icons

    def models(self) -> Sequence[ModelInfo]:
        return [
            ModelInfo(
                id="compose",
                engine=self.name,
                description="Built-in layout engine: posters, banners, charts, mockups with "
                "exact multilingual text. Offline, no weights.",
                capabilities=CAPABILITIES,
            )
        ]

    def brief_for(self, request: GenerationRequest) -> Brief:
        options = request.options
        if isinstance(options, ComposeOptions) and options.brief is not None:
            return self.branded(options.brief, request)
        brief = parse_prompt(request.prompt, self.icons)
        if request.mode is not Mode.GENERATE and brief.kind in ("poster", "social"):
            brief = brief.model_copy(update={"kind": "product_card"})
        return self.branded(brief, request)

    @staticmethod
    def branded(brief: Brief, request: GenerationRequest) -> Brief:
        """``brief`` with the request's brand colours (they win) and, when the brief names
        no style, the first brand tone word that is a style name."""
        brand = request.brand
        if brand is None:
            return brief
        update: dict[str, object] = {}
        if brand.palette:
            update["palette"] = list(brand.palette)
        style = next((t.lower() for t in brand.tone if t.lower() in STYLES), None)
        if brief.style is None and style is not None:
            update["style"] = style
        return brief.model_copy(update=update) if update else brief

    def run(
        self, request: GenerationRequest, progress: ProgressSink, cancel: CancelToken
    ) -> GenerationResult:
        brief = self.brief_for(request)
        options = request.options if isinstance(request.options, ComposeOptions) else None
        want_svg = options is not None and options.svg
        pad = options is not None and options.reframe == "pad"
        hero: ImageInput | None = request.references[0].image if request.references else None
        as_background = bool(
            request.references and request.references[0].role is ReferenceRole.BACKGROUND
        )
        focus = focus_point(hero.data) if hero is not None else (0.5, 0.5)
        size = request.output_size
        transparent = request.background.value == "transparent"
        seeds = seeds_for(request)
        brand = request.brand
        applied: dict[str, str] = {}
        if brand is not None and not brand.empty:
            parts = {"palette": brand.palette, "fonts": brand.fonts, "tone": brand.tone,
                     "logo": brand.logo}  # fmt: skip
            applied["brand"] = ",".join(name for name, given in parts.items() if given)
        images: list[GeneratedImage] = []
        n = len(seeds)
        progress(ProgressEvent("layout", 0.0, f"composing {n} image(s)"))
        for i, seed in enumerate(seeds):
            cancel.raise_if_cancelled()
            designer = Designer(
                brief, size, seed, self.fonts, self.icons, hero=hero, transparent=transparent,
                focus=focus, hero_as_background=as_background, pad_hero=pad,
                logo=brand.logo if brand is not None else None,
                brand_fonts=brand.fonts if brand is not None else None,
            )  # fmt: skip
            scene = designer.design()
            cancel.raise_if_cancelled()
            image = render_scene(scene, transparent=transparent)
            images.append(
                GeneratedImage(
                    image=image,
                    seed=seed,
                    svg=scene.to_svg() if want_svg else None,
                    info={
                        "template": brief.kind,
                        "style": designer.style_name,
                        "credits": ATTRIBUTION,
                        **applied,
                    },
                )
            )
            progress(ProgressEvent("render", (i + 1) / n, f"image {i + 1} of {n}", index=i))
        return GenerationResult(model=request.model, images=tuple(images))
