"""`pixelforge refs create|list|show|delete` on the local store, and `generate --ref-set`: the
same database and blob folder the server uses, brand kits applied by compose offline."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from PIL import Image

from server_support import StartServer

MAGENTA, GREEN = (255, 0, 255), (0, 200, 0)
POSTER = 'Minimal poster, headline "OPEN LATE"'
RunCli = Callable[..., Any]  # the run_cli fixture (tests/cli/conftest.py)


def write_png(path: Path, color: tuple[int, int, int], size: tuple[int, int] = (64, 48)) -> Path:
    Image.new("RGB", size, color).save(path, "PNG")
    return path


def count_near(path: Path, color: tuple[int, int, int], tolerance: int = 8) -> int:
    image = np.asarray(Image.open(path).convert("RGB")).astype(int)
    return int((np.abs(image - np.array(color)).max(axis=-1) <= tolerance).sum())


def create_kit(run_cli: RunCli, tmp_path: Path, name: str = "Acme") -> str:
    logo = write_png(tmp_path / "logo.png", MAGENTA, (300, 100))
    result = run_cli("refs", "create", name, "--kind", "brand_kit", "--palette",
                     "#0B5394,#f1c232", "--font", "headline=serif", "--tone", "warm",
                     "--tone", "playful", "--logo", str(logo))  # fmt: skip
    assert result.rc == 0, result.err
    return result.out.split()[0]


def create_mascot(run_cli: RunCli, tmp_path: Path, n: int = 2) -> str:
    files = [str(write_png(tmp_path / f"pose{i}.png", GREEN)) for i in range(n)]
    args = [a for f in files for a in ("--image", f)]
    result = run_cli("refs", "create", "Mascot", "--kind", "character", *args)
    assert result.rc == 0, result.err
    return result.out.split()[0]


def test_create_prints_the_id_and_show_prints_the_brand_fields(
    run_cli: RunCli, tmp_path: Path
) -> None:
    set_id = create_kit(run_cli, tmp_path)

    shown = run_cli("refs", "show", set_id)
    by_name = run_cli("refs", "show", "Acme", "--json")

    assert set_id.startswith("ref_")
    assert "palette: #0b5394, #f1c232" in shown.out
    assert "fonts: headline=serif" in shown.out
    assert "tone: warm, playful" in shown.out
    assert "logo: 300x100" in shown.out
    view = json.loads(by_name.out)
    assert (view["id"], view["kind"], view["tone"]) == (set_id, "brand_kit", ["warm", "playful"])


def test_create_with_images_lists_them_with_the_kinds_role(run_cli: RunCli, tmp_path: Path) -> None:
    set_id = create_mascot(run_cli, tmp_path, 3)

    view = json.loads(run_cli("refs", "show", set_id, "--json").out)
    listed = run_cli("refs", "list", "--kind", "character")

    assert [(i["role"], i["width"], i["height"]) for i in view["images"]] == [
        ("character", 64, 48)
    ] * 3
    assert "Mascot" in listed.out
    assert "Acme" not in listed.out


def test_delete_removes_the_set(run_cli: RunCli, tmp_path: Path) -> None:
    set_id = create_mascot(run_cli, tmp_path)

    deleted = run_cli("refs", "delete", "Mascot")
    shown = run_cli("refs", "show", set_id)

    assert (deleted.rc, deleted.out.strip()) == (0, f"deleted {set_id} (Mascot)")
    assert shown.rc == 2
    assert "SET:" in shown.err
    assert "no reference sets yet" in run_cli("refs", "list").err


def test_create_refuses_bad_values_naming_the_option(run_cli: RunCli, tmp_path: Path) -> None:
    not_image = tmp_path / "notes.txt"
    not_image.write_text("hello")
    cases = [
        (["--kind", "hero"], "--kind: 'hero' is not allowed"),
        (["--kind", "brand_kit", "--palette", "#12,#000000"], "--palette: '#12' is not a colour"),
        (["--kind", "brand_kit", "--font", "headline"], "--font: 'headline' is not ROLE=FAMILY"),
        (["--kind", "brand_kit", "--font", "title=serif"], "--font: 'title' is not a font role"),
        (["--kind", "brand_kit", "--tone", "<b>"], "--tone: '<b>' is not a tone word"),
        (["--kind", "style", "--palette", "#000000"], "--palette: only brand kits"),
        (["--kind", "style", "--image", str(not_image)], "--image: 'notes.txt' is not a PNG"),
        (["--kind", "style", "--image", str(tmp_path / "missing.png")], "--image: cannot read"),
        (["--kind", "brand_kit", "--logo", str(not_image)], "--logo: 'notes.txt' is not a PNG"),
        (["--kind", "style", "--role", "hero"], "--role: 'hero' is not allowed"),
        (["--kind", "style", "--user", "nobody@example.com"], "--user: "),
    ]
    for args, message in cases:
        result = run_cli("refs", "create", "Set", *args)
        assert (result.rc, message in result.err) == (2, True), (args, result.err)
    assert "no reference sets yet" in run_cli("refs", "list").err


def test_create_refuses_a_name_already_used(run_cli: RunCli, tmp_path: Path) -> None:
    create_kit(run_cli, tmp_path)
    again = run_cli("refs", "create", "Acme", "--kind", "style")
    assert again.rc == 2
    assert "NAME: you already have a reference set named 'Acme'" in again.err


def test_generate_with_a_brand_kit_on_compose_draws_palette_and_logo(
    run_cli: RunCli, tmp_path: Path
) -> None:
    create_kit(run_cli, tmp_path)

    result = run_cli("generate", POSTER, "--ref-set", "Acme", "--seed", "3", "-o", "out")

    assert result.rc == 0, result.err
    (written,) = [Path(line) for line in result.out_lines]
    assert count_near(written, MAGENTA) > 1000
    assert count_near(written, (0x0B, 0x53, 0x94)) > 1000
    meta = json.loads(Image.open(written).text["pixelforge"])  # type: ignore[attr-defined]
    assert meta["brand"] == "palette,fonts,tone,logo"


def test_generate_refuses_more_set_images_than_the_model_takes(
    run_cli: RunCli, tmp_path: Path
) -> None:
    set_id = create_mascot(run_cli, tmp_path, 2)

    refused = run_cli("generate", POSTER, "--ref-set", set_id, "-o", "out")
    taken = run_cli("generate", POSTER, "--ref-set", f"{set_id}:product:1", "-o", "out")

    assert refused.rc == 2
    assert refused.err.startswith("error: --ref-set: reference set 'Mascot' adds 2 image(s)")
    assert "write --ref-set SET:1" in refused.err
    assert taken.rc == 0, taken.err
    (written,) = [Path(line) for line in taken.out_lines]
    assert count_near(written, GREEN) > 2000  # the set's first image is the hero


def test_generate_refuses_bad_ref_set_specs(run_cli: RunCli, tmp_path: Path) -> None:
    create_mascot(run_cli, tmp_path, 1)
    cases = [
        ("nope", "--ref-set: no reference set 'nope'"),
        ("Mascot:hero", "--ref-set: 'hero' is not allowed"),
        ("Mascot:style:1:2", "is not SET[:ROLE][:N]"),
        (":style", "names no set"),
    ]
    for spec, message in cases:
        result = run_cli("generate", POSTER, "--ref-set", spec, "-o", "out")
        assert (result.rc, message in result.err) == (2, True), (spec, result.err)
    assert not (tmp_path / "out").exists()


def test_sets_made_on_the_command_line_are_the_servers(
    run_cli: RunCli, tmp_path: Path, make_server: StartServer
) -> None:
    set_id = create_kit(run_cli, tmp_path)

    live = make_server(home=tmp_path / "home")
    with httpx.Client(base_url=live.base_url, timeout=30) as http:
        listed = http.get("/api/references").json()
        logo = http.get(f"/api/references/{set_id}/logo")
        job = http.post("/api/jobs", json={"prompt": POSTER, "reference_sets": [{"id": set_id}]})

    assert [s["id"] for s in listed["data"]] == [set_id]
    assert Image.open(io.BytesIO(logo.content)).size == (300, 100)
    assert job.status_code == 202
