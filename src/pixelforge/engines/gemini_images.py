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

Multi-turn editing: :class:`GeminiOptions` ``history`` holds earlier turns of a conversation
(role, then parts: text or inline image, each with the ``thought_signature`` it came back
with). They are sent as ``contents`` before the new user turn, signatures as received, since
Gemini 3 image models refuse a model turn without them. With a history, the new user turn
holds the prompt and the references, except, in edit and variation mode, ``references[0]``:
the image the conversation continues, which the history already holds. Every image's
``info["turn"]`` (JSON) records the turn it ended so the caller can store it: ``user_parts``
(``{"text"}`` or ``{"reference": i, "mime_type"}``) and ``model_parts`` (``{"text"}`` or
``{"output": true, "mime_type"}`` for the returned image, each with its ``thought_signature``
in base64). Thought parts and any image after the first are not kept.

Usage: ``info`` carries the response's token counts (``prompt_tokens``, ``output_tokens``,
...) and the billing classes of :func:`~pixelforge.engines.base.usage_info` (output tokens by
modality when the response says, else all image output; thinking tokens as text output).
"""

from __future__ import annotations

import base64
import importlib
import io
import json
import random
import re
import time
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Literal

import httpx
from google import genai
from google.genai import errors, types
from PIL import Image, ImageOps
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializationInfo,
    ValidationInfo,
    field_serializer,
    field_validator,
    model_validator,
)

from pixelforge.domain import GenerationRequest, Mode, OutputFormat, Tier
from pixelforge.domain.request import EngineOptions, Reference
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

MIME_EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}


class TurnPart(BaseModel):
    """One part of an earlier turn: ``text`` or an inline image (``data`` + ``mime_type``),
    with the ``thought_signature`` it came back with (base64, as on the wire).

    Stored with a job, ``data`` goes to the blob store when the serialization context has a
    ``blob_put(data, extension) -> key`` (and comes back through ``blob_get(key)``); otherwise
    it is base64 in JSON.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    text: str | None = None
    data: bytes | None = None
    mime_type: str | None = None
    thought_signature: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> TurnPart:
        if (self.text is None) == (self.data is None):
            raise ValueError("a part holds exactly one of text or data")
        if self.data is not None and self.mime_type not in MIME_EXTENSIONS:
            raise ValueError(f"mime_type: {self.mime_type!r} is not allowed; allowed: "
                             f"{', '.join(MIME_EXTENSIONS)}")  # fmt: skip
        if self.thought_signature is not None:
            _signature_bytes(self.thought_signature)
        return self

    @field_validator("data", mode="before")
    @classmethod
    def _load_data(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, dict) and set(value) == {"blob"}:
            get = (info.context or {}).get("blob_get")
            if get is None:
                raise ValueError("data: a stored image needs the blob store to load")
            return get(str(value["blob"]))
        if isinstance(value, str):
            return base64.b64decode(value, validate=True)
        return value

    @field_serializer("data")
    def _dump_data(self, value: bytes | None, info: SerializationInfo) -> Any:
        if value is None:
            return None
        put = (info.context or {}).get("blob_put")
        if put is not None:
            return {"blob": put(value, MIME_EXTENSIONS.get(self.mime_type or "", "bin"))}
        return base64.b64encode(value).decode() if info.mode == "json" else value


