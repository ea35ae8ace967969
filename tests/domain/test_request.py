"""The request record: frozen, validated on construction, strict enum parsing."""

from __future__ import annotations

import dataclasses
import io
from typing import Any

import pytest
from PIL import Image

from pixelforge.domain.request import (
    MAX_N,
    MAX_PROMPT_CHARS,
    MAX_SEED,
    Background,
    GenerationRequest,
    ImageInput,
    Mode,
    OutputFormat,
    Quality,
    Reference,
    parse_enum,
)
from pixelforge.domain.sizes import Size, Tier
from pixelforge.errors import InvalidRequestError


def _image() -> ImageInput:
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (10, 20, 30)).save(buf, format="PNG")
    return ImageInput(data=buf.getvalue(), width=64, height=64)


IMAGE = _image()
REF = (Reference(IMAGE),)

# Constructor overrides that the record itself forbids, and the param the error must name.
INVALID: list[Any] = [
    pytest.param({"n": 0}, "n", id="n-zero"),
    pytest.param({"n": MAX_N + 1}, "n", id="n-over-max"),
    pytest.param({"n": -1}, "n", id="n-negative"),
    pytest.param({"seed": -1}, "seed", id="seed-negative"),
    pytest.param({"seed": MAX_SEED + 1}, "seed", id="seed-over-max"),
    pytest.param({"output_compression": 101}, "output_compression", id="compression-101"),
    pytest.param({"output_compression": -1}, "output_compression", id="compression-negative"),
    pytest.param(
        {"background": Background.TRANSPARENT, "output_format": OutputFormat.JPEG},
        "background",
        id="transparent-jpeg",
    ),
    pytest.param({"mode": Mode.EDIT}, "image", id="edit-without-image"),
    pytest.param({"mode": Mode.VARIATION}, "image", id="variation-without-image"),
    pytest.param({"mask": IMAGE}, "mask", id="mask-in-generate"),
    pytest.param(
        {"mode": Mode.VARIATION, "references": REF, "mask": IMAGE}, "mask", id="mask-in-variation"
    ),
    pytest.param({"aspect_ratio": "7:3"}, "aspect_ratio", id="aspect-ratio-unknown"),
    pytest.param({"aspect_ratio": ""}, "aspect_ratio", id="aspect-ratio-empty"),
    pytest.param({"size": Size(100, 100)}, "size", id="size-not-step"),
    pytest.param({"size": Size(4112, 4096)}, "size", id="size-too-big"),
    pytest.param({"size": Size(1024, 64)}, "size", id="size-too-elongated"),
    pytest.param({"prompt": "x" * (MAX_PROMPT_CHARS + 1)}, "prompt", id="prompt-too-long"),
]

VALID: list[Any] = [
    pytest.param({"n": 1}, id="n-one"),
    pytest.param({"n": MAX_N}, id="n-max"),
    pytest.param({"seed": 0}, id="seed-zero"),
    pytest.param({"seed": MAX_SEED}, id="seed-max"),
    pytest.param({"output_compression": 0}, id="compression-zero"),
    pytest.param({"output_compression": 100}, id="compression-100"),
    pytest.param(
        {"background": Background.TRANSPARENT, "output_format": OutputFormat.WEBP},
        id="transparent-webp",
    ),
    pytest.param(
        {"background": Background.OPAQUE, "output_format": OutputFormat.JPEG}, id="opaque-jpeg"
    ),
    pytest.param({"mode": Mode.EDIT, "references": REF, "mask": IMAGE}, id="edit-with-mask"),
    pytest.param({"mode": Mode.VARIATION, "references": REF}, id="variation-with-image"),
    pytest.param({"references": REF}, id="generate-with-reference"),
    pytest.param({"prompt": "x" * MAX_PROMPT_CHARS}, id="prompt-at-max"),
    pytest.param({"prompt": ""}, id="prompt-empty"),
    pytest.param({"size": Size(512, 64)}, id="size-8-to-1"),
]


def _request(**overrides: Any) -> GenerationRequest:
    return GenerationRequest(**{"prompt": "a red bicycle", **overrides})


