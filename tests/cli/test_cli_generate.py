"""The ``pixelforge generate`` command, run in-process: outputs, metadata and bad input."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from PIL import Image, ImageChops

from image_checks import assert_same_image_but_watermark

POSTER = 'Minimal poster for a coffee shop, headline "OPEN LATE", warm palette'
EXIF_DESCRIPTION = 0x010E
EXIF_ORIENTATION = 0x0112


def files_in(folder: Path) -> list[Path]:
    """Every entry of ``folder`` (hidden and temp files included); none if it is absent."""
    return sorted(folder.iterdir()) if folder.exists() else []


def images_in(folder: Path) -> list[Path]:
    return [p for p in files_in(folder) if p.suffix != ".svg"]


def generate(run_cli, out: Path, *args: str, prompt: str = POSTER):
    return run_cli("generate", prompt, "--resolution", "512", "-o", str(out), *args)


def only_image(out: Path) -> Path:
    (path,) = images_in(out)
    return path


# --- success ----------------------------------------------------------------------------


def test_generate_writes_png_of_tier_size(run_cli, tmp_path):
    out = tmp_path / "out"

    result = run_cli(
        "generate", POSTER, "--aspect", "4:5", "--resolution", "2K", "-o", str(out),
        "--seed", "3",
    )  # fmt: skip

    assert result.rc == 0
    with Image.open(only_image(out)) as im:
        assert im.format == "PNG"
        assert im.size == (1632, 2048)


def test_generate_prints_each_written_path_on_one_line(run_cli, tmp_path):
    out = tmp_path / "out"

    result = generate(run_cli, out, "-n", "2", "--seed", "3")

    assert result.rc == 0
    assert sorted(result.out.splitlines()) == [str(p) for p in files_in(out)]


def test_generate_prints_paths_verbatim_when_folder_has_brackets(run_cli, tmp_path):
    result = generate(run_cli, Path("[bold]out"), "--seed", "3")

    assert result.rc == 0
    (written,) = files_in(tmp_path / "[bold]out")
    assert result.out_lines == [str(Path("[bold]out") / written.name)]


def test_generate_with_n_writes_distinct_files_with_distinct_seeds(run_cli, tmp_path):
    out = tmp_path / "out"

    result = generate(run_cli, out, "-n", "3")

    assert result.rc == 0
    paths = images_in(out)
    assert len(paths) == 3
    seeds = {re.search(r"-seed(\d+)\.png$", p.name).group(1) for p in paths}
    assert len(seeds) == 3


@pytest.mark.parametrize(("fmt", "pil_format"), [("jpeg", "JPEG"), ("webp", "WEBP")])
def test_generate_with_format_writes_that_format(run_cli, tmp_path, fmt, pil_format):
    out = tmp_path / "out"

    result = generate(run_cli, out, "--format", fmt, "--seed", "3")

    assert result.rc == 0
    with Image.open(only_image(out)) as im:
        assert im.format == pil_format


def test_generate_with_size_uses_exact_dimensions(run_cli, tmp_path):
    out = tmp_path / "out"

    result = generate(run_cli, out, "--size", "640x320", "--seed", "3")

    assert result.rc == 0
    with Image.open(only_image(out)) as im:
        assert im.size == (640, 320)


def test_generate_with_svg_writes_svg_beside_each_image(run_cli, tmp_path):
    out = tmp_path / "out"

    result = generate(run_cli, out, "--svg", "-n", "2", "--seed", "3")

    assert result.rc == 0
    images = images_in(out)
    svgs = [p.with_suffix(".svg") for p in images]
    assert len(images) == 2
    for svg in svgs:
        text = svg.read_text(encoding="utf-8")
        assert text.startswith("<svg")
        assert "aria-label" in text


def test_generate_transparent_background_writes_alpha(run_cli, tmp_path):
    out = tmp_path / "out"

    result = generate(run_cli, out, "--background", "transparent", "--seed", "3")

    assert result.rc == 0
    with Image.open(only_image(out)) as im:
        assert im.format == "PNG"
        assert im.mode == "RGBA"
        assert im.getchannel("A").getextrema()[0] < 255


# --- determinism ------------------------------------------------------------------------


def test_generate_same_seed_is_the_same_image(run_cli, tmp_path):
    first = generate(run_cli, tmp_path / "a", "--seed", "5")
    second = generate(run_cli, tmp_path / "b", "--seed", "5")

    assert (first.rc, second.rc) == (0, 0)
    assert_same_image_but_watermark(
        only_image(tmp_path / "a").read_bytes(), only_image(tmp_path / "b").read_bytes()
    )


def test_generate_same_seed_is_byte_identical_without_watermark_and_c2pa(
    run_cli, tmp_path, monkeypatch
):
    monkeypatch.setenv("PIXELFORGE_WATERMARK", "false")
    monkeypatch.setenv("PIXELFORGE_PROVENANCE", "false")
    first = generate(run_cli, tmp_path / "a", "--seed", "5")
    second = generate(run_cli, tmp_path / "b", "--seed", "5")

    assert (first.rc, second.rc) == (0, 0)
    assert only_image(tmp_path / "a").read_bytes() == only_image(tmp_path / "b").read_bytes()


def test_generate_different_seed_changes_pixels(run_cli, tmp_path):
    generate(run_cli, tmp_path / "a", "--seed", "5")
    generate(run_cli, tmp_path / "b", "--seed", "6")

    with Image.open(only_image(tmp_path / "a")) as a, Image.open(only_image(tmp_path / "b")) as b:
        assert ImageChops.difference(a.convert("RGB"), b.convert("RGB")).getbbox() is not None


# --- metadata ---------------------------------------------------------------------------


def test_generate_png_parameters_chunk_has_prompt_and_seed(run_cli, tmp_path):
    out = tmp_path / "out"

    generate(run_cli, out, "--seed", "3")

    with Image.open(only_image(out)) as im:
        parameters = im.info["parameters"]
    assert parameters.startswith(POSTER)
    assert "Seed: 3" in parameters


def test_generate_png_pixelforge_chunk_names_model(run_cli, tmp_path):
    out = tmp_path / "out"

    generate(run_cli, out, "--seed", "3")

    with Image.open(only_image(out)) as im:
        meta = json.loads(im.info["pixelforge"])
    assert meta["model"] == "compose"


def test_generate_jpeg_carries_json_in_exif_description(run_cli, tmp_path):
    out = tmp_path / "out"

    generate(run_cli, out, "--format", "jpeg", "--seed", "3")

    with Image.open(only_image(out)) as im:
        meta = json.loads(im.getexif()[EXIF_DESCRIPTION])
    assert meta["model"] == "compose"
    assert meta["seed"] == "3"


@pytest.mark.parametrize("fmt", ["png", "jpeg", "webp"])
def test_generate_outputs_never_contain_api_keys(run_cli, tmp_path, monkeypatch, fmt):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-secret-123")
    monkeypatch.setenv("PIXELFORGE_OPENAI_API_KEY", "sk-test-secret-456")
    out = tmp_path / "out"

    result = generate(run_cli, out, "--format", fmt, "--svg", "--seed", "3")

    assert result.rc == 0
    written = files_in(out)
    assert len(written) == 2
    assert not [p.name for p in written if b"sk-test-secret" in p.read_bytes()]


# --- bad input --------------------------------------------------------------------------


@pytest.fixture
def bad_inputs(tmp_path):
    """Input files for the bad-input table, in the working folder (which is ``tmp_path``)."""
    (tmp_path / "notes.txt").write_text("just some notes\n", encoding="utf-8")
    (tmp_path / "vector.png").write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64">'
        '<rect width="64" height="64" fill="red"/></svg>',
        encoding="utf-8",
    )
    (tmp_path / "broken.json").write_text('{"kind": "poster", ', encoding="utf-8")
    (tmp_path / "banana.json").write_text('{"kind": "banana"}', encoding="utf-8")
    (tmp_path / "red.json").write_text('{"palette": ["red"]}', encoding="utf-8")


#: (extra arguments, texts the one error line must contain)
BAD_INPUT = [
    pytest.param(["--aspect", "7:3"], ["--aspect", "7:3", "16:9"], id="aspect"),
    pytest.param(["--resolution", "8K"], ["--resolution", "8K", "2K"], id="resolution"),
    pytest.param(["--size", "5000x5000"], ["--size", "5000x5000", "4096"], id="size-too-big"),
    pytest.param(["--size", "100x100"], ["--size", "100x100", "16"], id="size-not-step"),
    pytest.param(["--size", "abc"], ["--size", "abc"], id="size-garbage"),
    pytest.param(["-n", "11"], ["-n", "11", "10"], id="n-too-many"),
    pytest.param(["-n", "0"], ["-n", "0", "1 to 10"], id="n-zero"),
    pytest.param(["-n", "abc"], ["-n", "abc"], id="n-not-int"),
    pytest.param(["--format", "gif"], ["--format", "gif", "png"], id="format"),
    pytest.param(["--reframe", "stretch"], ["--reframe", "stretch", "crop, pad"], id="reframe"),
    pytest.param(
        ["--background", "transparent", "--format", "jpeg"],
        ["--background", "transparent", "png"],
        id="transparent-jpeg",
    ),
    pytest.param(["--model", "nope"], ["--model", "nope", "compose"], id="model"),
    pytest.param(["--mode", "edit"], ["--ref", "edit"], id="edit-without-ref"),
    pytest.param(["--ref", "missing.png"], ["--ref", "missing.png"], id="ref-missing"),
    pytest.param(
        ["--ref", "notes.txt"], ["--ref", "notes.txt", "png", "jpeg", "webp"], id="ref-text"
    ),
    pytest.param(["--ref", "vector.png"], ["--ref", "vector.png", "png"], id="ref-svg"),
    pytest.param(["--brief", "broken.json"], ["--brief", "JSON"], id="brief-malformed"),
    pytest.param(["--brief", "banana.json"], ["--brief", "kind", "banana"], id="brief-kind"),
    pytest.param(["--brief", "red.json"], ["--brief", "palette", "red"], id="brief-colour"),
]


@pytest.mark.usefixtures("bad_inputs")
@pytest.mark.parametrize(("args", "needles"), BAD_INPUT)
def test_generate_bad_input_exits_2(run_cli, tmp_path, args, needles):
    result = generate(run_cli, tmp_path / "out", *args)

    assert result.rc == 2


@pytest.mark.usefixtures("bad_inputs")
@pytest.mark.parametrize(("args", "needles"), BAD_INPUT)
def test_generate_bad_input_prints_one_error_line(run_cli, tmp_path, args, needles):
    result = generate(run_cli, tmp_path / "out", *args)

    assert len(result.err_lines) == 1, result.err
    line = result.err_lines[0]
    assert line.startswith("error:")
    assert [n for n in needles if n not in line] == [], line


@pytest.mark.usefixtures("bad_inputs")
@pytest.mark.parametrize(("args", "needles"), BAD_INPUT)
def test_generate_bad_input_writes_no_file(run_cli, tmp_path, args, needles):
    out = tmp_path / "out"

    result = generate(run_cli, out, *args)

    assert result.out == ""
    assert files_in(out) == []


@pytest.mark.usefixtures("bad_inputs")
def test_generate_bad_brief_names_option_once(run_cli, tmp_path):
    result = generate(run_cli, tmp_path / "out", "--brief", "banana.json")

    assert result.err.count("brief:") == 1, result.err


# --- references and briefs --------------------------------------------------------------


def gradient(width: int, height: int) -> Image.Image:
    im = Image.new("RGB", (width, height))
    im.putdata(
        [(x * 255 // width, y * 255 // height, 128) for y in range(height) for x in range(width)]
    )
    return im


def test_generate_with_png_reference_uses_requested_size(run_cli, tmp_path):
    gradient(300, 200).save(tmp_path / "ref.png")
    out = tmp_path / "out"

    result = generate(run_cli, out, "--ref", "ref.png", "--size", "640x320", "--seed", "3")

    assert result.rc == 0, result.err
    with Image.open(only_image(out)) as im:
        assert im.size == (640, 320)


def test_generate_accepts_jpeg_reference_with_exif_orientation(run_cli, tmp_path):
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = 6
    gradient(300, 200).save(tmp_path / "rotated.jpg", "JPEG", exif=exif.tobytes())
    out = tmp_path / "out"

    result = generate(run_cli, out, "--ref", "rotated.jpg", "--seed", "3")

    assert result.rc == 0, result.err
    assert len(images_in(out)) == 1


def test_generate_with_valid_brief_succeeds(run_cli, tmp_path):
    brief = {
        "kind": "infographic",
        "headline": "Q3",
        "chart": {
            "kind": "bar",
            "points": [{"label": "A", "value": 3}, {"label": "B", "value": 5}],
        },
    }
    (tmp_path / "brief.json").write_text(json.dumps(brief), encoding="utf-8")
    out = tmp_path / "out"

    result = generate(run_cli, out, "--brief", "brief.json", "--seed", "3")

    assert result.rc == 0, result.err
    assert len(images_in(out)) == 1
