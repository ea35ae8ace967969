"""Gallery export on SQLite and PostgreSQL: which assets a selection holds (ids in order,
only the caller's, deleted ones gone; filter by model and time), and the zip streamed one
image at a time."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from pixelforge.errors import InvalidRequestError, NotFoundError
from pixelforge.postprocess.chain import OutputChain
from pixelforge.services.accounts import Principal
from pixelforge.services.assets import AssetService
from pixelforge.services.export import ExportService, GalleryFilter
from pixelforge.store.blobs import LocalBlobStore
from pixelforge.store.db import Database
from pixelforge.store.models import Asset

ALICE = Principal("usr_alice", "alice@example.com", "member", "key")
BOB = Principal("usr_bob", "bob@example.com", "member", "key")
ADMIN = Principal("usr_admin", "admin@example.com", "admin", "key")


def noisy_png(seed: int, side: int) -> bytes:
    """A PNG that does not compress (random pixels), ``side`` pixels square."""
    buf = io.BytesIO()
    Image.frombytes("RGB", (side, side), bytes((i * seed * 7919) % 251 for i in range(side * side * 3))
                    ).save(buf, "PNG", compress_level=0)  # fmt: skip
    return buf.getvalue()


@pytest.fixture
def service(db: Database, tmp_path: Path) -> ExportService:
    blobs = LocalBlobStore(tmp_path / "blobs")
    rows = [  # id, owner, model, created, side, deleted
        ("img_a1", ALICE.user_id, "zero", 1000.0, 160, False),
        ("img_a2", ALICE.user_id, "other", 2000.0, 96, False),
        ("img_a3", ALICE.user_id, "zero", 3000.0, 64, True),
        ("img_b1", BOB.user_id, "zero", 1500.0, 64, False),
    ]
    with db.write() as s:
        for i, (asset_id, owner, model, created, side, deleted) in enumerate(rows):
            data = noisy_png(i + 3, side)
            s.add(Asset(
                id=asset_id, user_id=owner, job_id=None, position=0,
                blob_key=blobs.put(data, "png"), format="png", width=side, height=side,
                bytes=len(data), model=model, seed=i, prompt=f"prompt of {asset_id}",
                params={"prompt": f"prompt of {asset_id}", "model": model, "seed": str(i)},
                parent_id=None, timings={}, cost="0.001", created_at=created, deleted=deleted,
            ))  # fmt: skip
    return ExportService(AssetService(db, blobs), OutputChain(None, watermark=False))


def ids(assets: list[Asset]) -> list[str]:
    return [a.id for a in assets]


def test_ids_keep_their_order_once_each(service: ExportService) -> None:
    chosen = service.select(["img_a2", "img_a1", "img_a2"], None, ALICE)

    assert ids(chosen) == ["img_a2", "img_a1"]


def test_ids_of_others_and_deleted_assets_are_404_naming_them(service: ExportService) -> None:
    with pytest.raises(NotFoundError) as caught:
        service.select(["img_a1", "img_b1", "img_a3", "img_zz"], None, ALICE)

    assert caught.value.message == "asset_ids: not found: 'img_b1', 'img_a3', 'img_zz'"
    assert caught.value.param == "asset_ids"


def test_filter_selects_the_callers_assets_by_model_and_time(service: ExportService) -> None:
    assert ids(service.select(None, GalleryFilter(), ALICE)) == ["img_a2", "img_a1"]
    assert ids(service.select(None, GalleryFilter(model="zero"), ALICE)) == ["img_a1"]
    assert ids(service.select(None, GalleryFilter(since=1500.0), ALICE)) == ["img_a2"]
    assert ids(service.select(None, GalleryFilter(until=1500.0), ALICE)) == ["img_a1"]


def test_admin_filter_spans_every_owner(service: ExportService) -> None:
    assert ids(service.select(None, GalleryFilter(model="zero"), ADMIN)) == ["img_b1", "img_a1"]


def test_selection_needs_ids_or_a_filter(service: ExportService) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        service.select(None, None, ALICE)
    assert caught.value.param == "asset_ids"


def test_zip_streams_one_image_at_a_time(service: ExportService) -> None:
    chosen = service.select(["img_a1", "img_a2"], None, ALICE)
    largest = max(a.bytes for a in chosen)

    chunks = list(service.zip_stream(chosen))

    assert len(chunks) == 3  # one per image (with its sidecar), then the manifest and directory
    assert all(len(c) < largest + 16_384 for c in chunks)
    with zipfile.ZipFile(io.BytesIO(b"".join(chunks))) as archive:
        assert archive.testzip() is None
        manifest = json.loads(archive.read("manifest.json"))
        assert [i["id"] for i in manifest["items"]] == ["img_a1", "img_a2"]
        assert archive.getinfo("img_a1.png").compress_type == zipfile.ZIP_STORED
