"""Compose applies a brand kit: its colours win over the prompt's, its fonts set the type, a
tone word that names a style sets the style, and its logo is drawn in a corner band that no
text, hero or chart reaches, in every template and at every aspect ratio."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from PIL import Image

from pixelforge.domain import Brand, GenerationRequest, ImageInput, Reference, ReferenceRole, Tier
from pixelforge.engines.compose.brief import Brief, Chart, ChartPoint
from pixelforge.engines.compose.engine import ComposeEngine, ComposeOptions
from pixelforge.engines.compose.icons import IconSet
from pixelforge.engines.compose.text import FontLibrary

MAGENTA = (255, 0, 255)
NAVY, GOLD = "#0b5394", "#f1c232"
RED = (0xD6, 0x28, 0x28)  # the prompt's "red"


@pytest.fixture(scope="module")
def engine() -> ComposeEngine:
    return ComposeEngine(FontLibrary(), IconSet())


def png(
    color: tuple[int, int, int, int] | tuple[int, int, int], size: tuple[int, int]
) -> ImageInput:
    buf = io.BytesIO()
    Image.new("RGBA" if len(color) == 4 else "RGB", size, color).save(buf, "PNG")
    return ImageInput(buf.getvalue(), *size, "png")


LOGO = png(MAGENTA, (300, 100))


def hex_rgb(color: str) -> tuple[int, int, int]:
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)


def pixels(engine: ComposeEngine, **fields: object) -> np.ndarray:
    base: dict[str, object] = {"prompt": 'Minimal poster, headline "OPEN LATE"', "seed": 4,
                               "tier": Tier.T512}  # fmt: skip
    request = GenerationRequest(**{**base, **fields})  # type: ignore[arg-type]
    return np.asarray(engine.generate(request).images[0].image.convert("RGB"))


def count_near(image: np.ndarray, color: tuple[int, int, int], tolerance: int = 6) -> int:
    return int((np.abs(image.astype(int) - np.array(color)).max(axis=-1) <= tolerance).sum())


def box_of(image: np.ndarray, color: tuple[int, int, int]) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) of the pixels of ``color``."""
    ys, xs = np.nonzero(np.abs(image.astype(int) - np.array(color)).max(axis=-1) <= 2)
    assert len(xs), f"no pixels of {color}"
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def test_brand_palette_colours_appear_in_the_image(engine: ComposeEngine) -> None:
    image = pixels(engine, prompt='Minimal poster, headline "OPEN LATE", button "Order now"',
                   brand=Brand(palette=(NAVY, GOLD)))  # fmt: skip

    assert count_near(image, hex_rgb(NAVY)) > 500  # the background
    assert count_near(image, hex_rgb(GOLD)) > 500  # the button


def test_brand_palette_wins_over_the_prompts_colours(engine: ComposeEngine) -> None:
    prompt = 'Bold poster, headline "SALE", red palette'
    plain = pixels(engine, prompt=prompt)
    branded = pixels(engine, prompt=prompt, brand=Brand(palette=(NAVY, GOLD)))

    assert count_near(plain, RED) > 1000
    assert count_near(branded, RED) == 0
    assert count_near(branded, hex_rgb(NAVY)) > 500


def test_brand_palette_wins_over_a_given_briefs_palette(engine: ComposeEngine) -> None:
    brief = Brief(headline="HELLO", style="minimal", palette=["#d62828"])
    image = pixels(engine, options=ComposeOptions(brief=brief), brand=Brand(palette=(NAVY,)))

    assert count_near(image, RED) == 0
    assert count_near(image, hex_rgb(NAVY)) > 1000


def test_brand_headline_font_sets_the_headline_family(engine: ComposeEngine) -> None:
    brief = Brief(headline="OPEN LATE", body="Fresh espresso until 2 AM", style="minimal")
    serif_brief = brief.model_copy(update={"font": "serif"})

    by_brief = pixels(engine, options=ComposeOptions(brief=serif_brief))
    by_brand = pixels(engine, options=ComposeOptions(brief=brief),
                      brand=Brand(headline_font="serif"))  # fmt: skip
    plain = pixels(engine, options=ComposeOptions(brief=brief))

    assert np.array_equal(by_brand, by_brief)
    assert not np.array_equal(by_brand, plain)


def test_brand_body_font_changes_only_the_body_text(engine: ComposeEngine) -> None:
    with_body = Brief(headline="OPEN LATE", body="Fresh espresso until 2 AM", style="minimal")
    no_body = with_body.model_copy(update={"body": None})

    def render(brief: Brief, brand: Brand | None) -> np.ndarray:
        return pixels(engine, options=ComposeOptions(brief=brief), brand=brand)

    serif_body = Brand(body_font="serif")
    assert not np.array_equal(render(with_body, serif_body), render(with_body, None))
    assert np.array_equal(render(no_body, serif_body), render(no_body, None))


def test_brand_tone_word_sets_the_style_only_when_the_brief_has_none(
    engine: ComposeEngine,
) -> None:
    request = GenerationRequest('poster, headline "HI"', brand=Brand(tone=("warm", "Retro")))
    styled = GenerationRequest('elegant poster, headline "HI"', brand=Brand(tone=("retro",)))

    assert engine.generate(request).images[0].info["style"] == "retro"
    assert engine.generate(styled).images[0].info["style"] == "elegant"


def test_brand_info_names_what_was_applied(engine: ComposeEngine) -> None:
    request = GenerationRequest("poster", brand=Brand(palette=(NAVY,), logo=LOGO))
    assert engine.generate(request).images[0].info["brand"] == "palette,logo"


