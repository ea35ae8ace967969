"""Tests for glyph-outline text layout in the compose engine."""

from __future__ import annotations

import re

import numpy as np
import pytest

from pixelforge.engines.compose.text import Align, FontLibrary, TextStyle

skia = pytest.importorskip("skia")


@pytest.fixture(scope="module")
def lib() -> FontLibrary:
    library = FontLibrary()
    if library.missing_fonts():
        pytest.skip(f"fonts missing: {library.missing_fonts()}")
    return library


SAMPLES = [
    "Open / Abierto",
    "3 bed · 2 bath · $549,000",
    "Grand opening this weekend — everything must go, including the kitchen sink",
    "مرحبا بكم في متجرنا الجديد 2024",
    "שלום עולם, היום 12°C",
    "नमस्ते दुनिया, क्षत्रिय संस्कृति",
    "안녕하세요 여러분 오늘은 좋은 날입니다",
    "東京の天気は晴れです。明日も晴れるでしょう。",
    "今天天气很好，我们去公园散步吧！",
    "Supercalifragilisticexpialidocious",
]


def _rasterize(fragment: str, w: int, h: int) -> np.ndarray:
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}">'
        f'<rect width="{w}" height="{h}" fill="#ffffff"/>{fragment}</svg>'
    )
    dom = skia.SVGDOM.MakeFromStream(skia.MemoryStream(svg.encode(), True))
    dom.setContainerSize(skia.Size(w, h))
    surface = skia.Surface(w, h)
    dom.render(surface.getCanvas())
    arr: np.ndarray = surface.makeImageSnapshot().toarray()
    return arr


@pytest.mark.parametrize("text", SAMPLES)
@pytest.mark.parametrize(("bw", "bh"), [(300, 120), (120, 200), (80, 40), (500, 60), (30, 30)])
def test_never_overflows(lib: FontLibrary, text: str, bw: int, bh: int) -> None:
    block = lib.fit(text, TextStyle(), bw, bh, max_size=64, max_lines=4)
    assert block.lines
    assert block.width <= bw + 1e-6
    assert block.height <= bh + 1e-6
    assert 1.0 <= block.size <= 64
    # Only characters are redistributed, none lost (spaces at breaks are dropped).
    assert "".join(block.lines).replace(" ", "") == text.replace(" ", "")


def test_wraps_at_spaces(lib: FontLibrary) -> None:
    block = lib.fit("one two three four five six", TextStyle(), 120, 400, max_size=24)
    assert len(block.lines) > 1
    assert all(not ln.startswith(" ") and not ln.endswith(" ") for ln in block.lines)
    assert all(lib.measure(ln, TextStyle(), block.size) <= 120 + 1e-6 for ln in block.lines)


def test_largest_size_when_room(lib: FontLibrary) -> None:
    block = lib.fit("Hi", TextStyle(bold=True), 800, 400, max_size=48)
    assert block.size == 48
    assert block.lines == ("Hi",)


def test_explicit_newline_and_empty(lib: FontLibrary) -> None:
    block = lib.fit("first\nsecond", TextStyle(), 800, 400, max_size=20)
    assert block.lines == ("first", "second")
    empty = lib.fit("   ", TextStyle(), 100, 100, max_size=20)
    assert empty.lines == ()
    assert empty.svg(0, 0, 100, "#000").count("<path") == 0


def test_shrinks_below_min_size(lib: FontLibrary) -> None:
    text = "A rather long sentence that cannot possibly fit in such a tiny box at all"
    block = lib.fit(text, TextStyle(), 60, 20, max_size=40, min_size=6)
    assert block.size < 6
    assert block.height <= 20 + 1e-6


def test_long_word_broken(lib: FontLibrary) -> None:
    block = lib.fit("Pneumonoultramicroscopic", TextStyle(), 60, 300, max_size=30, min_size=20)
    assert len(block.lines) > 1
    assert block.width <= 60 + 1e-6