class Turn(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    role: Literal["user", "model"]
    parts: tuple[TurnPart, ...] = Field(min_length=1)


class GeminiOptions(EngineOptions):
    """Options of the gemini engine."""

    #: Set by the server from a stored conversation (``continue_from``), never by clients.
    server_fields: ClassVar[frozenset[str]] = frozenset({"history"})

    history: tuple[Turn, ...] = ()
    """Earlier turns, oldest first, ending with a model turn; see the module docstring."""

    @model_validator(mode="after")
    def _ends_with_model(self) -> GeminiOptions:
        if self.history and self.history[-1].role != "model":
            raise ValueError("history: the last earlier turn must be the model's")
        return self


def _signature_bytes(text: str) -> bytes:
    """A base64 thought signature (either alphabet, as APIs and SDKs differ) as bytes."""
    padded = text.replace("-", "+").replace("_", "/")
    return base64.b64decode(padded + "=" * (-len(padded) % 4), validate=True)


_BASE_RATIOS = frozenset({"1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9"})
_FORMATS = frozenset(OutputFormat)


def _caps(ratios: frozenset[str], tiers: frozenset[Tier], refs: int, speed: str) -> Capabilities:
    edge = max(t.long_edge for t in tiers)
    return Capabilities(
        modes=frozenset(Mode), max_references=refs, mask=False, aspect_ratios=ratios,
        tiers=tiers, explicit_sizes=False, max_pixels=edge * edge, max_edge=edge, n_max=4,
        deterministic_seed=False, negative_prompt=False, transparent_background=False,
        formats=_FORMATS, speed_class="fast" if speed == "fast" else "standard",
        options_type=GeminiOptions,
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


def history_of(request: GenerationRequest) -> tuple[Turn, ...]:
    options = request.options
    return options.history if isinstance(options, GeminiOptions) else ()


def _part(part: TurnPart) -> types.Part:
    signature = _signature_bytes(part.thought_signature) if part.thought_signature else None
    if part.data is not None:
        blob = types.Blob(data=part.data, mime_type=part.mime_type)
        return types.Part(inline_data=blob, thought_signature=signature)
    return types.Part(text=part.text, thought_signature=signature)


def build_contents(request: GenerationRequest) -> tuple[list[types.Content], list[dict[str, Any]]]:
    """The earlier turns, then the new user turn: labelled reference images as inline parts
    (a brand kit's logo last, labelled ``logo``, when the model has room for it), then the
    prompt with the brand kit phrased in. Returns the contents and the new user turn's record
    (see the module docstring); the logo is left out of the record, which names only the
    job's own references."""
    history = history_of(request)
    contents = [types.Content(role=t.role, parts=[_part(p) for p in t.parts]) for t in history]
    continued = bool(history) and request.mode is not Mode.GENERATE
    parts: list[types.Part] = []
    record: list[dict[str, Any]] = []
    refs = brand_references(request, capabilities_for(request.model).max_references)
    for i, ref in enumerate(refs):
        if continued and i == 0:
            continue  # the image the conversation continues: already in the history
        fmt = ref.image.format.lower()
        mime = "image/jpeg" if fmt in ("jpg", "jpeg") else f"image/{fmt}"
        label = _describe(i, ref, request.mode)
        parts += [types.Part.from_text(text=label),
                  types.Part.from_bytes(data=ref.image.data, mime_type=mime)]  # fmt: skip
        if i < len(request.references):  # a brand logo is no reference of the job: not kept
            record += [{"text": label}, {"reference": i, "mime_type": mime}]
    prompt = brand_prompt(request, logo_sent=len(refs) > len(request.references))
    parts.append(types.Part.from_text(text=prompt))
    record.append({"text": prompt})
    return [*contents, types.Content(role="user", parts=parts)], record


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
        contents, user_record = build_contents(request)
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
            image, info, model_record, raw = self._decode(response)
            info["turn"] = json.dumps({
                "model_id": request.model, "continues": bool(history_of(request)),
                "user_parts": user_record, "model_parts": model_record,
            }, separators=(",", ":"))  # fmt: skip
            fitted = ImageOps.fit(image, (size.width, size.height), Image.Resampling.LANCZOS)
            images.append(GeneratedImage(image=fitted, seed=seed, info=info, original=raw))
            progress(ProgressEvent("generate", (i + 1) / n, f"image {i + 1} of {n}", index=i))
        return GenerationResult(model=request.model, images=tuple(images))

    def _call(
        self,
        model: str,
        contents: list[types.Content],
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

    @staticmethod
    def _usage(usage: types.GenerateContentResponseUsageMetadata | None) -> dict[str, str]:
        """The response's token counts, under their own names and as billing classes."""
        if usage is None:
            return {}
        info: dict[str, str] = {}
        for key, value in (
            ("prompt_tokens", usage.prompt_token_count),
            ("output_tokens", usage.candidates_token_count),
            ("thoughts_tokens", usage.thoughts_token_count),
            ("total_tokens", usage.total_token_count),
        ):
            if value is not None:
                info[key] = str(value)

        def by_modality(details: list[types.ModalityTokenCount] | None) -> dict[str, int]:
            counts: dict[str, int] = {}
            for d in details or []:
                name = d.modality.value if d.modality is not None else ""
                counts[name] = counts.get(name, 0) + (d.token_count or 0)
            return counts

        prompt = by_modality(usage.prompt_tokens_details)
        output = by_modality(usage.candidates_tokens_details)
        if not prompt and usage.prompt_token_count is not None:
            prompt = {"TEXT": usage.prompt_token_count}
        if not output and usage.candidates_token_count is not None:
            output = {"IMAGE": usage.candidates_token_count}
        thinking = usage.thoughts_token_count or 0
        classes = {
            "text_input": prompt.get("TEXT"), "image_input": prompt.get("IMAGE"),
            "text_output": (output.get("TEXT", 0) + thinking) or None,
            "image_output": output.get("IMAGE"),
        }  # fmt: skip
        return info | usage_info(1, **classes)

    def _decode(
        self, response: types.GenerateContentResponse
    ) -> tuple[Image.Image, dict[str, str], list[dict[str, Any]], bytes]:
        """The first non-thought inline image of the response, what we keep about it, the
        record of the model's turn (its text and that image, with their signatures), and the
        image's file as it arrived (kept as the C2PA parent ingredient)."""
        info = self._usage(response.usage_metadata)
        if response.model_version:
            info["model_version"] = response.model_version
        candidate = response.candidates[0] if response.candidates else None
        reason = candidate.finish_reason.value if candidate and candidate.finish_reason else ""
        if reason:
            info["finish_reason"] = reason
        parts = candidate.content.parts if candidate and candidate.content else None
        texts: list[str] = []
        record: list[dict[str, Any]] = []
        image: Image.Image | None = None
        raw = b""
        for part in parts or []:
            if part.thought:
                continue
            signature = part.thought_signature
            sig = {"thought_signature": base64.b64encode(signature).decode()} if signature else {}
            if part.text:
                texts.append(part.text)
                record.append({"text": part.text, **sig})
            data = part.inline_data.data if part.inline_data else None
            if data and image is None:
                image, raw = self._open(data), data
                mime = part.inline_data.mime_type if part.inline_data else None
                record.append({"output": True, "mime_type": mime or "image/png", **sig})
                if signature:
                    info["thought_signature"] = sig["thought_signature"]
        if image is not None:
            return image, info, record, raw
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
