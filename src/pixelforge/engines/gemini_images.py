"""The ``gemini`` engine: Google's Gemini image models through the official ``google-genai`` SDK.

One ``generateContent`` call per image (``n`` calls for ``n`` images), image-only responses
(``responseModalities: ["IMAGE"]``). Gemini takes no pixel sizes, only an aspect ratio and a
resolution tier, so a request's ratio + tier map straight onto ``imageConfig`` and the
returned image is then centre-cropped and resized with Pillow to exactly
``request.output_size`` (our sizes: the tier's long edge, short edge rounded to 16):

==========================  ==========================  =================================
model family (by name)      ``imageConfig.aspectRatio`` ``imageConfig.imageSize``
==========================  ==========================  =================================
``*2.5*flash*``             1:1 2:3 3:2 3:4 4:3 4:5     not sent (the model only makes 1K)
                            5:4 9:16 16:9 21:9
``*flash*`` (3.x)           the above + 1:4 4:1         ``512`` / ``1K`` / ``2K`` / ``4K``
anything else (3 Pro)       as 2.5 Flash                ``1K`` / ``2K`` / ``4K``
==========================  ==========================  =================================

E.g. 16:9 at 2K on 3 Pro sends ``{"aspectRatio": "16:9", "imageSize": "2K"}``, Gemini
answers 2752x1536 and we deliver 2048x1152. A model name the family rules do not know
(a new GA id, say) gets the 3 Pro capabilities, the safe default.

Errors: 429/500/503 are retried (``max_retries`` times, exponential backoff with jitter,
honouring ``Retry-After`` or the API's ``RetryInfo``); other 4xx become a 400 carrying the
provider's message; timeouts are 504 and not retried; a 200 without an image (finish reason
``IMAGE_SAFETY``, ``NO_IMAGE``…) is a :class:`SafetyBlockedError` and not retried.
The SDK's own retries are switched off (``attempts=1``): we retry ourselves.
"""

from __future__ import annotations

import base64
import importlib
import io
import random
import re
import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx
from google import genai
from google.genai import errors, types
from PIL import Image, ImageOps

from pixelforge.domain import GenerationRequest, Mode, OutputFormat, Tier
from pixelforge.domain.request import Reference
from pixelforge.engines.base import (
    CancelToken,
    Capabilities,
    Engine,
    GeneratedImage,
    GenerationResult,
    ModelInfo,
    ProgressEvent,
    ProgressSink,
    seeds_for,
)
from pixelforge.errors import (
    InvalidRequestError,
    SafetyBlockedError,
    UpstreamError,
    UpstreamTimeoutError,
)

DEFAULT_MODELS = (
    "gemini-2.5-flash-image",
    "gemini-3-pro-image-preview",
    "gemini-3.1-flash-image-preview",
)
#: The documented endpoint is ``/v1beta/models/{model}:generateContent``; google-genai 2.x+
#: defaults to ``v1``, so we pin it.
API_VERSION = "v1beta"
RETRYABLE = frozenset({429, 500, 503})
MAX_RETRY_WAIT = 60.0
#: Finish reasons (and prompt block reasons) that mean "the safety system said no".
BLOCKED_REASONS = frozenset(
    {"SAFETY", "IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT", "PROHIBITED_CONTENT", "BLOCKLIST",
     "SPII", "RECITATION", "IMAGE_RECITATION", "NO_IMAGE", "IMAGE_OTHER", "MODEL_ARMOR",
     "JAILBREAK"}
)  # fmt: skip

_BASE_RATIOS = frozenset({"1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9"})
_FORMATS = frozenset(OutputFormat)


def _caps(ratios: frozenset[str], tiers: frozenset[Tier], refs: int, speed: str) -> Capabilities:
    edge = max(t.long_edge for t in tiers)
    return Capabilities(
        modes=frozenset(Mode), max_references=refs, mask=False, aspect_ratios=ratios,
        tiers=tiers, explicit_sizes=False, max_pixels=edge * edge, max_edge=edge, n_max=4,
        deterministic_seed=False, negative_prompt=False, transparent_background=False,
        formats=_FORMATS, speed_class="fast" if speed == "fast" else "standard",
    )  # fmt: skip


FLASH_25 = _caps(_BASE_RATIOS, frozenset({Tier.T1K}), 3, "fast")
FLASH_3X = _caps(_BASE_RATIOS | {"1:4", "4:1"}, frozenset(Tier), 14, "fast")
PRO_3 = _caps(_BASE_RATIOS, frozenset({Tier.T1K, Tier.T2K, Tier.T4K}), 14, "standard")


