"""Text the compose engine draws reads back exactly under OCR, in every script it supports.

Tesseract is helped fairly: the canvas edge (where frame decorations sit) is cropped off, the
image is turned to black-on-white, and each script uses its own language pack.
"""

from __future__ import annotations

import pytest
from PIL import Image

from pixelforge.domain import GenerationRequest, Tier
from pixelforge.engines.compose.brief import Brief
from pixelforge.engines.compose.engine import ComposeEngine, ComposeOptions
from pixelforge.engines.compose.icons import IconSet
from pixelforge.engines.compose.text import FontLibrary

pytesseract = pytest.importorskip("pytesseract")

pytestmark = pytest.mark.ocr

SCRIPTS = [
    pytest.param("OPEN LATE", "eng", id="latin"),
    pytest.param("진짜 맛있는 라면", "kor", id="korean"),
    pytest.param("本日のおすすめ", "jpn", id="japanese"),
    pytest.param("新年快乐", "chi_sim", id="chinese"),
    pytest.param("رمضان كريم", "ara", id="arabic"),
    pytest.param("ברוכים הבאים", "heb", id="hebrew"),
    pytest.param("शुभ दीपावली", "hin", id="devanagari"),
]
DONE_PROMPT = 'Minimal poster for a coffee shop, headline "OPEN LATE", warm palette'


@pytest.fixture(scope="module")
def engine() -> ComposeEngine:
    return ComposeEngine(FontLibrary(), IconSet())


def squash(text: str) -> str:
    return "".join(text.split())


def clean_for_ocr(image: Image.Image, margin: float = 0.05) -> Image.Image:
    """Crop the outer ``margin`` (frame decorations) and binarize to black on white."""
    w, h = image.size
    mx, my = int(w * margin), int(h * margin)
    gray = image.convert("L").crop((mx, my, w - mx, h - my))
    return gray.point(lambda v: 0 if v < 128 else 255)


def read(image: Image.Image, lang: str) -> str:
    text: str = pytesseract.image_to_string(clean_for_ocr(image), lang=lang, config="--psm 6")
    return text


@pytest.mark.parametrize(("headline", "lang"), SCRIPTS)
def test_generate_reads_back_headline_when_plain_style(
    engine: ComposeEngine, headline: str, lang: str
) -> None:
    brief = Brief(kind="poster", headline=headline, style="minimal", palette=["#ffffff", "#111111"])
    request = GenerationRequest(
        prompt=headline, tier=Tier.T1K, seed=2, options=ComposeOptions(brief=brief)
    )
    image = engine.generate(request).images[0].image
    assert squash(read(image, lang)) == squash(headline)


def test_generate_returns_4x5_2k_size_when_prompt_names_poster(engine: ComposeEngine) -> None:
    request = GenerationRequest(prompt=DONE_PROMPT, aspect_ratio="4:5", tier=Tier.T2K, seed=1)
    assert engine.generate(request).images[0].image.size == (1632, 2048)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_generate_reads_back_quoted_headline_when_prompt_only(
    engine: ComposeEngine, seed: int
) -> None:
    request = GenerationRequest(prompt=DONE_PROMPT, aspect_ratio="4:5", tier=Tier.T2K, seed=seed)
    image = engine.generate(request).images[0].image
    text = pytesseract.image_to_string(image, lang="eng", config="--psm 6")
    assert "OPEN LATE" in " ".join(text.split())
