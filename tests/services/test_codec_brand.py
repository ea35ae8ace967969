"""A brand kit survives the durable queue: encoded to JSON with its logo in the blob store,
decoded back to the same request; job rows written before brand kits existed decode as none."""

from __future__ import annotations

import io
import json
from pathlib import Path

from PIL import Image

from pixelforge.domain import Brand, GenerationRequest, ImageInput, Reference, ReferenceRole
from pixelforge.engines.compose.engine import ComposeEngine
from pixelforge.engines.compose.icons import IconSet
from pixelforge.engines.compose.text import FontLibrary
from pixelforge.engines.registry import ModelRegistry
from pixelforge.services.codec import decode_request, encode_request
from pixelforge.store.blobs import LocalBlobStore


def png(color: tuple[int, int, int], size: tuple[int, int]) -> ImageInput:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "PNG")
    return ImageInput(buf.getvalue(), *size, "png", "logo")


def registry() -> ModelRegistry:
    return ModelRegistry([ComposeEngine(FontLibrary(), IconSet())])


def test_brand_round_trips_through_json_with_logo_in_blob_store(tmp_path: Path) -> None:
    blobs = LocalBlobStore(tmp_path / "blobs")
    logo = png((255, 0, 255), (60, 20))
    original = GenerationRequest(
        "poster", references=(Reference(png((0, 200, 0), (32, 32)), ReferenceRole.CHARACTER),),
        brand=Brand(palette=("#0b5394",), headline_font="serif", tone=("warm",), logo=logo),
    )  # fmt: skip

    payload = json.loads(json.dumps(encode_request(original, blobs)))
    decoded = decode_request(payload, blobs, registry())

    assert decoded == original
    assert blobs.get(payload["brand"]["logo"]["blob"]) == logo.data
    assert "data" not in json.dumps(payload["brand"])


def test_request_without_brand_field_decodes_with_no_brand(tmp_path: Path) -> None:
    blobs = LocalBlobStore(tmp_path / "blobs")
    payload = encode_request(GenerationRequest("poster"), blobs)
    del payload["brand"]  # a job row written before brand kits existed

    assert decode_request(payload, blobs, registry()).brand is None
