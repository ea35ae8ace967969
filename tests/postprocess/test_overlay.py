"""The text overlay: placement in the calm region, readable colour or a scrim, fonts and
colours from the brand kit, nothing outside the image, the image itself kept."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from pixelforge.domain import Brand, OverlayPosition, Scrim, TextOverlay
from pixelforge.engines.compose.text import FontLibrary
from pixelforge.postprocess.contrast import contrast_reached, luminance_of, ratio, rgb
from pixelforge.postprocess.overlay import (
    OverlayLayout,
    TextOverlayer,
    overlay_metadata,
    with_overlay_svg,
)

SALE = TextOverlay(headline="Summer Sale", subtitle="Only this weekend", cta="Shop now",
                   labels=("$19.99",))  # fmt: skip


@pytest.fixture(scope="module")
def overlayer() -> TextOverlayer:
    return TextOverlayer(FontLibrary())


def busy(h: int, w: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def plain(color: tuple[int, int, int], size: tuple[int, int] = (800, 600)) -> Image.Image:
    return Image.new("RGB", size, color)


def half_busy(plain_side: str, size: tuple[int, int] = (800, 600)) -> Image.Image:
    w, h = size
    pixels = busy(h, w)
    calm = (200, 220, 240)
    if plain_side == "top":
        pixels[: h // 2] = calm
    elif plain_side == "bottom":
        pixels[h // 2 :] = calm
    elif plain_side == "left":
        pixels[:, : w // 2] = calm
    else:
        pixels[:, w // 2 :] = calm
    return Image.fromarray(pixels, "RGB")


def inside(box: tuple[float, float, float, float], area: tuple[float, float, float, float]) -> bool:
    return area[0] <= box[0] and area[1] <= box[1] and box[2] <= area[2] and box[3] <= area[3]


# -- placement ---------------------------------------------------------------------------


@pytest.mark.parametrize("side", ["top", "bottom", "left", "right"])
def test_auto_places_every_text_in_the_plain_half_of_a_half_busy_image(
    overlayer: TextOverlayer, side: str
) -> None:
    image = half_busy(side)
    w, h = image.size
    calm = {"top": (0, 0, w, h / 2), "bottom": (0, h / 2, w, h), "left": (0, 0, w / 2, h),
            "right": (w / 2, 0, w, h)}[side]  # fmt: skip

    layout = overlayer.layout(image, SALE)

    assert layout.position.value == side
    assert all(inside(item.box, calm) for item in layout.items)
    assert layout.scrim is None


def test_auto_prefers_the_bottom_on_a_plain_image(overlayer: TextOverlayer) -> None:
    layout = overlayer.layout(plain((30, 30, 30)), SALE)
    assert layout.position is OverlayPosition.BOTTOM


@pytest.mark.parametrize("position", ["top", "bottom", "left", "right", "center"])
def test_explicit_position_wins_over_a_calmer_region(
    overlayer: TextOverlayer, position: str
) -> None:
    image = half_busy("top")
    layout = overlayer.layout(image, TextOverlay(headline="Hello", position=position))
    (item,) = layout.items
    w, h = image.size
    cx, cy = (item.box[0] + item.box[2]) / 2, (item.box[1] + item.box[3]) / 2
    assert layout.position.value == position
    expected = {"top": cy < h / 2, "bottom": cy > h / 2, "left": cx < w / 2,
                "right": cx > w / 2, "center": abs(cy - h / 2) < h / 4}  # fmt: skip
    assert expected[position]


# -- colour and scrim --------------------------------------------------------------------

BACKGROUNDS = {
    "white": plain((255, 255, 255)),
    "black": plain((0, 0, 0)),
    "mid-grey": plain((119, 119, 119)),  # neither white nor near-black reaches 4.5:1 here
    "orange": plain((255, 140, 0)),
    "busy": Image.fromarray(busy(600, 800), "RGB"),
    "gradient": Image.fromarray(
        np.repeat(np.linspace(0, 255, 800, dtype=np.uint8)[None, :, None], 600, 0).repeat(3, 2),
        "RGB",
    ),
}


def scrim_ring(layout: OverlayLayout, image: Image.Image) -> np.ndarray:
    """Output pixels inside the scrim but outside every text box (scrim over the image)."""
    assert layout.scrim is not None
    x0, y0, x1, y1 = (int(v) for v in layout.scrim)
    mask = np.zeros((image.height, image.width), bool)
    mask[y0 + 2 : y1 - 2, x0 + 2 : x1 - 2] = True
    r = 0.02 * min(image.size)  # stay clear of the rounded corners
    mask[y0 : int(y0 + r), x0 : int(x0 + r)] = mask[y0 : int(y0 + r), int(x1 - r) : x1] = False
    mask[int(y1 - r) : y1, x0 : int(x0 + r)] = mask[int(y1 - r) : y1, int(x1 - r) : x1] = False
    for item in layout.items:
        bx0, by0, bx1, by1 = item.box
        mask[max(0, int(by0) - 2) : int(by1) + 3, max(0, int(bx0) - 2) : int(bx1) + 3] = False
    pixels: np.ndarray = np.asarray(image.convert("RGB"))[mask].astype(np.float64)
    return pixels


@pytest.mark.parametrize("name", list(BACKGROUNDS))
def test_text_reads_at_4_5_to_1_or_a_scrim_is_drawn_that_makes_it(
    overlayer: TextOverlayer, name: str
) -> None:
    image = BACKGROUNDS[name]
    drawn = overlayer.apply(image, SALE)
    layout = drawn.layout
    texts = [item for item in layout.items if item.role != "cta"]
    if layout.scrim is None:
        for item in texts:
            behind = np.asarray(image.crop(tuple(int(v) for v in item.box))).reshape(-1, 3)
            assert contrast_reached(item.color, behind.astype(np.float64)) >= 4.5
    else:
        seen = scrim_ring(layout, drawn.image)
        worst = ratio(float(luminance_of(np.array(rgb(layout.color), float))),
                      luminance_of(seen)).min()  # fmt: skip
        assert worst >= 4.4  # 4.5 give or take the 8-bit rounding of the blend
    pill = next(item for item in layout.items if item.role == "cta")
    assert pill.fill is not None
    fill_l = float(luminance_of(np.array(rgb(pill.fill), float)))
    assert ratio(fill_l, float(luminance_of(np.array(rgb(pill.color), float)))) >= 4.5


def test_busy_and_mid_grey_backgrounds_get_a_scrim(overlayer: TextOverlayer) -> None:
    assert overlayer.layout(BACKGROUNDS["busy"], SALE).scrim is not None
    assert overlayer.layout(BACKGROUNDS["mid-grey"], SALE).scrim is not None
    assert overlayer.layout(BACKGROUNDS["white"], SALE).scrim is None


def test_scrim_off_never_draws_one_and_on_always_does(overlayer: TextOverlayer) -> None:
    off = TextOverlay(headline="Busy", scrim=Scrim.OFF)
    on = TextOverlay(headline="Calm", scrim="on")
    assert overlayer.layout(BACKGROUNDS["busy"], off).scrim is None
    layout = overlayer.layout(BACKGROUNDS["white"], on)
    assert layout.scrim is not None
    assert layout.scrim_alpha >= 0.45


def test_explicit_colour_is_the_text_colour(overlayer: TextOverlayer) -> None:
    layout = overlayer.layout(BACKGROUNDS["black"], TextOverlay(headline="Gold", color="#FFD700"))
    assert layout.color == "#ffd700"
    assert layout.scrim is None


# -- brand kit and fonts -----------------------------------------------------------------


def glyphs_of(layout: OverlayLayout) -> str:
    """The headline's drawing with positions stripped: only the glyph outlines."""
    return " ".join(part.split(' d="')[1] for part in layout.svg.split("<path")[1:])


