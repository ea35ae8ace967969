"""Export of an image: parameters checked, colour converted to sRGB from an embedded ICC
profile and tagged sRGB, alpha kept or composited, metadata kept (without prompt text when
prompt metadata is off), and re-signed with the source as the parentOf ingredient."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image, ImageCms

from icc_profiles import swapped_profile
from pixelforge.domain import OutputFormat
from pixelforge.errors import InvalidRequestError
from pixelforge.postprocess import provenance
from pixelforge.postprocess.chain import OutputChain
from pixelforge.postprocess.provenance import ContentCredentials
from pixelforge.services.export import (
    ExportOptions,
    carries_prompt,
    export_bytes,
    export_options,
    parse_time,
)
from pixelforge.services.metadata import inspect

PROMPT = "a periwinkle lighthouse, quokka-7781"
META = {"prompt": PROMPT, "negative prompt": "drizzle-5521", "model": "compose", "seed": "5",
        "size": "64x48", "revised_prompt": "a lighthouse painted periwinkle"}  # fmt: skip
PLAIN = OutputChain(None, watermark=False)


@pytest.fixture(scope="module")
def signing(tmp_path_factory: pytest.TempPathFactory) -> OutputChain:
    identity = provenance.development_identity(tmp_path_factory.mktemp("c2pa"))
    return OutputChain(ContentCredentials(identity), watermark=False)


def png(image: Image.Image, **save: object) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "PNG", **save)
    return buf.getvalue()


def run(source: bytes, chain: OutputChain = PLAIN, meta: dict[str, str] = META, **opts: str
        ) -> tuple[Image.Image, bytes]:  # fmt: skip
    options = export_options(opts.get("format"), opts.get("quality"), opts.get("background"))
    data, _ = export_bytes(source, options, meta, chain, model="compose", title="out.png",
                           source_name="in.png")  # fmt: skip
    image = Image.open(io.BytesIO(data))
    image.load()
    return image, data


def is_srgb(image: Image.Image) -> bool:
    profile = ImageCms.ImageCmsProfile(io.BytesIO(image.info["icc_profile"]))
    return "sRGB" in ImageCms.getProfileDescription(profile)


# -- parameters -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "param", "allowed"),
    [
        (("gif", None, None), "format", "allowed: png, jpeg, webp"),
        ((None, "0", None), "quality", "a whole number from 1 to 100"),
        ((None, "101", None), "quality", "a whole number from 1 to 100"),
        ((None, "high", None), "quality", "a whole number from 1 to 100"),
        ((None, None, "red"), "background", "auto, transparent or a colour as #rrggbb"),
        (("jpeg", None, "transparent"), "background", "allowed with transparent: png, webp"),
    ],
)
def test_bad_parameter_is_refused_naming_it_and_what_is_allowed(
    args: tuple[str | None, str | None, str | None], param: str, allowed: str
) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        export_options(*args)
    assert caught.value.param == param
    assert caught.value.message.startswith(f"{param}: ")
    assert allowed in caught.value.message


def test_good_parameters_are_normalized() -> None:
    assert export_options("JPG", "85", "#FFAA00") == ExportOptions(OutputFormat.JPEG, 85, "#ffaa00")
    assert export_options() == ExportOptions(None, 92, "auto")


@pytest.mark.parametrize(
    ("text", "epoch"),
    [("2025-01-31", 1738281600.0), ("2025-01-31T01:00:00Z", 1738285200.0),
     ("2025-01-31T02:00:00+01:00", 1738285200.0), ("1738281600", 1738281600.0)],
)  # fmt: skip
def test_time_parses_dates_iso_times_and_epoch_seconds(text: str, epoch: float) -> None:
    assert parse_time(text, "since") == epoch


def test_time_that_is_not_one_names_the_field() -> None:
    with pytest.raises(InvalidRequestError) as caught:
        parse_time("last tuesday", "filter.since")
    assert caught.value.param == "filter.since"


# -- colour ---------------------------------------------------------------------------------


def test_embedded_profile_is_converted_to_srgb_and_tagged() -> None:
    source = png(Image.new("RGB", (8, 8), (255, 0, 0)), icc_profile=swapped_profile())

    image, _ = run(source, format="png")

    assert image.getpixel((0, 0)) == (0, 255, 0)
    assert is_srgb(image)


def test_conversion_keeps_alpha() -> None:
    source = png(Image.new("RGBA", (8, 8), (255, 0, 0, 90)), icc_profile=swapped_profile())

    image, _ = run(source, format="png")

    assert image.mode == "RGBA"
    assert image.getpixel((0, 0)) == (0, 255, 0, 90)


def test_untagged_pixels_are_kept_and_tagged_srgb() -> None:
    image, _ = run(png(Image.new("RGB", (8, 8), (12, 34, 56))), format="png")

    assert image.getpixel((3, 3)) == (12, 34, 56)
    assert is_srgb(image)


def test_unreadable_profile_is_ignored() -> None:
    source = png(Image.new("RGB", (8, 8), (12, 34, 56)), icc_profile=b"not a profile at all")

    image, _ = run(source, format="webp", quality="100")

    assert is_srgb(image)


# -- alpha and background -------------------------------------------------------------------

HALF = Image.new("RGBA", (8, 8), (0, 0, 0, 0))
HALF.paste((200, 10, 10, 255), (0, 0, 4, 8))


@pytest.mark.parametrize(("fmt", "background"), [("png", "auto"), ("png", "transparent"),
                                                 ("webp", "auto"), ("webp", "transparent")])  # fmt: skip
def test_alpha_is_kept_for_png_and_webp(fmt: str, background: str) -> None:
    image, _ = run(png(HALF), format=fmt, background=background, quality="100")

    assert image.mode == "RGBA"
    assert image.getpixel((6, 4))[3] == 0


def test_jpeg_is_composited_on_white_for_auto() -> None:
    image, _ = run(png(HALF), format="jpeg", quality="100")

    assert image.mode == "RGB"
    assert all(c >= 250 for c in image.getpixel((6, 4)))  # the transparent half: white


def test_background_colour_fills_the_transparent_area() -> None:
    image, _ = run(png(HALF), format="png", background="#00ff00")

    assert image.mode == "RGB"
    assert image.getpixel((6, 4)) == (0, 255, 0)
    assert image.getpixel((1, 4)) == (200, 10, 10)


def test_opaque_source_stays_opaque_when_transparent_is_asked() -> None:
    image, _ = run(png(Image.new("RGB", (8, 8), (1, 2, 3))), format="png", background="transparent")

    assert image.mode == "RGB"


# -- metadata and provenance ----------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["png", "jpeg", "webp"])
def test_metadata_is_kept_in_the_export(fmt: str) -> None:
    _, data = run(png(Image.new("RGB", (64, 48))), format=fmt)

    found = inspect(data)
    assert (found.source, found.prompt, found.seed, found.model) == ("pixelforge", PROMPT, 5,
                                                                     "compose")  # fmt: skip


@pytest.mark.parametrize("fmt", ["png", "jpeg", "webp"])
def test_no_prompt_text_in_the_export_when_prompt_metadata_is_off(
    signing: OutputChain, fmt: str
) -> None:
    private = OutputChain(signing.credentials, watermark=False, prompt_metadata=False)
    _, data = run(png(Image.new("RGB", (64, 48))), private, format=fmt)

    for text in (PROMPT, "periwinkle", "drizzle-5521"):
        for needle in (text.encode(), text.encode("utf-16-be")):
            assert needle not in data
    assert inspect(data).seed == 5  # the rest of the metadata is still there
    assert not carries_prompt(data, PROMPT)


def test_export_is_resigned_with_the_source_as_parent_ingredient(signing: OutputChain) -> None:
    stored = signing.finish(Image.new("RGB", (64, 48), (9, 9, 9)), OutputFormat.PNG, META,
                            model="compose", title="stored.png").data  # fmt: skip

    _, data = run(stored, signing, format="jpeg")

    report = provenance.read(data)
    assert report.valid
    assert report.model == "compose"
    assert report.ingredients == (
        {"title": "in.png", "relationship": "parentOf", "has_manifest": True},
    )


def test_export_without_credentials_carries_no_manifest() -> None:
    _, data = run(png(Image.new("RGB", (8, 8))), format="png")

    assert not provenance.read(data).present


def test_carries_prompt_sees_prompt_metadata_of_a_stored_file(tmp_path: Path) -> None:
    _, with_prompt = run(png(Image.new("RGB", (8, 8))), format="jpeg")

    assert carries_prompt(with_prompt, PROMPT)
    assert not carries_prompt(png(Image.new("RGB", (8, 8))), PROMPT)