@pytest.mark.parametrize(
    ("text", "rtl"),
    [("مرحبا بالعالم", True), ("שלום עולם", True), ("Hello مرحبا", False), ("12 שלום", True)],
)
def test_direction(lib: FontLibrary, text: str, rtl: bool) -> None:
    assert lib.fit(text, TextStyle(), 400, 100, max_size=20).rtl is rtl


def test_cjk_breaks_between_ideographs(lib: FontLibrary) -> None:
    text = "东京天气晴朗明天也会是晴天"
    block = lib.fit(text, TextStyle(), 100, 400, max_size=24, min_size=20)
    assert len(block.lines) > 1
    assert "".join(block.lines) == text


def test_no_line_starts_with_closing_punct(lib: FontLibrary) -> None:
    text = "東京の天気は晴れです。明日も晴れるでしょう。今日は、とても暑い！"
    for width in range(60, 300, 7):
        block = lib.fit(text, TextStyle(), width, 1000, max_size=20, min_size=20, max_lines=40)
        assert not any(ln[0] in "。、！" for ln in block.lines[1:])


def test_korean_prefers_spaces(lib: FontLibrary) -> None:
    block = lib.fit("안녕하세요 여러분 반갑습니다", TextStyle(), 140, 400, max_size=24, min_size=20)
    assert block.lines == ("안녕하세요", "여러분", "반갑습니다")


def test_svg_has_paths_and_label(lib: FontLibrary) -> None:
    block = lib.fit('Tom & "Jerry" <3', TextStyle(family="serif"), 300, 100, max_size=30)
    svg = block.svg(10, 20, 300, "#123456", opacity=0.5, stroke="#fff", stroke_width=2)
    assert svg.startswith("<g")
    assert svg.endswith("</g>")
    assert 'aria-label="Tom &amp; &quot;Jerry&quot; &lt;3"' in svg
    assert svg.count("<path") >= 10
    assert "<text" not in svg
    assert re.search(r'd="M[-\d.]+ [-\d.]+', svg)


def test_arabic_is_joined(lib: FontLibrary) -> None:
    para = lib._analyse("سلام", TextStyle())[1][0]
    key = para.fonts[0]
    joined = sorted(g[0] for g in lib._shape("سلام", key, True))
    isolated = sorted(lib._shape(ch, key, True)[0][0] for ch in "سلام")
    assert joined != isolated


def test_devanagari_conjunct_shaped(lib: FontLibrary) -> None:
    para = lib._analyse("क्ष", TextStyle())[1][0]
    assert len(lib._shape("क्ष", para.fonts[0], False)) < 3


def test_measure_scales_linearly(lib: FontLibrary) -> None:
    a = lib.measure("Hello world", TextStyle(), 10)
    b = lib.measure("Hello world", TextStyle(), 20)
    assert a > 0
    assert b == pytest.approx(2 * a)


@pytest.mark.parametrize("text", SAMPLES)
@pytest.mark.parametrize("align", ["start", "center", "end"])
def test_render_stays_inside_box(lib: FontLibrary, text: str, align: Align) -> None:
    w, h = 400, 260
    bx, by, bw, bh = 50, 40, 300, 180
    block = lib.fit(text, TextStyle(bold=True), bw, bh, max_size=72, align=align)
    pixels = _rasterize(block.svg(bx, by, bw, "#000000"), w, h)
    dark = pixels[:, :, :3].min(axis=2) < 128
    assert dark.sum() > 50
    ys, xs = np.nonzero(dark)
    assert xs.min() >= bx - 1
    assert xs.max() <= bx + bw + 1
    assert ys.min() >= by - 1
    assert ys.max() <= by + bh + 1


def test_start_alignment_follows_direction(lib: FontLibrary) -> None:
    for text, rtl in (("Hi", False), ("שלום", True)):
        block = lib.fit(text, TextStyle(), 300, 60, max_size=20, align="start")
        dark = _rasterize(block.svg(0, 0, 300, "#000000"), 300, 60)[:, :, :3].min(axis=2) < 128
        xs = np.nonzero(dark)[1]
        assert bool(xs.min() > 150) == rtl
