"""`pixelforge upscale`: any image file bigger (2x, 4x, 2K/4K) in its own format, classical or
a super-resolution model from the models folder; compose-made files rendered again (crisp)
unless --no-rerender; bad input exits 2 naming the option."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import image_metrics

POSTER = 'Minimal poster, headline "OPEN LATE", warm palette'


def embedded(path: Path) -> dict[str, str]:
    with Image.open(path) as im:
        text = im.info.get("pixelforge") or im.getexif().get(0x010E)
    meta: dict[str, str] = json.loads(text)
    return meta


def size_of(path: Path) -> tuple[int, int]:
    with Image.open(path) as im:
        return im.size


def photo(path: Path, width: int = 120, height: int = 80) -> Path:
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (height, width, 3), np.uint8)).save(path)
    return path


def written(result) -> Path:
    assert result.rc == 0, result.err
    (path,) = [Path(line) for line in result.out_lines]
    return path


def edge_widths(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return image_metrics.edge_widths(im)


def test_upscale_writes_the_file_exactly_2x_by_default_in_its_format(run_cli, tmp_path):
    source = photo(tmp_path / "shot.jpg")

    result = run_cli("upscale", str(source), "-o", str(tmp_path / "out"))

    path = written(result)
    assert path.parent == tmp_path / "out"
    assert path.name.startswith("shot-x2-")
    assert path.suffix == ".jpg"
    assert size_of(path) == (240, 160)
    assert embedded(path)["upscaler"] == "classical"
    assert "240x160, upscaled by classical" in result.err


def test_upscale_to_a_tier_keeps_the_aspect_ratio(run_cli, tmp_path):
    source = photo(tmp_path / "shot.png", 500, 333)

    path = written(run_cli("upscale", str(source), "--to", "2K", "-o", str(tmp_path)))

    assert size_of(path) == (2048, 1364)
    assert path.name.startswith("shot-2K-")


def test_a_compose_file_is_rendered_again_crisp_unless_no_rerender(run_cli, tmp_path):
    made = run_cli("generate", POSTER, "--size", "256x256", "--seed", "7", "-o", str(tmp_path))
    source = written(made)

    again = run_cli("upscale", str(source), "-x", "4", "-o", str(tmp_path / "re"))
    pixels = run_cli("upscale", str(source), "-x", "4", "--no-rerender", "--model", "classical",
                     "-o", str(tmp_path / "px"))  # fmt: skip

    rerendered, upscaled = written(again), written(pixels)
    assert size_of(rerendered) == size_of(upscaled) == (1024, 1024)
    meta = embedded(rerendered)
    assert (meta["model"], meta["seed"], meta["size"], meta["prompt"]) == (
        "compose", "7", "1024x1024", POSTER,
    )  # fmt: skip
    assert "re-rendered by compose" in again.err
    assert embedded(upscaled)["model"] == "upscale/classical"
    assert np.percentile(edge_widths(rerendered), 90) <= 2
    assert np.median(edge_widths(upscaled)) >= 2.5


def test_a_compose_file_goes_to_a_tier_in_its_own_aspect_ratio(run_cli, tmp_path):
    made = run_cli("generate", POSTER, "--aspect", "4:5", "--resolution", "512", "-o",
                   str(tmp_path))  # fmt: skip

    path = written(run_cli("upscale", str(written(made)), "--to", "2K", "-o", str(tmp_path / "r")))

    assert size_of(path) == (1632, 2048)  # compose's 4:5 at 2K
    assert embedded(path)["model"] == "compose"


def test_a_compose_file_made_from_an_input_image_is_upscaled_and_says_why(run_cli, tmp_path):
    ref = photo(tmp_path / "ref.png")
    made = run_cli("generate", "Product card, headline \"NEW\"", "--ref", str(ref), "--size",
                   "256x256", "-o", str(tmp_path))  # fmt: skip

    result = run_cli("upscale", str(written(made)), "-o", str(tmp_path / "up"))

    path = written(result)
    assert size_of(path) == (512, 512)
    assert embedded(path)["model"] == "upscale/classical"
    assert "cannot be rebuilt from its metadata (it used an input image" in result.err


def test_a_compose_file_whose_pixels_changed_is_upscaled_not_re_rendered(run_cli, tmp_path):
    source = written(run_cli("generate", POSTER, "--size", "256x256", "-o", str(tmp_path)))
    with Image.open(source) as im:
        edited = im.copy()
        info = dict(im.info)
    edited.paste((0, 0, 0), (0, 0, 256, 128))  # someone painted over half of it
    edited.save(source, pnginfo=_text_chunks(info))

    result = run_cli("upscale", str(source), "-o", str(tmp_path / "up"))

    assert embedded(written(result))["model"] == "upscale/classical"
    assert "changed since" in result.err


def _text_chunks(info: dict[str, object]):
    from PIL import PngImagePlugin

    chunks = PngImagePlugin.PngInfo()
    for key in ("parameters", "pixelforge"):
        chunks.add_itxt(key, str(info[key]))
    return chunks


@pytest.mark.parametrize(
    ("args", "message"),
    [(["-x", "3"], "-x: 3 is not an upscale factor; allowed: 2, 4"),
     (["-x", "two"], "-x: 'two' is not a whole number"),
     (["--to", "8K"], "--to: '8K' is not an upscale target; allowed: 2K, 4K"),
     (["-x", "2", "--to", "2K"], "--to: give -x or --to, not both"),
     (["--model", "nope"], "--model: 'nope' is not an installed upscaler; allowed: auto, "
      "classical")],
)  # fmt: skip
def test_bad_flags_exit_2_naming_the_flag(run_cli, tmp_path, args, message):
    source = photo(tmp_path / "shot.png")

    result = run_cli("upscale", str(source), *args, "-o", str(tmp_path / "out"))

    assert result.rc == 2
    assert len(result.err_lines) == 1
    assert result.err_lines[0].startswith(f"error: {message}")
    assert not (tmp_path / "out").exists()


def test_unreadable_or_non_image_files_exit_2_naming_the_argument(run_cli, tmp_path):
    (tmp_path / "notes.png").write_text("not an image")

    missing = run_cli("upscale", str(tmp_path / "nope.png"))
    text = run_cli("upscale", str(tmp_path / "notes.png"))

    assert (missing.rc, text.rc) == (2, 2)
    assert missing.err.startswith("error: IMAGE: cannot read")
    assert text.err.startswith("error: IMAGE: ")


# -- super-resolution models from the models folder -----------------------------------------


@pytest.fixture
def models(tmp_path, monkeypatch) -> Path:
    pytest.importorskip("torch")
    from upscale_models import save_model

    folder = tmp_path / "models"
    save_model(folder / "tiny-x4.safetensors", 4, seed=4)
    save_model(folder / "old-esrgan.safetensors", 4, esrgan_layout=True)
    monkeypatch.setenv("PIXELFORGE_MODELS_DIR", str(folder))
    return folder


def test_a_named_model_upscales_the_file(run_cli, tmp_path, models):
    source = photo(tmp_path / "shot.png", 40, 24)

    result = run_cli("upscale", str(source), "-x", "2", "--model", "tiny-x4", "-o", str(tmp_path))

    path = written(result)
    assert size_of(path) == (80, 48)
    assert embedded(path)["upscaler"] == "tiny-x4"
    assert "upscaled by tiny-x4" in result.err


def test_models_list_and_scan_show_the_upscalers(run_cli, models, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    listed = run_cli("models", "list")
    scanned = run_cli("models", "scan")

    assert listed.rc == scanned.rc == 0
    rows = {line.split()[1]: line for line in listed.out_lines if "upscale/" in line}
    assert set(rows) == {"upscale/classical", "upscale/tiny-x4", "upscale/old-esrgan"}
    assert all("upscale" in row.split("│")[2] for row in rows.values())
    assert {line.split()[1] for line in scanned.out_lines if " upscaler " in line} == {
        "tiny-x4", "old-esrgan",
    }  # fmt: skip
