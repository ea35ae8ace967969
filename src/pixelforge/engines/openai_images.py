"""The ``openai`` engine: OpenAI Images API (``/v1/images/generations`` and ``/v1/images/edits``).

Model names come from configuration; any name works. Capabilities follow the model's family:

* **gpt-image-2 family** (names starting ``gpt-image-2``, e.g. ``gpt-image-2-2026-04-21``,
  ``gpt-image-2.5-flare``): any ``WxH`` with both sides multiples of 16, ratio 1:3..3:1, long
  edge <= 3840 and at most 3840x2160 pixels. The requested size is sent as is when it meets
  those rules; otherwise (ratio beyond 3:1) the nearest conforming size is asked for and the
  result is cover-cropped.
* **every other name** (gpt-image-1, gpt-image-1-mini, gpt-image-1.5, new names): the three
  native sizes only. Requests are mapped onto the native size nearest in aspect ratio, then the
  returned image is resized and centre-cropped (cover) to exactly ``request.output_size``:

  =====================  ====================================  ===========
  requested ratio w/h    named ratios that land there          native size
  =====================  ====================================  ===========
  >= 1.225 (sqrt 1.5)    5:4, 4:3, 3:2, 16:9, 21:9, 4:1        1536x1024
  0.816 .. 1.225         1:1 (and near-square explicit sizes)  1024x1024
  <= 0.816               4:5, 3:4, 2:3, 9:16, 1:4              1024x1536
  =====================  ====================================  ===========

  Declared aspect ratios: 1:1, 3:2, 2:3 (tiers 512 and 1K); explicit sizes up to 1536 px a
  side and 1536x1024 pixels, so nothing is ever upscaled much past what the model produced.

Input images: every mode that sends any (an edit's or a variation's image, reference images
of a generation, a brand kit's logo) calls ``/v1/images/edits``, the endpoint that takes them;
a generation without images calls ``/v1/images/generations``. A brand kit (``request.brand``)
is phrased into the prompt and its logo sent as the last image when the model has room for
one more (``engines.base.brand_prompt`` / ``brand_references``).

Retries are ours (the SDK client has ``max_retries=0``): 429, 408, 409, 5xx and connection
errors are retried up to ``max_retries`` times with exponential backoff and jitter, honouring
``retry-after-ms`` / ``Retry-After`` (up to 60 s) and ``x-should-retry``. A *timeout* is never
retried: the provider may have finished (and billed) the work, so we answer 504
``provider_timeout`` instead of paying twice. A ``moderation_blocked`` 400 is the caller's
prompt being refused: :class:`SafetyBlockedError`, never retried.

Streaming (the default, ``OpenAIOptions.stream``): each image is one ``stream=true`` call with
``n=1`` and ``partial_images`` (0-3, default 2), because the stream's events carry no image
index. Every ``*.partial_image`` event becomes a :class:`ProgressEvent` whose ``preview`` is the
decoded partial; the ``*.completed`` event carries the final image and its usage. Partials
that arrive after the final image are ignored. Errors before the stream starts (an HTTP
status) follow the rules above; an error once it has started (an ``error`` event, a broken
connection) is never retried, as the provider may have done the work: ``moderation_blocked``
is a :class:`SafetyBlockedError`, anything else an :class:`UpstreamError`.

Usage: every image's ``info`` carries the call's token usage (``usage_*``, see
:func:`~pixelforge.engines.base.usage_info`), which the worker turns into the charge.
"""

from __future__ import annotations

import base64
import email.utils
import io
import math
import random
import re
import time
from collections.abc import Callable, Sequence
from typing import Any, Literal, TypeVar

import httpx2
import openai
from openai.types import ImagesResponse
from PIL import Image, ImageOps
from pydantic import Field

from pixelforge.domain import GenerationRequest, Mode, OutputFormat, Tier
from pixelforge.domain.request import EngineOptions, ImageInput
from pixelforge.domain.sizes import ASPECT_RATIOS, SIDE_STEP, Size, aspect_ratio_value
from pixelforge.engines.base import (
    CancelToken,
    Capabilities,
    Engine,
    GeneratedImage,
    GenerationResult,
    ModelInfo,
    ProgressEvent,
    ProgressSink,
    brand_prompt,
    brand_references,
    seeds_for,
    usage_info,
)
from pixelforge.errors import (
    PixelforgeError,
    ProviderRejectedError,
    SafetyBlockedError,
    UpstreamError,
    UpstreamTimeoutError,
)


