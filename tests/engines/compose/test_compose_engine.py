"""Behaviour of the compose engine through ``Engine.generate``: sizes, seeds, options, inputs."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pixelforge.domain import (
    ASPECT_RATIOS,
    Background,
    GenerationRequest,
    ImageInput,
    Mode,
    Reference,
    ReferenceRole,
    Tier,
)
from pixelforge.engines.compose.engine import ComposeEngine, ComposeOptions
from pixelforge.engines.compose.icons import IconSet
from pixelforge.engines.compose.text import FontLibrary

PROMPT = 'Minimal poster for a coffee shop, headline "OPEN LATE", warm palette'
MAGENTA = (255, 0, 255)
BRIEFS_FILE = Path(__file__).with_name("design-briefs.txt")
DESIGN_BRIEFS = [
    line.strip()
    for line in BRIEFS_FILE.read_text(encoding="utf-8").splitlines()
    if line.strip() and not line.startswith("#")
]

SIZE_CASES = [
    *((ratio, tier) for tier in (Tier.T512, Tier.T1K, Tier.T2K) for ratio in ASPECT_RATIOS),
    *((ratio, Tier.T4K) for ratio in ("1:1", "16:9", "1:4")),
]


@pytest.fixture(scope="module")
def engine() -> ComposeEngine:
    return ComposeEngine(FontLibrary(), IconSet())


def render(engine: ComposeEngine, **kwargs: object) -> Image.Image:
    request = GenerationRequest(**{"prompt": PROMPT, "tier": Tier.T512, **kwargs})  # type: ignore[arg-type]
    return engine.generate(request).images[0].image


def solid_png(color: tuple[int, int, int], size: int = 200) -> ImageInput:
    buf = io.BytesIO()
    Image.new("RGB", (size, size), color).save(buf, format="PNG")
    return ImageInput(data=buf.getvalue(), width=size, height=size, format="png")


def near(pixels: np.ndarray, color: tuple[int, int, int], tolerance: int) -> np.ndarray:
    """Mask of pixels whose every channel is within ``tolerance`` of ``color``."""
    diff = np.abs(pixels[..., :3].astype(int) - np.array(color))
    result: np.ndarray = diff.max(axis=-1) <= tolerance
    return result


# --- sizes ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("aspect_ratio", "tier"), SIZE_CASES, ids=lambda v: str(v))
def test_generate_returns_output_size_when_ratio_and_tier_named(
    engine: ComposeEngine, aspect_ratio: str, tier: Tier
) -> None:
    request = GenerationRequest(prompt=PROMPT, aspect_ratio=aspect_ratio, tier=tier, seed=3)
    image = engine.generate(request).images[0].image
    assert image.size == (request.output_size.width, request.output_size.height)


# --- seeds ---------------------------------------------------------------------------------


def test_generate_repeats_bytes_when_prompt_and_seed_repeat(engine: ComposeEngine) -> None:
    assert render(engine, seed=42).tobytes() == render(engine, seed=42).tobytes()


def test_generate_varies_design_when_seeds_differ(engine: ComposeEngine) -> None:
    distinct = {render(engine, seed=seed).tobytes() for seed in range(1, 5)}
    assert len(distinct) >= 3


def test_generate_changes_visibly_when_seed_changes(engine: ComposeEngine) -> None:
    first = np.asarray(render(engine, seed=1), dtype=np.int16)
    second = np.asarray(render(engine, seed=2), dtype=np.int16)
    assert float(np.abs(first - second).mean()) > 2.0


# --- the design-brief prompts --------------------------------------------------------------


def test_design_briefs_file_holds_forty_prompts() -> None:
    assert len(DESIGN_BRIEFS) == 40


@pytest.mark.parametrize("prompt", DESIGN_BRIEFS, ids=[f"brief{i:02d}" for i in range(40)])
def test_generate_renders_design_brief_when_aspect_varies(
    engine: ComposeEngine, prompt: str
) -> None:
    sizes = []
    expected = []
    for aspect_ratio in ("1:1", "16:9", "9:16", "4:1"):
        request = GenerationRequest(
            prompt=prompt, aspect_ratio=aspect_ratio, tier=Tier.T512, seed=7
        )
        sizes.append(engine.generate(request).images[0].image.size)
        expected.append((request.output_size.width, request.output_size.height))
    assert sizes == expected


# --- options -------------------------------------------------------------------------------


def test_generate_returns_parsable_svg_when_svg_option_set(engine: ComposeEngine) -> None:
    request = GenerationRequest(
        prompt=PROMPT,
        aspect_ratio="16:9",
        tier=Tier.T512,
        seed=1,
        options=ComposeOptions(svg=True),
    )
    svg = engine.generate(request).images[0].svg
    assert svg is not None
    root = ET.fromstring(svg)
    size = request.output_size
    assert (root.get("width"), root.get("height")) == (str(size.width), str(size.height))


def test_generate_omits_svg_when_svg_option_unset(engine: ComposeEngine) -> None:
    request = GenerationRequest(prompt=PROMPT, tier=Tier.T512, seed=1)
    assert engine.generate(request).images[0].svg is None


# --- reference images ----------------------------------------------------------------------


def test_edit_returns_requested_size_when_reference_given(engine: ComposeEngine) -> None:
    image = render(
        engine,
        mode=Mode.EDIT,
        references=(Reference(solid_png(MAGENTA)),),
        aspect_ratio="4:5",
        seed=1,
    )
    assert image.size == (416, 512)


def test_edit_shows_reference_pixels_when_reference_given(engine: ComposeEngine) -> None:
    image = render(engine, mode=Mode.EDIT, references=(Reference(solid_png(MAGENTA)),), seed=1)
    share = float(near(np.asarray(image), MAGENTA, 30).mean())
    assert share > 0.05


def test_edit_fills_canvas_when_reference_is_background(engine: ComposeEngine) -> None:
    reference = Reference(solid_png(MAGENTA), role=ReferenceRole.BACKGROUND)
    image = render(engine, mode=Mode.EDIT, references=(reference,), seed=1)
    assert bool(near(np.asarray(image)[:1, :1], MAGENTA, 24).all())


def wide_png(color: tuple[int, int, int]) -> ImageInput:
    buf = io.BytesIO()
    Image.new("RGB", (800, 100), color).save(buf, format="PNG")
    return ImageInput(data=buf.getvalue(), width=800, height=100, format="png")


def test_edit_pads_instead_of_cropping_when_reframe_is_pad(engine: ComposeEngine) -> None:
    def share(reframe: str) -> float:
        image = render(
            engine,
            mode=Mode.EDIT,
            references=(Reference(wide_png(MAGENTA)),),
            aspect_ratio="9:16",
            seed=1,
            options=ComposeOptions(reframe=reframe),  # type: ignore[arg-type]
        )
        return float(near(np.asarray(image), MAGENTA, 30).mean())

    # A very wide reference in a tall hero box: cropping fills the box, padding letterboxes it.
    assert share("pad") < share("crop") / 2


# --- transparency --------------------------------------------------------------------------


def test_generate_returns_rgba_when_background_transparent(engine: ComposeEngine) -> None:
    assert render(engine, background=Background.TRANSPARENT, seed=1).mode == "RGBA"


def test_generate_leaves_corner_clear_when_background_transparent(
    engine: ComposeEngine,
) -> None:
    image = render(engine, background=Background.TRANSPARENT, seed=1)
    assert image.getpixel((0, 0))[3] == 0  # type: ignore[index]


def test_generate_returns_rgb_when_background_auto(engine: ComposeEngine) -> None:
    assert render(engine, seed=1).mode == "RGB"