def test_brand_palette_colours_text_and_pill(overlayer: TextOverlayer) -> None:
    brand = Brand(palette=("#0b5394", "#e69138"))
    layout = overlayer.layout(BACKGROUNDS["white"], SALE, brand)
    assert layout.color == "#0b5394"
    pill = next(item for item in layout.items if item.role == "cta")
    assert pill.fill in brand.palette


def test_brand_palette_colour_that_does_not_read_is_passed_over(
    overlayer: TextOverlayer,
) -> None:
    brand = Brand(palette=("#ffff66",))  # pale yellow on white: 1.1:1
    layout = overlayer.layout(BACKGROUNDS["white"], TextOverlay(headline="Hi"), brand)
    assert layout.color == "#111111"


def test_brand_fonts_set_the_families_unless_the_overlay_names_one(
    overlayer: TextOverlayer,
) -> None:
    image = BACKGROUNDS["white"]
    headline = TextOverlay(headline="Quiet Morning", position="top")
    serif = glyphs_of(overlayer.layout(image, TextOverlay(headline="Quiet Morning",
                                                          position="top", headline_font="serif")))  # fmt: skip
    sans = glyphs_of(overlayer.layout(image, headline))
    branded = glyphs_of(overlayer.layout(image, headline, Brand(headline_font="serif")))
    overridden = TextOverlay(headline="Quiet Morning", position="top", headline_font="sans")
    assert branded == serif != sans
    assert glyphs_of(overlayer.layout(image, overridden, Brand(headline_font="serif"))) == sans