def capabilities_for(model_id: str) -> Capabilities:
    """The capabilities of a model, from its name's family (see the module docstring)."""
    name = model_id.lower()
    if "flash" in name:
        return FLASH_25 if "2.5" in name else FLASH_3X
    return PRO_3


def image_config(model_id: str, request: GenerationRequest) -> types.ImageConfig:
    """Our aspect ratio + tier as Gemini's ``imageConfig``."""
    only_1k = capabilities_for(model_id).tiers == {Tier.T1K}
    return types.ImageConfig(
        aspect_ratio=request.aspect_ratio, image_size=None if only_1k else request.tier.value
    )


def _describe(index: int, ref: Reference, mode: Mode) -> str:
    if index == 0 and mode is Mode.EDIT:
        return "Image to edit:"
    if index == 0 and mode is Mode.VARIATION:
        return "Source image (make a variation of it):"
    return f"Reference {index + 1} ({ref.role.value}):"


def build_contents(request: GenerationRequest) -> types.Content:
    """One user turn: labelled reference images as inline parts, then the prompt."""
    parts: list[types.Part] = []
    for i, ref in enumerate(request.references):
        fmt = ref.image.format.lower()
        mime = "image/jpeg" if fmt in ("jpg", "jpeg") else f"image/{fmt}"
        parts.append(types.Part.from_text(text=_describe(i, ref, request.mode)))
        parts.append(types.Part.from_bytes(data=ref.image.data, mime_type=mime))
    parts.append(types.Part.from_text(text=request.prompt))
    return types.Content(role="user", parts=parts)


def _transport_errors() -> tuple[tuple[type[Exception], ...], tuple[type[Exception], ...]]:
    """(timeouts, other transport errors) of httpx and of httpx2, the fork newer SDKs use."""
    timeouts: list[type[Exception]] = [httpx.TimeoutException, TimeoutError]
    others: list[type[Exception]] = [httpx.HTTPError]
    try:
        httpx2: Any = importlib.import_module("httpx2")
    except ImportError:
        pass
    else:
        timeouts.append(httpx2.TimeoutException)
        others.append(httpx2.HTTPError)
    return tuple(timeouts), tuple(others)


TIMEOUT_ERRORS, TRANSPORT_ERRORS = _transport_errors()
_DURATION_RE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)s?\s*$")


def retry_after(exc: errors.APIError) -> float | None:
    """The wait the provider asked for: ``Retry-After`` header or ``RetryInfo.retryDelay``."""
    headers = getattr(exc.response, "headers", None)
    values: list[Any] = [headers.get("retry-after")] if headers is not None else []
    details = exc.details.get("error", exc.details) if isinstance(exc.details, dict) else {}
    for item in details.get("details", []) if isinstance(details, dict) else []:
        if isinstance(item, dict) and str(item.get("@type", "")).endswith("RetryInfo"):
            values.append(item.get("retryDelay"))
    for value in values:
        match = _DURATION_RE.match(str(value)) if value is not None else None
        if match:
            return min(float(match.group(1)), MAX_RETRY_WAIT)
    return None


