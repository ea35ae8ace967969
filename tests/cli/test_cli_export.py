"""``pixelforge inspect``, ``pixelforge export``, ``pixelforge gallery export`` and the
``--sidecar`` JSON next to generated images, run in-process."""

from __future__ import annotations

import hashlib
import io
import json
import time
import zipfile
from pathlib import Path

import httpx
import pytest
from PIL import Image

from cli.conftest import RunCli
from metadata_samples import A1111_PROMPT, a1111_png
from pixelforge.postprocess import provenance
from server_support import StartServer
from testing_engines import ZeroWorkEngine

PROMPT = "Minimal poster, headline OPEN LATE"


def generated(run_cli: RunCli, out: Path, *args: str) -> list[Path]:
    result = run_cli("generate", PROMPT, "--size", "256x256", "--seed", "3", "-o", str(out),
                     *args)  # fmt: skip
    assert result.rc == 0, result.err
    return [Path(line) for line in result.out_lines]


# -- sidecar --------------------------------------------------------------------------------


def test_generate_sidecar_is_written_next_to_the_image(run_cli: RunCli, tmp_path: Path) -> None:
    image, sidecar = generated(run_cli, tmp_path / "out", "--sidecar")

    document = json.loads(sidecar.read_text())
    assert sidecar.name == image.with_suffix(".json").name
    assert document["file"] == image.name
    assert document["sha256"] == hashlib.sha256(image.read_bytes()).hexdigest()
    assert (document["prompt"], document["seed"], document["model"]) == (PROMPT, 3, "compose")
    assert document["request"]["seed"] == 3
    assert document["asset"] is None


def test_generate_writes_no_sidecar_by_default(run_cli: RunCli, tmp_path: Path) -> None:
    assert [p.suffix for p in generated(run_cli, tmp_path / "out")] == [".png"]


