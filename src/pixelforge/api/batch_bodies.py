"""A batch line's ``body`` -> a checked request, through the synchronous endpoints' schema.

A ``/v1/images/generations`` body is exactly that endpoint's JSON body. A
``/v1/images/edits`` body has the edit endpoint's form fields as JSON, with the images given
inline (the real endpoint is multipart): ``image`` is one string or a list of up to 16, and
``mask`` one string, each a ``data:image/png;base64,...`` URL, plain base64, or the id of one
of your assets (``img_...``; on the server only). Every error is the one the synchronous
endpoint gives for the same field; the batch adds the line number and ``body.`` to the field.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import ValidationError

from pixelforge.api.schemas import ImageGenerationBody, to_request
from pixelforge.domain import GenerationRequest, ImageInput, Reference
from pixelforge.domain.request import Mode, ReferenceRole
from pixelforge.engines.registry import ModelRegistry
from pixelforge.errors import InvalidRequestError, NotFoundError
from pixelforge.services.batch_lines import LineError, RawLine
from pixelforge.services.batches import BatchLine
from pixelforge.services.images import MAX_BYTES, MAX_PIXELS, load_image, load_mask

#: The bytes of one of the caller's assets by id (``param`` names the field for errors).
AssetLoader = Callable[[str, str], bytes]
MAX_IMAGES = 16


def schema_body(fields: dict[str, Any]) -> ImageGenerationBody:
    """Validate like the JSON endpoint; the error reads as its 400 does."""
    try:
        return ImageGenerationBody.model_validate(fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        param = ".".join(str(p) for p in first["loc"]) or None
        value = first.get("input")
        shown = "" if value is None or isinstance(value, dict) else f" (got {str(value)[:80]!r})"
        code = "missing_required_parameter" if first["type"] == "missing" else "invalid_value"
        raise InvalidRequestError(f"{param or 'request'}: {first['msg']}{shown}", param=param,
                                  code=code) from None  # fmt: skip


def line_request(
    endpoint: str, fields: dict[str, Any], registry: ModelRegistry,
    check: Callable[[GenerationRequest], None], *, load_asset: AssetLoader | None = None,
    max_bytes: int = MAX_BYTES, max_pixels: int = MAX_PIXELS,
) -> tuple[GenerationRequest, str]:  # fmt: skip
    """The request a body asks for and its ``response_format``; raises the endpoint's errors."""
    rest = dict(fields)
    edit = endpoint.endswith("/edits")
    images: list[ImageInput] = []
    mask: ImageInput | None = None
    if edit:
        given = rest.pop("image", None)
        raw_mask = rest.pop("mask", None)
        fidelity = rest.pop("input_fidelity", None)
        if given is None or given == []:
            raise InvalidRequestError("image: at least one image is required", param="image",
                                      code="missing_required_parameter")  # fmt: skip
        if fidelity not in (None, "low", "high"):
            raise InvalidRequestError(f"input_fidelity: {fidelity!r} is not allowed; allowed: "
                                      "low, high", param="input_fidelity")  # fmt: skip
        sources = given if isinstance(given, list) else [given]
        if len(sources) > MAX_IMAGES:
            raise InvalidRequestError(f"image: {len(sources)} images; at most {MAX_IMAGES}",
                                      param="image")  # fmt: skip
        images = [_image(v, f"image[{i}]", load_asset, max_bytes, max_pixels)
                  for i, v in enumerate(sources)]  # fmt: skip
        if raw_mask is not None:
            data = _bytes(raw_mask, "mask", load_asset)
            mask = load_mask(data, images[0], param="mask", max_bytes=max_bytes)
    body = schema_body(rest)
    if body.stream:
        raise InvalidRequestError("stream: a batch does not stream; leave stream out or false",
                                  param="stream")  # fmt: skip
    if edit:
        refs = tuple(Reference(i, ReferenceRole.SUBJECT) for i in images)
        request = to_request(body, registry, Mode.EDIT, refs, mask)
    else:
        request = to_request(body, registry)
    check(request)
    return request, body.response_format


def _bytes(value: Any, param: str, load_asset: AssetLoader | None) -> bytes:
    if not isinstance(value, str) or not value:
        raise InvalidRequestError(f"{param}: give a data URL, base64 or an asset id (img_...); "
                                  f"got {type(value).__name__}", param=param)  # fmt: skip
    if value.startswith(("http://", "https://")):
        raise InvalidRequestError(f"{param}: image URLs are not fetched in a batch; send a "
                                  "data URL (data:image/png;base64,...), base64 or an asset id",
                                  param=param)  # fmt: skip
    if value.startswith("img_"):
        if load_asset is None:
            raise InvalidRequestError(f"{param}: {value!r} is an asset id, which only a server "
                                      "can read; send a data URL or base64", param=param)  # fmt: skip
        return load_asset(value, param)
    text = value
    if value.startswith("data:"):
        header, _, text = value.partition(",")
        if not header.endswith(";base64"):
            raise InvalidRequestError(f"{param}: a data URL must be base64 "
                                      "(data:image/png;base64,...)", param=param)  # fmt: skip
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequestError(f"{param}: not valid base64", param=param) from None


def _image(
    value: Any, param: str, load_asset: AssetLoader | None, max_bytes: int, max_pixels: int
) -> ImageInput:
    data = _bytes(value, param, load_asset)
    return load_image(data, param=param, max_bytes=max_bytes, max_pixels=max_pixels)


def check_lines(
    lines: Sequence[RawLine], convert: Callable[[RawLine], tuple[GenerationRequest, str]]
) -> tuple[list[BatchLine], list[LineError]]:
    """Every line's request, or every line's error (``param`` as ``body.<field>``)."""
    checked: list[BatchLine] = []
    errors: list[LineError] = []
    for raw in lines:
        try:
            request, response_format = convert(raw)
        except (InvalidRequestError, NotFoundError) as exc:
            param = f"body.{exc.param}" if exc.param else "body"
            errors.append(LineError(raw.line, exc.code, exc.message, param))
            continue
        checked.append(BatchLine(raw.line, raw.custom_id, request, response_format))
    return checked, errors
