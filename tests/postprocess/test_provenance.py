"""C2PA content credentials: signed on output, read back valid, edits carry their inputs as
ingredients (keeping an ingredient's own manifest), tampering is caught, and the development
identity says what it is."""

from __future__ import annotations

import io
import stat
from pathlib import Path

import pytest
from PIL import Image

from pixelforge.postprocess import provenance
from pixelforge.postprocess.provenance import ContentCredentials, Ingredient, ProvenanceError


def image_bytes(fmt: str = "PNG", colour: tuple[int, int, int] = (30, 120, 200)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (256, 192), colour).save(buf, fmt)
    return buf.getvalue()


@pytest.fixture(scope="module")
def credentials(tmp_path_factory: pytest.TempPathFactory) -> ContentCredentials:
    home = tmp_path_factory.mktemp("c2pa")
    return ContentCredentials(provenance.development_identity(home))


@pytest.mark.parametrize(("fmt", "name"), [("PNG", "png"), ("JPEG", "jpeg"), ("WEBP", "webp")])
def test_signed_output_reads_back_valid(
    credentials: ContentCredentials, fmt: str, name: str
) -> None:
    signed = credentials.sign(image_bytes(fmt), name, model="compose", title=f"a.{name}",
                              generation={"seed": "7", "watermark_id": 1234})  # fmt: skip
    report = provenance.read(signed)
    assert report.present
    assert report.valid
    assert not report.trusted
    assert report.development
    assert "DEVELOPMENT" in (report.signer or "")
    assert report.ai_generated
    assert report.actions == ("c2pa.created",)
    assert report.model == "compose"
    assert report.generation == {"model": "compose", "seed": "7", "watermark_id": 1234}
    assert report.failures == ()
    Image.open(io.BytesIO(signed)).load()  # still a normal image


def test_edit_keeps_its_input_and_the_input_manifest(credentials: ContentCredentials) -> None:
    first = credentials.sign(image_bytes(), "png", model="gemini-2.5-flash-image", title="in.png")
    plain_ref = image_bytes("JPEG", (200, 10, 10))
    edited = credentials.sign(
        image_bytes("JPEG"), "jpeg", model="gpt-image-1", title="out.jpg",
        ingredients=[Ingredient(first, "png", "in.png", "parentOf"),
                     Ingredient(plain_ref, "jpeg", "style.jpg", "componentOf")],
    )  # fmt: skip
    report = provenance.read(edited)
    assert report.valid
    assert report.ai_generated
    assert report.actions == ("c2pa.opened", "c2pa.edited")
    assert [(i["title"], i["relationship"], i["has_manifest"]) for i in report.ingredients] == [
        ("in.png", "parentOf", True), ("style.jpg", "componentOf", False),
    ]  # fmt: skip


def test_tampering_is_detected(credentials: ContentCredentials) -> None:
    signed = bytearray(credentials.sign(image_bytes(), "png", model="compose", title="t.png"))
    idat = signed.index(b"IDAT")
    signed[idat + 10] ^= 0xFF
    report = provenance.read(bytes(signed))
    assert report.present
    assert not report.valid
    assert any("mismatch" in f for f in report.failures)


def test_unsigned_and_unknown_inputs() -> None:
    assert provenance.read(image_bytes()).present is False
    assert provenance.read(b"not an image").state == "unsupported format"


def test_development_identity_is_made_once_and_private(tmp_path: Path) -> None:
    first = provenance.development_identity(tmp_path / "c2pa")
    again = provenance.development_identity(tmp_path / "c2pa")
    assert first.chain_pem == again.chain_pem
    assert first.development
    key = tmp_path / "c2pa" / "dev-key.pem"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert provenance.DEV_MARK in first.subject


def test_configured_identity(tmp_path: Path) -> None:
    made = provenance.make_development_identity()
    cert, key = tmp_path / "chain.pem", tmp_path / "key.pem"
    cert.write_bytes(made.chain_pem)
    key.write_bytes(made.key_pem)
    loaded = provenance.load_identity(cert, key, "es256")
    signed = ContentCredentials(loaded).sign(image_bytes(), "png", model="m", title="x.png")
    assert provenance.read(signed).valid
    with pytest.raises(ProvenanceError, match="allowed: es256"):
        provenance.load_identity(cert, key, "md5")
    with pytest.raises(ProvenanceError, match="cannot load"):
        provenance.load_identity(tmp_path / "missing.pem", key)
    wrong = provenance.make_development_identity()
    mismatched = provenance.SigningIdentity(made.chain_pem, wrong.key_pem)
    with pytest.raises(ProvenanceError):
        ContentCredentials(mismatched).sign(image_bytes(), "png", model="m", title="x.png")


def test_unsupported_format_is_refused(credentials: ContentCredentials) -> None:
    with pytest.raises(ProvenanceError, match="allowed: png, jpeg, webp"):
        credentials.sign(b"GIF89a", "gif", model="m", title="x.gif")


def test_an_export_is_recorded_as_transcoded(credentials: ContentCredentials) -> None:
    first = credentials.sign(image_bytes(), "png", model="compose", title="in.png")
    exported = credentials.sign(
        image_bytes("JPEG"), "jpeg", model="compose", title="in.jpg", transcoded=True,
        ingredients=[Ingredient(first, "png", "in.png", "parentOf")],
    )  # fmt: skip
    report = provenance.read(exported)
    assert report.valid
    assert report.actions == ("c2pa.opened", "c2pa.transcoded")
    assert report.ingredients[0]["has_manifest"] is True