def test_sidecar_setting_turns_it_on_and_keeps_prompts_out_when_off(
    run_cli: RunCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIXELFORGE_METADATA_SIDECAR", "true")
    monkeypatch.setenv("PIXELFORGE_PROMPT_METADATA", "false")

    image, sidecar = generated(run_cli, tmp_path / "out")

    text = sidecar.read_bytes()
    assert b"OPEN LATE" not in text
    assert b"OPEN LATE" not in image.read_bytes()
    assert "prompt" not in json.loads(text)


# -- inspect --------------------------------------------------------------------------------


def test_inspect_shows_another_tools_settings(run_cli: RunCli, tmp_path: Path) -> None:
    path = tmp_path / "a1111.png"
    path.write_bytes(a1111_png())

    result = run_cli("inspect", str(path))

    assert result.rc == 0
    assert "a1111" in result.out
    assert "1234567890" in result.out
    assert "masterpiece, a castle" in result.out


def test_inspect_json_is_the_api_record(run_cli: RunCli, tmp_path: Path) -> None:
    path = tmp_path / "a1111.png"
    path.write_bytes(a1111_png())

    record = json.loads(run_cli("inspect", str(path), "--json").out)

    assert (record["source"], record["prompt"], record["steps"]) == ("a1111", A1111_PROMPT, 28)


@pytest.mark.parametrize(("content", "message"), [(b"%PDF-1.4", "FILE: not a PNG, JPEG or WebP"),
                                                  (None, "FILE: cannot read")])  # fmt: skip
def test_inspect_refuses_what_is_not_an_image(
    run_cli: RunCli, tmp_path: Path, content: bytes | None, message: str
) -> None:
    path = tmp_path / "x.png"
    if content is not None:
        path.write_bytes(content)

    result = run_cli("inspect", str(path))

    assert result.rc == 2
    assert result.err.startswith(f"error: {message}")


# -- export ---------------------------------------------------------------------------------


def test_export_writes_jpeg_with_metadata_and_a_resigned_manifest(
    run_cli: RunCli, tmp_path: Path
) -> None:
    (image,) = generated(run_cli, tmp_path / "out")

    result = run_cli("export", str(image), "--format", "jpeg", "--quality", "85",
                     "-o", str(tmp_path / "ex"))  # fmt: skip

    assert result.rc == 0, result.err
    (written,) = [Path(line) for line in result.out_lines]
    assert written == tmp_path / "ex" / f"{image.stem}.jpg"
    with Image.open(written) as im:
        assert im.format == "JPEG"
    data = written.read_bytes()
    assert PROMPT.encode("utf-16-be") in data  # the A1111 line in EXIF UserComment
    report = provenance.read(data)
    assert report.valid
    assert report.ingredients[0]["title"] == image.name
    assert report.ingredients[0]["has_manifest"] is True


def test_export_never_overwrites_its_input(run_cli: RunCli, tmp_path: Path) -> None:
    (image,) = generated(run_cli, tmp_path / "out")
    before = image.read_bytes()

    result = run_cli("export", str(image), "-o", str(image.parent))

    assert result.rc == 0
    assert Path(result.out_lines[0]).name == f"{image.stem}-export.png"
    assert image.read_bytes() == before


def test_export_of_a_plain_image_is_not_signed(run_cli: RunCli, tmp_path: Path) -> None:
    path = tmp_path / "photo.png"
    Image.new("RGB", (32, 32), (1, 2, 3)).save(path)

    result = run_cli("export", str(path), "--format", "webp", "-o", str(tmp_path / "ex"))

    assert result.rc == 0
    assert not provenance.read(Path(result.out_lines[0]).read_bytes()).present


@pytest.mark.parametrize(
    ("args", "message"),
    [(("--quality", "0"), "--quality: '0' is not allowed"),
     (("--format", "gif"), "--format: 'gif' is not allowed; allowed: png, jpeg, webp"),
     (("--format", "jpeg", "--background", "transparent"), "--background: 'transparent' needs")],
)  # fmt: skip
def test_export_bad_option_exits_2_naming_it(
    run_cli: RunCli, tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    path = tmp_path / "a.png"
    path.write_bytes(a1111_png())

    result = run_cli("export", str(path), *args, "-o", str(tmp_path / "ex"))

    assert result.rc == 2
    assert result.err.startswith(f"error: {message}")
    assert not (tmp_path / "ex").exists()


# -- gallery export -------------------------------------------------------------------------


@pytest.fixture
def gallery(make_server: StartServer, tmp_path: Path) -> list[str]:
    """Two assets (models zero and other) in the local store (the CLI's PIXELFORGE_HOME)."""
    live = make_server(engines=[ZeroWorkEngine(), ZeroWorkEngine("other")], home=tmp_path / "home")
    made = []
    with httpx.Client(base_url=live.base_url, timeout=30) as client:
        for model in ("zero", "other"):
            job = client.post("/api/jobs", json={"prompt": f"a {model} kite", "model": model,
                                                 "size": "128x128"}).json()  # fmt: skip
            deadline = time.monotonic() + 30
            while (view := client.get(f"/api/jobs/{job['id']}").json())["status"] != "succeeded":
                assert time.monotonic() < deadline, view
                time.sleep(0.05)
            made.append(view["assets"][0])
    live.stop()
    return made


def test_gallery_export_zips_the_local_store(
    run_cli: RunCli, tmp_path: Path, gallery: list[str]
) -> None:
    result = run_cli("gallery", "export", "-o", str(tmp_path / "g.zip"))

    assert result.rc == 0, result.err
    with zipfile.ZipFile(tmp_path / "g.zip") as archive:
        names = set(archive.namelist())
        manifest = json.loads(archive.read("manifest.json"))
    assert names == {f"{i}.{ext}" for i in gallery for ext in ("png", "json")} | {"manifest.json"}
    assert {item["prompt"] for item in manifest["items"]} == {"a zero kite", "a other kite"}


def test_gallery_export_filters_by_model_and_date(
    run_cli: RunCli, tmp_path: Path, gallery: list[str]
) -> None:
    run_cli("gallery", "export", "--model", "other", "-o", str(tmp_path / "m.zip"))
    run_cli("gallery", "export", "--since", "2999-01-01", "-o", str(tmp_path / "f.zip"))

    with zipfile.ZipFile(tmp_path / "m.zip") as archive:
        assert [i["id"] for i in json.loads(archive.read("manifest.json"))["items"]] == [gallery[1]]
    with zipfile.ZipFile(tmp_path / "f.zip") as archive:
        assert archive.namelist() == ["manifest.json"]


@pytest.mark.parametrize(
    ("args", "message"),
    [(("--since", "soon"), "--since: 'soon' is not a time"),
     (("--id", "img_nope"), "--id: not found: 'img_nope'"),
     (("--id", "x", "--model", "zero"), "--id: give asset ids or --model/--since/--until")],
)  # fmt: skip
def test_gallery_export_bad_option_exits_2(
    run_cli: RunCli, tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    result = run_cli("gallery", "export", *args, "-o", str(tmp_path / "x.zip"))

    assert result.rc == 2
    assert result.err.startswith(f"error: {message}")
    assert not (tmp_path / "x.zip").exists()


def test_gallery_zip_entries_read_back(run_cli: RunCli, tmp_path: Path, gallery: list[str]) -> None:
    run_cli("gallery", "export", "--id", gallery[0], "-o", str(tmp_path / "one.zip"))

    with zipfile.ZipFile(tmp_path / "one.zip") as archive:
        image = archive.read(f"{gallery[0]}.png")
        sidecar = json.loads(archive.read(f"{gallery[0]}.json"))
    with Image.open(io.BytesIO(image)) as im:
        assert im.size == (128, 128)
    assert sidecar["sha256"] == hashlib.sha256(image).hexdigest()
    assert sidecar["asset"]["id"] == gallery[0]