def test_logo_is_drawn_scaled_in_the_bottom_right_corner(engine: ComposeEngine) -> None:
    image = pixels(engine, brand=Brand(logo=LOGO), tier=Tier.T1K)
    x0, y0, x1, y1 = box_of(image, MAGENTA)
    h, w = image.shape[:2]
    u = min(w, h) / 100

    assert abs((x1 - x0) / (y1 - y0) - 3) < 0.1  # the logo's 3:1 shape is kept
    assert abs((y1 - y0) - 8 * u) <= 2  # 8% of the short edge tall
    assert abs((w - x1) - 4 * u) <= 2
    assert abs((h - y1) - 4 * u) <= 2


def test_transparent_logo_keeps_the_background_around_its_shape(engine: ComposeEngine) -> None:
    ring = Image.new("RGBA", (100, 100), (0, 0, 0, 0))
    ring.paste((255, 0, 255, 255), (25, 25, 75, 75))
    buf = io.BytesIO()
    ring.save(buf, "PNG")
    image = pixels(engine, brand=Brand(logo=ImageInput(buf.getvalue(), 100, 100)))
    x0, y0, _x1, _y1 = box_of(image, MAGENTA)

    corner = image[y0 - 3, x0 - 3]  # inside the logo's box, outside its opaque square
    assert corner.min() > 150  # the minimal style's light background, not black or magenta


def test_svg_of_a_branded_design_embeds_the_logo(engine: ComposeEngine) -> None:
    request = GenerationRequest("poster", brand=Brand(logo=LOGO), options=ComposeOptions(svg=True))
    svg = engine.generate(request).images[0].svg
    assert svg is not None
    assert len(re.findall(r"<image ", svg)) == 1


# -- the logo never covers content -------------------------------------------------------

TEXTS = {
    "headline": "A HEADLINE THAT RUNS LONG ENOUGH TO FILL",
    "subtitle": "A subtitle with a few more words in it to wrap",
    "body": "Body text " * 30,
    "cta": "Order now",
    "labels": ["$4.50", "Daily 7-2", "New"],
    "attribution": "Someone Famous",
}
CHART = Chart(points=[ChartPoint(label=f"P{i}", value=i + 1) for i in range(6)])
CASES = [
    ("poster", "4:5", {}), ("poster", "1:4", {}), ("banner", "4:1", {}),
    ("banner", "16:9", {"icons": ["☕"]}), ("social", "1:1", {"icons": ["☕", "🍩", "🎉"]}),
    ("thumbnail", "16:9", {"icons": ["🔥"]}), ("product_card", "3:4", {"hero": True}),
    ("product_card", "1:1", {"backdrop": True}), ("infographic", "16:9", {"chart": True}),
    ("infographic", "9:16", {"chart": True}), ("ui_mockup", "9:16", {}),
    ("ui_mockup", "16:9", {}), ("quote_card", "1:1", {}),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "ratio", "extra"), CASES,
                         ids=[f"{k}-{r}-{'+'.join(e) or 'text'}" for k, r, e in CASES])  # fmt: skip
@pytest.mark.parametrize("seed", [1, 2])
def test_logo_band_holds_nothing_but_the_logo_and_the_background(
    engine: ComposeEngine, kind: str, ratio: str, extra: dict[str, object], seed: int
) -> None:
    """The same design with every text (and its hero, chart or icons) and with none at all
    differ only above the logo's band: no content reaches the rows of the logo, across the
    whole width, nor the 1% of the short edge above it."""
    hero = png((0, 160, 0), (200, 150))
    role = ReferenceRole.BACKGROUND if extra.get("backdrop") else ReferenceRole.SUBJECT
    refs = (Reference(hero, role),) if extra.get("hero") or extra.get("backdrop") else ()
    full = Brief(
        kind=kind,
        style="minimal",
        icons=extra.get("icons", []),  # type: ignore[arg-type]
        chart=CHART if extra.get("chart") else None,
        **TEXTS,
    )  # type: ignore[arg-type]
    bare = Brief(kind=kind, style="minimal")  # type: ignore[arg-type]

    def render(brief: Brief) -> np.ndarray:
        return pixels(engine, options=ComposeOptions(brief=brief), aspect_ratio=ratio,
                      references=refs, brand=Brand(logo=LOGO), seed=seed)  # fmt: skip

    with_content, without = render(full), render(bare)
    _, logo_top, _, _ = box_of(with_content, MAGENTA)
    h, w = with_content.shape[:2]
    changed_rows = np.nonzero((with_content != without).any(axis=(1, 2)))[0]

    assert len(changed_rows)  # the content was drawn
    assert changed_rows.max() < logo_top - min(w, h) / 100


@pytest.mark.ocr
def test_headline_still_reads_back_with_a_logo(engine: ComposeEngine) -> None:
    pytesseract = pytest.importorskip("pytesseract")
    brief = Brief(kind="poster", headline="OPEN LATE", style="minimal",
                  palette=["#ffffff", "#111111"])  # fmt: skip
    request = GenerationRequest(prompt="OPEN LATE", tier=Tier.T1K, seed=2, aspect_ratio="4:5",
                                options=ComposeOptions(brief=brief), brand=Brand(logo=LOGO))  # fmt: skip
    image = engine.generate(request).images[0].image
    w, h = image.size
    margin = (int(w * 0.05), int(h * 0.05), int(w * 0.95), int(h * 0.95))
    text_area = image.convert("L").crop(margin).point(lambda v: 0 if v < 128 else 255)

    text = pytesseract.image_to_string(text_area, lang="eng", config="--psm 6")
    assert "OPEN LATE" in " ".join(text.split())
    assert count_near(np.asarray(image.convert("RGB")), MAGENTA) > 1000
