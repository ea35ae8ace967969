"""`pixelforge text` (exact text on a file) and `generate --overlay`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from pixelforge.postprocess import provenance


def embedded(path: Path) -> dict[str, str]:
    with Image.open(path) as im:
        text = im.info.get("pixelforge") or im.getexif().get(0x010E)
    meta: dict[str, str] = json.loads(text)
    return meta


def photo(folder: Path, size: tuple[int, int] = (500, 375), fmt: str = "JPEG") -> Path:
    path = folder / f"photo.{fmt.lower()}"
    Image.new("RGB", size, (30, 80, 120)).save(path, fmt)
    return path


def test_text_writes_a_new_file_with_the_text_same_size_and_format(run_cli, tmp_path):
    source = photo(tmp_path)

    result = run_cli("text", str(source), "--headline", "Ola, 50% OFF", "--subtitle", "Hoje",
                     "--cta", "Comprar", "--label", "$9.99", "--label", "Novo", "--position",
                     "left", "--font", "headline=serif", "-o", str(tmp_path / "out"))  # fmt: skip

    assert result.rc == 0, result.err
    (line,) = result.out_lines
    made = Path(line)
    assert (made.parent, made.suffix) == (tmp_path / "out", ".jpg")
    with Image.open(made) as im, Image.open(source) as before:
        assert im.size == (500, 375)
        assert max(abs(a - b) for a, b in zip(im.getextrema()[0], before.getextrema()[0],
                                                 strict=True)) > 50  # fmt: skip
    meta = embedded(made)
    overlay = json.loads(meta["text_overlay"])
    assert (overlay["headline"], overlay["labels"], overlay["placed"], overlay["fonts"]) == (
        "Ola, 50% OFF", ["$9.99", "Novo"], "left", {"headline": "serif"},
    )  # fmt: skip
    assert meta["model"] == "text-overlay"
    (parent,) = provenance.read(made.read_bytes()).ingredients
    assert (parent["relationship"], parent["title"]) == ("parentOf", "photo.jpeg")


@pytest.mark.parametrize(
    ("args", "says"),
    [
        ([], ["--headline", "nothing to draw"]),
        (["--headline", "  "], ["--headline", "blank"]),
        (["--cta", "x" * 61], ["--cta", "at most 60"]),
        (["--headline", "a", "--position", "middle"], ["--position", "'middle'", "left"]),
        (["--headline", "a", "--scrim", "maybe"], ["--scrim", "auto, on, off"]),
        (["--headline", "a", "--color", "red"], ["--color", "'red'", "#rrggbb"]),
        (["--headline", "a", "--font", "serif"], ["--font", "ROLE=FAMILY"]),
        (["--headline", "a", "--font", "title=serif"], ["--font", "fonts.title", "cta"]),
        (["--headline", "a", "--font", "cta=comic"], ["--font", "fonts.cta", "mono"]),
        (["--label", "a", "--label", " "], ["--label", "labels[1]", "blank"]),
    ],
)
def test_text_rejects_bad_input_naming_the_option(run_cli, tmp_path, args, says):
    result = run_cli("text", str(photo(tmp_path)), *args, "-o", str(tmp_path / "out"))

    assert result.rc == 2
    (line,) = result.err_lines
    assert line.startswith(f"error: {says[0]}: ")
    for word in says[1:]:
        assert word in line
    assert not (tmp_path / "out").exists()


def test_text_rejects_a_file_that_is_not_an_image(run_cli, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    result = run_cli("text", str(notes), "--headline", "x")
    assert result.rc == 2
    assert result.err_lines[0].startswith("error: IMAGE: ")


def test_generate_overlay_draws_on_every_image(run_cli, tmp_path):
    overlay = json.dumps({"headline": "진짜 맛있는 라면", "cta": "지금 주문", "scrim": "on"})
    result = run_cli("generate", "Poster", "-r", "512", "-n", "2", "--overlay", overlay,
                     "-o", str(tmp_path))  # fmt: skip

    assert result.rc == 0, result.err
    assert len(result.out_lines) == 2
    for line in result.out_lines:
        recorded = json.loads(embedded(Path(line))["text_overlay"])
        assert (recorded["headline"], recorded["scrim_drawn"]) == ("진짜 맛있는 라면", True)


def test_generate_overlay_reads_a_json_file(run_cli, tmp_path):
    spec = tmp_path / "overlay.json"
    spec.write_text(json.dumps({"labels": ["$19.99"]}), encoding="utf-8")
    result = run_cli("generate", "Poster", "-r", "512", "--overlay", str(spec), "-o",
                     str(tmp_path / "out"))  # fmt: skip
    assert result.rc == 0, result.err
    assert json.loads(embedded(Path(result.out_lines[0]))["text_overlay"])["labels"] == ["$19.99"]


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("{nope", "not valid JSON"),
        ("missing.json", "neither a JSON object nor a readable JSON file"),
        ('{"headline": ""}', "headline: '' is blank"),
        ('{"headline": "a", "position": "up"}', "position: 'up' is not allowed"),
        ('["a"]', "text overlay: ['a'] is not an object"),
    ],
)
def test_generate_overlay_rejects_bad_input_naming_the_field(run_cli, tmp_path, value, says):
    result = run_cli("generate", "Poster", "--overlay", value, "-o", str(tmp_path / "out"))
    assert result.rc == 2
    (line,) = result.err_lines
    assert line.startswith("error: --overlay: ")
    assert says in line


def test_text_applies_a_brand_kit_by_name(run_cli, tmp_path):
    created = run_cli("refs", "create", "Acme", "--kind", "brand_kit", "--palette", "#0B5394",
                      "--font", "headline=serif")  # fmt: skip
    assert created.rc == 0, created.err
    white = photo(tmp_path, fmt="PNG")
    Image.new("RGB", (500, 375), (255, 255, 255)).save(white)

    result = run_cli("text", str(white), "--headline", "Branded", "--brand", "Acme", "-o",
                     str(tmp_path / "out"))  # fmt: skip

    assert result.rc == 0, result.err
    overlay = json.loads(embedded(Path(result.out_lines[0]))["text_overlay"])
    assert overlay["text_color"] == "#0b5394"


def test_text_refuses_an_unknown_brand_kit(run_cli, tmp_path):
    result = run_cli("text", str(photo(tmp_path)), "--headline", "x", "--brand", "Nope")
    assert result.rc == 2
    assert result.err_lines[0].startswith("error: --brand: no reference set 'Nope'")
