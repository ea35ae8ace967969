"""The AUTOMATIC1111 ``parameters`` infotext Pixelforge writes: its exact layout, A1111's
quoting, where it goes in each format (PNG text chunk, EXIF UserComment as piexif writes it,
XMP), and that A1111's own reading rules get every value back."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from pixelforge import __version__
from pixelforge.domain import OutputFormat
from pixelforge.postprocess.encode import encode, parameters_line
from pixelforge.services.metadata_tools import parse_a1111

META = {
    "prompt": "a lighthouse, at dusk: wide shot", "negative prompt": "fog, rain",
    "model": "sd_xl_base_1.0", "seed": "1234", "size": "1024x768", "steps": "30",
    "guidance": "6.5", "scheduler": "dpmpp_2m_karras", "mode": "generate", "quality": "auto",
}  # fmt: skip


def test_parameters_line_has_prompt_negative_then_one_line_of_pairs() -> None:
    assert parameters_line(META) == (
        "a lighthouse, at dusk: wide shot\n"
        "Negative prompt: fog, rain\n"
        "Steps: 30, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 6.5, Seed: 1234, "
        f"Size: 1024x768, Model: sd_xl_base_1.0, Version: Pixelforge {__version__}"
    )


def test_values_with_commas_or_colons_are_json_quoted_like_a1111() -> None:
    line = parameters_line({"seed": "1", "size": "64x64", "model": "org/m:v2",
                            "style": "bold, modern"})  # fmt: skip

    assert 'Model: "org/m:v2"' in line
    assert 'Style: "bold, modern"' in line


def test_parameters_line_without_prompt_is_only_the_pairs() -> None:
    meta = {k: v for k, v in META.items() if k not in ("prompt", "negative prompt")}

    line = parameters_line(meta)

    assert line.startswith("Steps: 30, Sampler: DPM++ 2M")
    assert "\n" not in line


def test_parameters_line_reads_back_with_a1111_rules() -> None:
    found = parse_a1111(parameters_line({**META, "style": "bold, modern"}))

    assert (found.prompt, found.negative_prompt) == (META["prompt"], META["negative prompt"])
    assert (found.steps, found.guidance, found.seed) == (30, 6.5, 1234)
    assert (found.sampler, found.scheduler) == ("DPM++ 2M", "Karras")
    assert (found.size, found.model) == ("1024x768", "sd_xl_base_1.0")
    assert found.extra["Style"] == "bold, modern"


def test_png_carries_parameters_and_pixelforge_chunks() -> None:
    data = encode(Image.new("RGB", (16, 16)), OutputFormat.PNG, META)

    with Image.open(io.BytesIO(data)) as im:
        assert im.info["parameters"] == parameters_line(META)
        assert '"seed": "1234"' in im.info["pixelforge"]


@pytest.mark.parametrize("fmt", [OutputFormat.JPEG, OutputFormat.WEBP])
def test_jpeg_and_webp_carry_parameters_in_exif_user_comment_as_a1111_does(
    fmt: OutputFormat,
) -> None:
    data = encode(Image.new("RGB", (16, 16)), fmt, META)

    with Image.open(io.BytesIO(data)) as im:
        comment = im.getexif().get_ifd(0x8769)[0x9286]
        xmp = im.info["xmp"]
    assert comment == b"UNICODE\x00" + parameters_line(META).encode("utf-16-be")
    assert b"pixelforge:parameters>a lighthouse, at dusk: wide shot" in xmp


def test_icc_profile_is_embedded_when_given() -> None:
    profile = b"\x00\x00\x02\x0cfake profile bytes"

    data = encode(Image.new("RGB", (8, 8)), OutputFormat.PNG, META, icc_profile=profile)

    with Image.open(io.BytesIO(data)) as im:
        assert im.info["icc_profile"] == profile