class OpenAIOptions(EngineOptions):
    """Options of the openai engine."""

    input_fidelity: Literal["low", "high"] | None = None
    """Edits only: ``high`` preserves faces and logos (not gpt-image-1-mini)."""
    moderation: Literal["auto", "low"] = "auto"
    stream: bool = True
    """Stream each image (one call per image) and report its partial images as previews."""
    partial_images: int = Field(default=2, ge=0, le=3)
    """Partial images asked for per streamed image; the final one may come before all of them."""


T = TypeVar("T")
DEFAULT_MODELS = ("gpt-image-1", "gpt-image-1-mini", "gpt-image-1.5", "gpt-image-2")
FLEXIBLE_SIZE_PREFIXES = ("gpt-image-2",)
NATIVE_SIZES = (Size(1536, 1024), Size(1024, 1024), Size(1024, 1536))
FLEX_MAX_EDGE = 3840
FLEX_MAX_PIXELS = 3840 * 2160
FLEX_MAX_RATIO = 3.0
RETRYABLE_STATUS = frozenset({408, 409, 429})
MAX_HONOURED_WAIT = 60.0
MAX_BACKOFF = 8.0
VARIATION_PROMPT = "Create a close variation of this image, keeping its subject and style."


def is_flexible(model: str) -> bool:
    return model.startswith(FLEXIBLE_SIZE_PREFIXES)


def within_ratio(name: str) -> bool:
    w, h = aspect_ratio_value(name)
    return max(w / h, h / w) <= FLEX_MAX_RATIO


def capabilities_for(model: str) -> Capabilities:
    flexible = is_flexible(model)
    common: dict[str, Any] = {
        "modes": frozenset(Mode),
        "max_references": 16,
        "mask": True,
        "explicit_sizes": True,
        "n_max": 10,
        "deterministic_seed": False,
        "negative_prompt": False,
        "transparent_background": True,
        "formats": frozenset(OutputFormat),
        "speed_class": "standard",
        "options_type": OpenAIOptions,
    }
    if flexible:
        return Capabilities(
            aspect_ratios=frozenset(r for r in ASPECT_RATIOS if within_ratio(r)),
            tiers=frozenset({Tier.T512, Tier.T1K, Tier.T2K}),
            max_pixels=FLEX_MAX_PIXELS,
            max_edge=FLEX_MAX_EDGE,
            **common,
        )
    return Capabilities(
        aspect_ratios=frozenset({"1:1", "3:2", "2:3"}),
        tiers=frozenset({Tier.T512, Tier.T1K}),
        max_pixels=1536 * 1024,
        max_edge=1536,
        **common,
    )


def native_size(model: str, target: Size) -> Size:
    """The size to ask the provider for, given the exact size the caller wants."""
    ratio = target.ratio
    if not is_flexible(model):
        return min(NATIVE_SIZES, key=lambda s: abs(math.log(s.ratio / ratio)))
    if 1 / FLEX_MAX_RATIO <= ratio <= FLEX_MAX_RATIO:
        return target  # already multiples of 16 and within the edge/pixel limits (checked)
    # Too elongated: ask for the 3:1 (or 1:3) size whose long edge matches, then crop.
    long_edge = min(target.long_edge, FLEX_MAX_EDGE)
    short = max(SIDE_STEP, math.ceil(long_edge / FLEX_MAX_RATIO / SIDE_STEP) * SIDE_STEP)
    return Size(long_edge, short) if ratio > 1 else Size(short, long_edge)


def fit_exact(image: Image.Image, size: Size) -> Image.Image:
    """Resize and centre-crop (cover) ``image`` to exactly ``size``."""
    keep_alpha = "A" in image.getbands() or "transparency" in image.info
    image = image.convert("RGBA" if keep_alpha else "RGB")
    if image.size == (size.width, size.height):
        return image
    return ImageOps.fit(image, (size.width, size.height), method=Image.Resampling.LANCZOS)


def as_png(image: ImageInput, resize_to: tuple[int, int] | None = None) -> bytes:
    if image.format == "png" and resize_to in (None, (image.width, image.height)):
        return image.data
    with Image.open(io.BytesIO(image.data)) as im:
        out = im.convert("RGBA")
        if resize_to is not None and out.size != resize_to:
            out = out.resize(resize_to, Image.Resampling.LANCZOS)
        buf = io.BytesIO()
        out.save(buf, format="PNG")
        return buf.getvalue()


