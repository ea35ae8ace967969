"""`pixelforge vary`: more like a file, from the metadata Pixelforge embedded in it."""

from __future__ import annotations

import io
import json
from pathlib import Path

from PIL import Image

POSTER = 'Minimal poster, headline "OPEN LATE", warm palette'


def make_image(run_cli, folder: Path, *args: str) -> Path:
    """A file ``pixelforge generate`` wrote (compose, 512 unless sized)."""
    result = run_cli("generate", POSTER, "--resolution", "512", "-o", str(folder / "src"), *args)
    assert result.rc == 0, result.err
    (path,) = [Path(line) for line in result.out_lines]
    return path


def embedded(path: Path) -> dict[str, str]:
    with Image.open(path) as im:
        text = im.info.get("pixelforge") or im.getexif().get(0x010E)
    meta: dict[str, str] = json.loads(text)
    return meta


def test_vary_writes_new_files_with_the_files_prompt_and_size_and_new_seeds(run_cli, tmp_path):
    source = make_image(run_cli, tmp_path, "--size", "320x256", "--seed", "7")

    result = run_cli("vary", str(source), "-n", "3", "-o", str(tmp_path / "var"))

    assert result.rc == 0, result.err
    paths = [Path(line) for line in result.out_lines]
    assert len(paths) == 3
    metas = [embedded(p) for p in paths]
    assert {(m["prompt"], m["model"], m["size"]) for m in metas} == {(POSTER, "compose", "320x256")}
    seeds = [int(m["seed"]) for m in metas]
    assert 7 not in seeds
    assert seeds == list(range(seeds[0], seeds[0] + 3))


def test_vary_starts_at_the_given_seed_and_keeps_the_files_format(run_cli, tmp_path):
    source = make_image(run_cli, tmp_path, "--seed", "7", "--format", "webp")

    result = run_cli("vary", str(source), "-n", "2", "--seed", "40", "-o", str(tmp_path / "v"))

    assert result.rc == 0, result.err
    assert [int(embedded(Path(p))["seed"]) for p in result.out_lines] == [40, 41]
    assert {Path(p).suffix for p in result.out_lines} == {".webp"}


def test_vary_takes_a_prompt_for_a_file_without_metadata(run_cli, tmp_path):
    plain = tmp_path / "plain.png"
    Image.new("RGB", (256, 128), (10, 20, 30)).save(plain)

    result = run_cli("vary", str(plain), "-n", "1", "--prompt", "A banner, headline \"HI\"",
                     "-o", str(tmp_path / "v"))  # fmt: skip

    assert result.rc == 0, result.err
    (path,) = result.out_lines
    assert embedded(Path(path))["prompt"] == 'A banner, headline "HI"'
    with Image.open(path) as im:
        assert im.size == (256, 128)


def test_vary_refuses_a_file_without_metadata_and_no_prompt(run_cli, tmp_path):
    plain = tmp_path / "plain.png"
    buf = io.BytesIO()
    Image.new("RGB", (64, 64)).save(buf, format="PNG")
    plain.write_bytes(buf.getvalue())

    result = run_cli("vary", str(plain), "-o", str(tmp_path / "v"))

    assert result.rc == 2
    assert result.err_lines == [
        f"error: IMAGE: {str(plain)!r} has no Pixelforge metadata (prompt, model, seed); give "
        "the prompt with --prompt TEXT (and the model with -m)"
    ]
    assert not (tmp_path / "v").exists()


def test_vary_refuses_strength_on_a_model_without_one(run_cli, tmp_path):
    source = make_image(run_cli, tmp_path, "--seed", "7")

    result = run_cli("vary", str(source), "--strength", "subtle", "-o", str(tmp_path / "v"))

    assert result.rc == 2
    assert result.err.startswith(
        "error: --strength: model 'compose' has no image-to-image strength; allowed: leave "
        "--strength out (same settings, new seeds); no model on this server takes a strength"
    )


def test_vary_refuses_unknown_strength_naming_what_is_allowed(run_cli, tmp_path):
    source = make_image(run_cli, tmp_path, "--seed", "7")

    result = run_cli("vary", str(source), "--strength", "medium")

    assert result.rc == 2
    assert result.err_lines == [
        "error: --strength: 'medium' is not allowed; allowed: subtle, strong"
    ]


def test_vary_refuses_a_seed_run_over_the_files_seed(run_cli, tmp_path):
    source = make_image(run_cli, tmp_path, "--seed", "7")

    result = run_cli("vary", str(source), "-n", "4", "--seed", "6")

    assert result.rc == 2
    assert result.err.startswith("error: --seed: 6 would repeat the source image's seed 7")


def test_vary_refuses_a_missing_file(run_cli, tmp_path):
    result = run_cli("vary", str(tmp_path / "nope.png"))
    assert result.rc == 2
    assert result.err.startswith(f"error: IMAGE: cannot read {str(tmp_path / 'nope.png')!r}")
