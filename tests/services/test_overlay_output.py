"""A request's text overlay survives the durable queue and is drawn by the output chain on
every image, whatever the engine, before the watermark; the file's metadata records it."""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pixelforge.domain import Brand, GenerationRequest, TextOverlay, Tier
from pixelforge.engines.compose.engine import ComposeEngine, ComposeOptions
from pixelforge.engines.compose.icons import IconSet
from pixelforge.engines.compose.text import FontLibrary
from pixelforge.engines.registry import ModelRegistry
from pixelforge.postprocess import watermark
from pixelforge.postprocess.chain import OutputChain
from pixelforge.postprocess.encode import embedded_metadata
from pixelforge.postprocess.overlay import TextOverlayer
from pixelforge.services.codec import decode_request, encode_request
from pixelforge.services.generate import GenerateService, encode_result
from pixelforge.store.blobs import LocalBlobStore
from testing_engines import ZeroWorkEngine

OVERLAY = TextOverlay(headline="Exact 42%", subtitle="Every time", cta="Go", labels=("$1",),
                      position="left", color="#FFFFFF", scrim="on",
                      headline_font="serif", label_font="mono")  # fmt: skip


@pytest.fixture(scope="module")
def fonts() -> FontLibrary:
    return FontLibrary()


@pytest.fixture
def registry(fonts: FontLibrary) -> ModelRegistry:
    return ModelRegistry([ComposeEngine(fonts, IconSet()), ZeroWorkEngine()])


def pixels(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGB"))


def test_overlay_round_trips_through_the_job_row(tmp_path: Path, registry: ModelRegistry) -> None:
    blobs = LocalBlobStore(tmp_path / "blobs")
    original = GenerationRequest("poster", text_overlay=OVERLAY, brand=Brand(palette=("#123456",)))

    payload = json.loads(json.dumps(encode_request(original, blobs)))
    decoded = decode_request(payload, blobs, registry)

    assert decoded == original
    assert payload["text_overlay"]["fonts"] == {"headline": "serif", "label": "mono"}


def test_job_row_without_overlay_decodes_with_none(tmp_path: Path, registry: ModelRegistry) -> None:
    blobs = LocalBlobStore(tmp_path / "blobs")
    payload = encode_request(GenerationRequest("poster"), blobs)
    del payload["text_overlay"]  # a row written before overlays existed
    assert decode_request(payload, blobs, registry).text_overlay is None


@pytest.mark.parametrize("model", ["compose", "zero"])
def test_every_engine_gets_the_overlay_and_the_metadata_records_it(
    registry: ModelRegistry, fonts: FontLibrary, model: str
) -> None:
    service = GenerateService(registry, overlayer=TextOverlayer(fonts))
    base = GenerationRequest('Poster, headline "PLAIN"', model=model, seed=4, aspect_ratio="4:3",
                             tier=Tier.T512)  # fmt: skip
    with_text = dataclasses.replace(base, text_overlay=OVERLAY)

    _, (plain,), _ = service.run(base)
    _, (drawn,), _ = service.run(with_text)

    assert (drawn.width, drawn.height) == (plain.width, plain.height)
    changed = (pixels(drawn.data) != pixels(plain.data)).any(axis=2)
    assert changed[:, : drawn.width // 2].sum() > 500  # the text went to the left column
    assert changed[:, drawn.width * 3 // 4 :].sum() == 0
    meta = embedded_metadata(drawn.data)
    assert meta is not None
    assert "text_overlay" not in (embedded_metadata(plain.data) or {})
    recorded = json.loads(meta["text_overlay"])
    assert (recorded["headline"], recorded["placed"], recorded["scrim_drawn"]) == (
        "Exact 42%", "left", True,
    )  # fmt: skip
    assert drawn.metadata["text_overlay"] == meta["text_overlay"]


def test_compose_svg_gets_the_overlay_too(registry: ModelRegistry) -> None:
    request = GenerationRequest("Poster", seed=1, tier=Tier.T512, options=ComposeOptions(svg=True),
                                text_overlay=TextOverlay(headline="On top"))  # fmt: skip
    engine, _ = registry.resolve("compose")
    result = engine.generate(request)
    (encoded,) = encode_result(request, result)
    assert result.images[0].svg is not None
    assert encoded.svg is not None
    assert encoded.svg.count('class="pixelforge-text-overlay"') == 1
    assert 'class="pixelforge-text-overlay"' not in result.images[0].svg


def test_overlay_is_drawn_before_the_watermark(registry: ModelRegistry) -> None:
    """The watermark is read back from the final file: the text did not overwrite it."""
    engine, _ = registry.resolve("zero")
    request = GenerationRequest("x", model="zero", seed=200,
                                text_overlay=TextOverlay(headline="Marked", scrim="on"))  # fmt: skip
    (encoded,) = encode_result(request, engine.generate(request), OutputChain(None, True))

    assert encoded.watermark_id is not None
    with Image.open(io.BytesIO(encoded.data)) as im:
        assert watermark.detect(im.convert("RGB")).id == encoded.watermark_id