def retry_after(headers: httpx2.Headers | None) -> float | None:
    """Seconds the provider asked us to wait, from ``retry-after-ms`` or ``Retry-After``."""
    if headers is None:
        return None
    try:
        if (ms := headers.get("retry-after-ms")) is not None:
            return float(ms) / 1000
        value = headers.get("retry-after")
        if value is None:
            return None
        if re.fullmatch(r"\s*\d+(\.\d+)?\s*", value):
            return float(value)
        when = email.utils.parsedate_to_datetime(value)
        return when.timestamp() - time.time()
    except (TypeError, ValueError):
        return None


class OpenAIImagesEngine(Engine):
    name = "openai"

    def __init__(
        self,
        api_key: str,
        base_url: str | None = None,
        models: Sequence[str] = DEFAULT_MODELS,
        timeout: float = 120.0,
        max_retries: int = 2,
        http_client: httpx2.Client | None = None,
        *,
        backoff_base: float = 0.5,
    ) -> None:
        if not api_key:
            raise ValueError("the openai engine needs an API key")
        self._api_key = api_key
        self.max_retries = max(0, max_retries)
        self.backoff_base = backoff_base
        self._models = [
            ModelInfo(
                id=m,
                engine=self.name,
                description=f"OpenAI Images API model {m}.",
                capabilities=capabilities_for(m),
            )
            for m in dict.fromkeys(models)
        ]
        self.client = openai.OpenAI(
            api_key=api_key,
            base_url=base_url,
            timeout=timeout,
            max_retries=0,  # ours, below: a timeout must never be silently retried
            http_client=http_client,
        )

    def models(self) -> Sequence[ModelInfo]:
        return self._models

    # --- the call ------------------------------------------------------------------------

    @staticmethod
    def _options(request: GenerationRequest) -> OpenAIOptions:
        options = request.options
        return options if isinstance(options, OpenAIOptions) else OpenAIOptions()

    def _params(self, request: GenerationRequest, size: Size) -> dict[str, Any]:
        """The call's parameters. Generation with reference images (or a brand logo) goes
        to the edits endpoint too, which is where the API takes input images."""
        options = self._options(request)
        refs = brand_references(request, self.model(request.model).capabilities.max_references)
        logo_sent = len(refs) > len(request.references)
        prompt = brand_prompt(request, request.prompt or VARIATION_PROMPT, logo_sent=logo_sent)
        params: dict[str, Any] = {
            "model": request.model,
            "prompt": prompt,
            "n": request.n,
            "size": str(size),
            "quality": request.quality.value,
            "background": request.background.value,
            "output_format": request.output_format.value,
            "moderation": options.moderation,
        }
        if request.output_compression is not None and request.output_format is not OutputFormat.PNG:
            params["output_compression"] = request.output_compression
        if request.mode is Mode.GENERATE and not refs:
            return params
        del params["moderation"]  # not a parameter of the edits endpoint
        params["image"] = [
            (f"{'logo' if logo_sent and i == len(refs) - 1 else 'ref'}{i}.png",
             as_png(ref.image), "image/png")
            for i, ref in enumerate(refs)
        ]  # fmt: skip
        if request.mask is not None:
            first = request.references[0].image
            params["mask"] = ("mask.png", as_png(request.mask, (first.width, first.height)),
                              "image/png")  # fmt: skip
        if options.input_fidelity is not None:
            params["input_fidelity"] = options.input_fidelity
        return params

    def close(self) -> None:
        self.client.close()

    def _call(self, request: GenerationRequest, params: dict[str, Any]) -> ImagesResponse:
        images = self.client.images
        call = images.edit if "image" in params else images.generate
        response: ImagesResponse = call(**params)
        return response

    def _open_stream(self, request: GenerationRequest, params: dict[str, Any]) -> Any:
        """Start a streamed call; returns the SDK's ``Stream`` once the response has begun."""
        images = self.client.images
        call: Callable[..., Any] = images.edit if "image" in params else images.generate
        return call(**params, stream=True)

    def _scrub(self, text: str) -> str:
        return text.replace(self._api_key, "***")

    def _backoff(self, attempt: int, headers: httpx2.Headers | None) -> float:
        asked = retry_after(headers)
        if asked is not None and 0 < asked <= MAX_HONOURED_WAIT:
            return asked
        return min(self.backoff_base * 2.0**attempt, MAX_BACKOFF) * random.uniform(0.75, 1.0)

    def _wait(self, seconds: float, cancel: CancelToken) -> None:
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            cancel.raise_if_cancelled()
            time.sleep(min(left, 0.05))
        cancel.raise_if_cancelled()

    def _classify(self, exc: openai.APIStatusError) -> PixelforgeError | None:
        """Map a final (non-retryable) status error, or None when it may be retried."""
        body = exc.body if isinstance(exc.body, dict) else {}
        code = exc.code or body.get("code")
        message = self._scrub(str(body.get("message") or exc.message))
        status = exc.status_code
        if status == 400 and code == "moderation_blocked":
            return SafetyBlockedError(f"prompt: refused by the provider's safety system: "
                                      f"{message}", param="prompt")  # fmt: skip
        flag = exc.response.headers.get("x-should-retry")  # the provider's word wins
        retryable = status in RETRYABLE_STATUS or status >= 500
        if (flag == "true") if flag in ("true", "false") else retryable:
            return None
        if status in (401, 403):
            return UpstreamError(f"the provider refused this server's credentials "
                                 f"({status}): {message}")  # fmt: skip
        if 400 <= status < 500:
            param = exc.param if isinstance(exc.param, str) and exc.param else None
            return ProviderRejectedError(f"{param or 'request'}: rejected by the provider: "
                                         f"{message}", param=param)  # fmt: skip
        return UpstreamError(f"the provider failed ({status}): {message}")

    def _request(self, request: GenerationRequest, call: Callable[[], T], cancel: CancelToken) -> T:
        """``call()`` with our retry rules (see the module docstring)."""
        for attempt in range(self.max_retries + 1):
            cancel.raise_if_cancelled()
            last = attempt == self.max_retries
            try:
                return call()
            except openai.APITimeoutError:
                raise UpstreamTimeoutError(
                    f"the provider did not answer {request.model!r} in time; not retried, as "
                    "it may have done the work"
                ) from None
            except openai.APIStatusError as exc:
                final = self._classify(exc)
                if final is not None:
                    raise final from None
                if last:
                    raise UpstreamError(
                        f"the provider kept failing ({exc.status_code}) after "
                        f"{attempt + 1} attempt(s): {self._scrub(exc.message)}"
                    ) from None
                self._wait(self._backoff(attempt, exc.response.headers), cancel)
            except openai.APIConnectionError as exc:
                if last:
                    raise UpstreamError(
                        f"could not reach the provider after {attempt + 1} attempt(s): "
                        f"{self._scrub(exc.message)}"
                    ) from None
                self._wait(self._backoff(attempt, None), cancel)
        raise AssertionError("unreachable")  # pragma: no cover

    # --- streaming -----------------------------------------------------------------------

    def _stream_error(self, exc: openai.APIError) -> PixelforgeError:
        """Map an error that arrived once the stream had started (never retried)."""
        body = exc.body if isinstance(exc.body, dict) else {}
        code = exc.code or body.get("code")
        message = self._scrub(str(body.get("message") or exc.message))
        if code == "moderation_blocked":
            return SafetyBlockedError(f"prompt: refused by the provider's safety system: "
                                      f"{message}", param="prompt")  # fmt: skip
        return UpstreamError(f"the provider failed while streaming ({code or 'error'}): "
                             f"{message}; not retried, as it may have done the work")  # fmt: skip

    @staticmethod
    def _preview(event: Any) -> Image.Image | None:
        """A partial image, decoded; None when it cannot be (a preview is never fatal)."""
        try:
            with Image.open(io.BytesIO(base64.b64decode(str(event.b64_json)))) as raw:
                raw.load()
                return raw.copy()
        except (AttributeError, OSError, ValueError, Image.DecompressionBombError):
            return None

    def _stream_one(
        self, request: GenerationRequest, params: dict[str, Any], index: int,
        progress: ProgressSink, cancel: CancelToken,
    ) -> tuple[str, dict[str, str]]:  # fmt: skip
        """Stream image ``index``: partials go to ``progress``; returns (final b64, usage)."""
        partials = self._options(request).partial_images
        sent = {**params, "n": 1, "partial_images": partials}
        stream = self._request(request, lambda: self._open_stream(request, sent), cancel)
        n, done, final = request.n, index / request.n, None
        try:
            with stream:
                for event in stream:
                    cancel.raise_if_cancelled()
                    kind = str(getattr(event, "type", ""))
                    if kind.endswith(".completed"):
                        final = event
                        break  # partials the provider still sends after the final are moot
                    if kind.endswith(".partial_image"):
                        j = int(getattr(event, "partial_image_index", 0))
                        done = max(done, (index + min(j + 1, partials) / (partials + 1)) / n)
                        progress(ProgressEvent(
                            "partial", done, f"image {index + 1} of {n}: partial {j + 1}",
                            index=index, preview=self._preview(event),
                        ))  # fmt: skip
        except openai.APITimeoutError:
            raise UpstreamTimeoutError(
                f"the provider's stream for {request.model!r} went silent; not retried, as it "
                "may have done the work"
            ) from None
        except openai.APIConnectionError as exc:
            raise UpstreamError(f"the provider's stream broke off: {self._scrub(exc.message)};"
                                " not retried, as it may have done the work") from None  # fmt: skip
        except openai.APIError as exc:
            raise self._stream_error(exc) from None
        b64 = getattr(final, "b64_json", None)
        if not b64:
            raise UpstreamError("the provider's stream ended without the final image")
        return str(b64), self._usage(getattr(final, "usage", None), images=1)

    # --- results -------------------------------------------------------------------------

    @staticmethod
    def _usage(usage: Any, images: int) -> dict[str, str]:
        """The provider's usage as info keys: its own totals plus the billing classes."""
        if usage is None:
            return {}
        totals = {k: getattr(usage, f"{k}_tokens", None) for k in ("input", "output", "total")}
        info = {f"usage_{k}_tokens": str(v) for k, v in totals.items() if v is not None}
        details_in = getattr(usage, "input_tokens_details", None)
        details_out = getattr(usage, "output_tokens_details", None)
        text_in = getattr(details_in, "text_tokens", None)
        image_in = getattr(details_in, "image_tokens", None)
        if text_in is None and image_in is None:
            text_in = totals["input"]
        text_out = getattr(details_out, "text_tokens", None)
        image_out = getattr(details_out, "image_tokens", None)
        if text_out is None and image_out is None:
            image_out = totals["output"]  # documented: the image tokens of the output image
        return info | usage_info(images, text_input=text_in, image_input=image_in,
                                 text_output=text_out, image_output=image_out)  # fmt: skip

    @staticmethod
    def _image(b64: str, target: Size) -> tuple[Image.Image, bytes]:
        """The image fitted to ``target``, and the provider's file as it arrived."""
        try:
            data = base64.b64decode(b64)
            with Image.open(io.BytesIO(data)) as raw:
                raw.load()
                return fit_exact(raw, target), data
        except (OSError, ValueError, Image.DecompressionBombError) as exc:
            raise UpstreamError(f"the provider returned an undecodable image: {exc}") from None

    def _batched(
        self, request: GenerationRequest, params: dict[str, Any], cancel: CancelToken
    ) -> list[tuple[str, dict[str, str]]]:
        """One unstreamed call for all ``n`` images; each carries the call's usage."""
        response = self._request(request, lambda: self._call(request, params), cancel)
        data = response.data or []
        if len(data) < request.n:
            raise UpstreamError(f"the provider returned {len(data)} image(s) for n={request.n}")
        usage = self._usage(response.usage, images=request.n)
        out = []
        for item in data[: request.n]:
            if not item.b64_json:
                raise UpstreamError("the provider returned an image without b64_json data")
            extra = {"revised_prompt": item.revised_prompt} if item.revised_prompt else {}
            out.append((item.b64_json, usage | extra))
        return out

    def run(
        self, request: GenerationRequest, progress: ProgressSink, cancel: CancelToken
    ) -> GenerationResult:
        target = request.output_size
        native = native_size(request.model, target)
        params = self._params(request, native)
        streamed = self._options(request).stream
        n = request.n
        cancel.raise_if_cancelled()
        progress(ProgressEvent("request", 0.0, f"asking {request.model} for {n} image(s)"))
        cancel.raise_if_cancelled()
        batch = None if streamed else self._batched(request, params, cancel)
        info = {"provider_model": request.model, "native_size": str(native)}
        images: list[GeneratedImage] = []
        for i, seed in enumerate(seeds_for(request)):
            if batch is None:
                b64, extra = self._stream_one(request, params, i, progress, cancel)
            else:
                b64, extra = batch[i]
            cancel.raise_if_cancelled()
            image, raw = self._image(b64, target)
            images.append(GeneratedImage(image, seed, info={**info, **extra}, original=raw))
            progress(ProgressEvent("decode", (i + 1) / n, f"image {i + 1} of {n}", index=i))
        return GenerationResult(model=request.model, images=tuple(images))