def test_brand_body_font_sets_subtitle_and_cta(overlayer: TextOverlayer) -> None:
    image = BACKGROUNDS["white"]
    text = TextOverlay(subtitle="Small print", cta="Go", position="top")
    mono = TextOverlay(subtitle="Small print", cta="Go", position="top", subtitle_font="mono",
                       cta_font="mono")  # fmt: skip
    branded = glyphs_of(overlayer.layout(image, text, Brand(body_font="mono")))
    assert branded == glyphs_of(overlayer.layout(image, mono))
    assert branded != glyphs_of(overlayer.layout(image, text))


# -- bounds ------------------------------------------------------------------------------

LONG = ("Every word of this deliberately long headline has to appear in full, wrapped and "
        "shrunk as needed, never cut off at the edge of a small picture like this one")  # fmt: skip


@pytest.mark.parametrize("size", [(800, 600), (600, 900), (1600, 400), (96, 64)])
@pytest.mark.parametrize("position", [p.value for p in OverlayPosition])
def test_no_text_is_outside_the_image_and_none_is_dropped(
    overlayer: TextOverlayer, size: tuple[int, int], position: str
) -> None:
    overlay = TextOverlay(headline=LONG, subtitle="Subtitle " * 20, cta="A rather long call "
                          "to action", labels=("one", "two"), position=position, scrim="off")  # fmt: skip
    image = plain((250, 250, 250), size)
    drawn = overlayer.apply(image, overlay)

    whole = (0.0, 0.0, float(size[0]), float(size[1]))
    for item in drawn.layout.items:
        assert inside(item.box, whole), item
        assert "".join(item.lines).replace(" ", "") == item.text.replace(" ", "")
    pixels = np.asarray(drawn.image)
    border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    assert (border == 250).all()  # no ink reaches the edge: nothing was cut there


def test_apply_keeps_size_mode_and_the_pixels_away_from_the_text(
    overlayer: TextOverlayer,
) -> None:
    rgba = np.zeros((300, 400, 4), np.uint8)
    rgba[..., 2], rgba[..., 3] = 200, 90
    image = Image.fromarray(rgba, "RGBA")

    drawn = overlayer.apply(image, TextOverlay(headline="Clear", position="top", scrim="off"))

    assert (drawn.image.size, drawn.image.mode) == ((400, 300), "RGBA")
    after = np.asarray(drawn.image)
    x0, y0, x1, y1 = (int(v) for v in drawn.layout.bounds)
    outside = np.ones((300, 400), bool)
    outside[max(0, y0 - 8) : y1 + 8, max(0, x0 - 8) : x1 + 8] = False
    assert (after[outside] == rgba[outside]).all()
    assert not (after == rgba).all()


def test_overlay_svg_is_added_before_the_closing_tag(overlayer: TextOverlayer) -> None:
    layout = overlayer.layout(plain((0, 0, 0)), TextOverlay(headline="Vector"))
    svg = with_overlay_svg('<svg xmlns="http://www.w3.org/2000/svg"><rect/></svg>', layout)
    assert svg.endswith(layout.svg + "</svg>")
    assert svg.count("<path") == layout.svg.count("<path") > 0


def test_metadata_records_the_overlay_and_where_it_went(overlayer: TextOverlayer) -> None:
    import json

    layout = overlayer.layout(half_busy("left"), SALE)
    meta = json.loads(overlay_metadata(SALE, layout))
    assert (meta["headline"], meta["placed"], meta["scrim_drawn"]) == ("Summer Sale", "left",
                                                                       False)  # fmt: skip
    assert meta["contrast"] >= 4.5
