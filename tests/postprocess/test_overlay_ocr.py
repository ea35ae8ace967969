"""The overlay's text reads back under OCR: the 100-case suite (scripts x text sizes x plain,
gradient, busy and photo-like backgrounds; see ``tests/overlay_ocr.py`` for the cases, the
measure and how tesseract is helped), and right-to-left text in its logical order.

The whole suite runs once per module (~15 s on 2 cores: 100 overlays, then one tesseract
process per language and page mode over only the texts' own boxes).
"""

from __future__ import annotations

import pytest
from PIL import Image

import overlay_ocr
from pixelforge.domain import TextOverlay
from pixelforge.engines.compose.text import FontLibrary
from pixelforge.postprocess.overlay import TextOverlayer

pytestmark = pytest.mark.ocr

#: What the suite must read back: overall, and in every script.
OVERALL = 0.98
PER_SCRIPT = 0.95


@pytest.fixture(scope="module")
def overlayer() -> TextOverlayer:
    return TextOverlayer(FontLibrary())


@pytest.fixture(scope="module")
def readings(overlayer: TextOverlayer) -> list[overlay_ocr.Reading]:
    if overlay_ocr.shutil.which("tesseract") is None:
        pytest.skip("tesseract is not installed (make system-deps)")
    return overlay_ocr.run(overlay_ocr.cases(), overlayer)


def test_suite_has_100_cases_over_every_script_size_and_background() -> None:
    cases = overlay_ocr.cases()
    assert len(cases) == len({c.id for c in cases}) == 100
    assert {c.script for c in cases} == set(overlay_ocr.SCRIPTS)
    assert {(c.size, c.background) for c in cases} == {
        (size, bg) for size in overlay_ocr.SIZES.values() for bg in overlay_ocr.BACKGROUNDS
    }


def test_suite_reads_back_98_percent_of_characters(
    readings: list[overlay_ocr.Reading],
) -> None:
    chars, _, accuracy = overlay_ocr.accuracy(readings)
    wrong = [(r.case.id, r.role, r.expected, r.read) for r in readings if r.errors]
    assert chars > 3000
    assert accuracy >= OVERALL, wrong


@pytest.mark.parametrize("script", list(overlay_ocr.SCRIPTS))
def test_every_script_reads_back_at_its_floor(
    readings: list[overlay_ocr.Reading], script: str
) -> None:
    _, chars, _, accuracy = overlay_ocr.by_script(readings)[script]
    wrong = [(r.case.id, r.role, r.read) for r in readings if r.errors and r.case.script == script]
    assert chars > 100
    assert accuracy >= PER_SCRIPT, wrong


@pytest.mark.parametrize(
    ("text", "lang"),
    [("ברוכים הבאים לחנות", "heb"), ("أهلا وسهلا بكم", "ara"), ("שלום 2024 עולם", "heb")],
)
@pytest.mark.parametrize("position", ["left", "right", "center"])
def test_right_to_left_text_reads_back_in_logical_order(
    overlayer: TextOverlayer, text: str, lang: str, position: str
) -> None:
    image = Image.new("RGB", (900, 600), (245, 245, 240))
    drawn = overlayer.apply(image, TextOverlay(headline=text, position=position))
    (item,) = drawn.layout.items

    crop = overlay_ocr.crop_for_ocr(drawn.image, item)
    (read,) = overlay_ocr.tesseract_many([crop], lang, 7 if len(item.lines) == 1 else 6)

    assert overlay_ocr.normalise(read) == overlay_ocr.normalise(text)
    assert overlay_ocr.normalise(read) != overlay_ocr.normalise(text[::-1])