@pytest.mark.parametrize(
    ("field", "value"),
    [("prompt", "other"), ("n", 2), ("seed", 7), ("size", Size(64, 64)), ("model", "x")],
)
def test_assign_raises_frozen_error_when_request_built(field: str, value: object) -> None:
    request = _request()
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(request, field, value)


@pytest.mark.parametrize(("overrides", "param"), INVALID)
def test_construct_raises_with_param_when_invalid(overrides: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequestError) as excinfo:
        _request(**overrides)
    assert excinfo.value.param == param


@pytest.mark.parametrize(("overrides", "param"), INVALID)
def test_construct_names_field_first_in_message_when_invalid(
    overrides: dict[str, Any], param: str
) -> None:
    with pytest.raises(InvalidRequestError) as excinfo:
        _request(**overrides)
    assert excinfo.value.message.startswith(f"{param}:")


@pytest.mark.parametrize(
    ("overrides", "shown"),
    [
        pytest.param({"n": 11}, "11", id="n"),
        pytest.param({"seed": -5}, "-5", id="seed"),
        pytest.param({"output_compression": 101}, "101", id="compression"),
        pytest.param({"aspect_ratio": "7:3"}, "'7:3'", id="aspect-ratio"),
        pytest.param({"size": Size(100, 100)}, "100x100", id="size"),
    ],
)
def test_construct_names_bad_value_in_message_when_invalid(
    overrides: dict[str, Any], shown: str
) -> None:
    with pytest.raises(InvalidRequestError) as excinfo:
        _request(**overrides)
    assert shown in excinfo.value.message


@pytest.mark.parametrize("overrides", VALID)
def test_construct_keeps_values_when_valid(overrides: dict[str, Any]) -> None:
    request = _request(**overrides)
    assert {k: getattr(request, k) for k in overrides} == overrides


def test_output_size_prefers_explicit_size_when_given() -> None:
    request = _request(aspect_ratio="16:9", tier=Tier.T2K, size=Size(640, 480))
    assert request.output_size == Size(640, 480)


def test_output_size_follows_ratio_and_tier_when_no_size() -> None:
    request = _request(aspect_ratio="16:9", tier=Tier.T2K)
    assert request.output_size == Size(2048, 1152)


def test_output_size_is_square_1k_when_defaults_used() -> None:
    assert _request().output_size == Size(1024, 1024)


@pytest.mark.parametrize(
    ("kind", "text", "expected"),
    [
        (Mode, "edit", Mode.EDIT),
        (Quality, "high", Quality.HIGH),
        (OutputFormat, "webp", OutputFormat.WEBP),
        (Background, "transparent", Background.TRANSPARENT),
        (Background, Background.OPAQUE, Background.OPAQUE),
    ],
)
def test_parse_enum_returns_member_when_value_known(
    kind: type[Any], text: str, expected: object
) -> None:
    assert parse_enum(kind, text, "field") is expected


@pytest.mark.parametrize(
    ("kind", "text"),
    [(OutputFormat, "jpg"), (OutputFormat, "PNG"), (Quality, "ultra"), (Mode, ""), (Mode, "Edit")],
)
def test_parse_enum_raises_with_param_when_value_unknown(kind: type[Any], text: str) -> None:
    with pytest.raises(InvalidRequestError) as excinfo:
        parse_enum(kind, text, "some_field")
    assert excinfo.value.param == "some_field"


def test_parse_enum_names_value_and_allowed_in_message_when_value_unknown() -> None:
    with pytest.raises(InvalidRequestError) as excinfo:
        parse_enum(OutputFormat, "jpg", "output_format")
    assert "'jpg'" in excinfo.value.message
    assert excinfo.value.message.endswith("allowed: png, jpeg, webp")


def test_output_format_gives_jpg_extension_when_jpeg() -> None:
    assert OutputFormat.JPEG.extension == "jpg"


@pytest.mark.parametrize("fmt", list(OutputFormat))
def test_output_format_gives_image_mime_type_when_read(fmt: OutputFormat) -> None:
    assert fmt.mime_type == f"image/{fmt.value}"