class GeminiImagesEngine(Engine):
    name = "gemini"
    #: First backoff wait in seconds (doubles each retry, plus up to as much again of jitter).
    backoff_base = 1.0

    def __init__(
        self,
        api_key: str,
        base_url: str | None = None,
        models: Sequence[str] = DEFAULT_MODELS,
        timeout: float = 120.0,
        max_retries: int = 2,
    ) -> None:
        if not api_key:
            raise ValueError("the gemini engine needs an API key")
        self._api_key = api_key
        self._model_ids = tuple(dict.fromkeys(models))
        self.max_retries = max(0, max_retries)
        self._sleep: Callable[[float], None] = time.sleep
        self._client = genai.Client(
            api_key=api_key,
            vertexai=False,
            http_options=types.HttpOptions(
                base_url=base_url,
                api_version=API_VERSION,
                timeout=max(1, round(timeout * 1000)),  # milliseconds
                retry_options=types.HttpRetryOptions(attempts=1),
            ),
        )

    def models(self) -> Sequence[ModelInfo]:
        return [
            ModelInfo(
                id=mid,
                engine=self.name,
                description=f"Google Gemini image model {mid} (hosted; text + reference "
                "images to image).",
                capabilities=capabilities_for(mid),
            )
            for mid in self._model_ids
        ]

    def close(self) -> None:
        self._client.close()

    # --- run ------------------------------------------------------------------------------

    def run(
        self, request: GenerationRequest, progress: ProgressSink, cancel: CancelToken
    ) -> GenerationResult:
        seeds = seeds_for(request)
        n = len(seeds)
        contents = build_contents(request)
        size = request.output_size
        images: list[GeneratedImage] = []
        progress(ProgressEvent("generate", 0.0, f"asking {request.model} for {n} image(s)"))
        for i, seed in enumerate(seeds):
            cancel.raise_if_cancelled()
            config = types.GenerateContentConfig(
                response_modalities=["IMAGE"],
                image_config=image_config(request.model, request),
                seed=seed % 2**31,
            )
            response = self._call(request.model, contents, config, cancel)
            image, info = self._decode(response)
            fitted = ImageOps.fit(image, (size.width, size.height), Image.Resampling.LANCZOS)
            images.append(GeneratedImage(image=fitted, seed=seed, info=info))
            progress(ProgressEvent("generate", (i + 1) / n, f"image {i + 1} of {n}", index=i))
        return GenerationResult(model=request.model, images=tuple(images))

    def _call(
        self,
        model: str,
        contents: types.Content,
        config: types.GenerateContentConfig,
        cancel: CancelToken,
    ) -> types.GenerateContentResponse:
        attempt = 0
        while True:
            try:
                return self._client.models.generate_content(
                    model=model, contents=contents, config=config
                )
            except errors.APIError as exc:
                if exc.code not in RETRYABLE or attempt >= self.max_retries:
                    raise self._map_error(exc) from None
                wait = retry_after(exc)
                if wait is None:
                    base = self.backoff_base * 2**attempt
                    wait = min(base + random.uniform(0, base), MAX_RETRY_WAIT)
                attempt += 1
                self._sleep(wait)
                cancel.raise_if_cancelled()
            except TIMEOUT_ERRORS:
                raise UpstreamTimeoutError(
                    f"gemini: {model} did not answer in time", code="provider_timeout"
                ) from None
            except TRANSPORT_ERRORS as exc:
                raise UpstreamError(
                    f"gemini: could not reach the provider ({type(exc).__name__})",
                    code="provider_unavailable",
                ) from None

    def _scrub(self, text: str) -> str:
        return text.replace(self._api_key, "[redacted]")

    def _map_error(self, exc: errors.APIError) -> Exception:
        message = self._scrub(str(exc.message or exc.status or "no message"))
        if exc.code == 429:
            return UpstreamError(
                f"gemini: rate limited by the provider: {message}", code="provider_rate_limited"
            )
        if 400 <= exc.code < 500:
            return InvalidRequestError(
                f"gemini: the provider refused the request ({exc.status or exc.code}): {message}",
                code="provider_rejected",
            )
        return UpstreamError(
            f"gemini: provider error {exc.code}: {message}", code="provider_unavailable"
        )

    def _decode(
        self, response: types.GenerateContentResponse
    ) -> tuple[Image.Image, dict[str, str]]:
        """The first non-thought inline image of the response, and what we keep about it."""
        info: dict[str, str] = {}
        usage = response.usage_metadata
        if usage is not None:
            for key, value in (
                ("prompt_tokens", usage.prompt_token_count),
                ("output_tokens", usage.candidates_token_count),
                ("thoughts_tokens", usage.thoughts_token_count),
                ("total_tokens", usage.total_token_count),
            ):
                if value is not None:
                    info[key] = str(value)
        if response.model_version:
            info["model_version"] = response.model_version
        candidate = response.candidates[0] if response.candidates else None
        reason = candidate.finish_reason.value if candidate and candidate.finish_reason else ""
        if reason:
            info["finish_reason"] = reason
        parts = candidate.content.parts if candidate and candidate.content else None
        texts: list[str] = []
        for part in parts or []:
            if part.text and not part.thought:
                texts.append(part.text)
            data = part.inline_data.data if part.inline_data else None
            if data and not part.thought:
                if part.thought_signature:
                    info["thought_signature"] = base64.b64encode(part.thought_signature).decode()
                return self._open(data), info
        feedback = response.prompt_feedback
        blocked = feedback.block_reason.value if feedback and feedback.block_reason else ""
        said = f": {self._scrub(' '.join(texts))[:300]}" if texts else ""
        if blocked or reason in BLOCKED_REASONS:
            raise SafetyBlockedError(
                f"gemini: the provider's safety system declined to make this image "
                f"({blocked or reason}){said}"
            )
        raise UpstreamError(f"gemini: the response held no image (finish reason {reason or '?'})"
                            f"{said}", code="provider_no_image")  # fmt: skip

    @staticmethod
    def _open(data: bytes) -> Image.Image:
        try:
            with Image.open(io.BytesIO(data)) as im:
                im.load()
                return im.convert("RGB")
        except (OSError, ValueError, Image.DecompressionBombError):
            raise UpstreamError(
                "gemini: the provider returned an image we cannot decode",
                code="provider_bad_response",
            ) from None
