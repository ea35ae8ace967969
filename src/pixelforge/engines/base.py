"""The engine contract: what every backend declares and how it is called.

An engine exposes one or more models. Each model declares its :class:`Capabilities`; the
shared :func:`check_request` rejects anything a model cannot honour *before* any work starts.
``Engine.generate`` is the single entry point: it checks, then calls the engine's ``run``.
"""

from __future__ import annotations

import secrets
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from PIL import Image

from pixelforge.domain import GenerationRequest, Mode, OutputFormat, Reference, Tier
from pixelforge.domain.request import MAX_SEED, Background, EngineOptions, ReferenceRole
from pixelforge.errors import CancelledError, CapabilityError, allowed

SpeedClass = Literal["instant", "fast", "standard", "slow"]
PriceFunction = Callable[[GenerationRequest], Decimal]


def free(_: GenerationRequest) -> Decimal:
    """Price function of engines that cost nothing to run."""
    return Decimal(0)


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What one model can do. Everything a request asks for is checked against this."""

    modes: frozenset[Mode]
    max_references: int
    mask: bool
    aspect_ratios: frozenset[str]
    tiers: frozenset[Tier]
    explicit_sizes: bool
    max_pixels: int
    max_edge: int
    n_max: int
    deterministic_seed: bool
    negative_prompt: bool
    transparent_background: bool
    formats: frozenset[OutputFormat]
    speed_class: SpeedClass
    price: PriceFunction = free
    options_type: type[EngineOptions] | None = None
    returns_svg: bool = False


@dataclass(frozen=True, slots=True)
class ModelInfo:
    id: str
    engine: str
    description: str
    capabilities: Capabilities


@dataclass(frozen=True, slots=True)
class ProgressEvent:
    """A step of work: ``fraction`` runs from 0 to 1 over the whole request."""

    stage: str
    fraction: float
    message: str = ""
    index: int = 0
    preview: Image.Image | None = None


ProgressSink = Callable[[ProgressEvent], None]


def no_progress(_: ProgressEvent) -> None:
    """A progress sink that ignores events."""


class CancelToken:
    """Cooperative cancellation: the caller sets it, the engine checks it between steps."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise CancelledError("the request was cancelled", code="job_cancelled")


@dataclass(frozen=True, slots=True)
class GeneratedImage:
    image: Image.Image
    seed: int
    svg: str | None = None
    info: Mapping[str, str] = field(default_factory=dict)
    original: bytes | None = None
    """The file as a hosted provider sent it (with any C2PA manifest of its own): the output
    chain records it as the parent ingredient of our manifest instead of losing it."""


#: Token classes an engine may report in ``GeneratedImage.info`` as ``usage_<class>_tokens``.
USAGE_CLASSES = ("text_input", "image_input", "text_output", "image_output")


def usage_info(images: int = 1, **tokens: int | None) -> dict[str, str]:
    """Provider-reported token usage as ``GeneratedImage.info`` keys (the billing contract).

    ``tokens`` are counts by class (``text_input``, ``image_input``, ``text_output``,
    ``image_output``); ``None`` leaves a class out. ``images`` says how many images the
    provider call that reported this usage produced: every one of them carries the same keys,
    and each is billed ``1/images`` of the call's cost. An image without these keys is billed
    its reservation.
    """
    unknown = set(tokens) - set(USAGE_CLASSES)
    if unknown:
        raise ValueError(f"unknown token classes: {sorted(unknown)}; allowed: {USAGE_CLASSES}")
    info = {f"usage_{k}_tokens": str(v) for k, v in tokens.items() if v is not None}
    if info:
        info["usage_images"] = str(images)
    return info


@dataclass(frozen=True, slots=True)
class GenerationResult:
    model: str
    images: tuple[GeneratedImage, ...]


def check_request(model: ModelInfo, request: GenerationRequest) -> None:
    """Reject what ``model`` cannot honour, naming the capability and what is allowed."""
    caps = model.capabilities
    mid = model.id

    def fail(param: str, message: str) -> CapabilityError:
        return CapabilityError(f"{param}: {message} (model {mid!r})", param=param)

    if request.mode not in caps.modes:
        raise fail("mode", f"{request.mode.value!r} is not supported; allowed: "
                   f"{allowed(sorted(m.value for m in caps.modes))}")  # fmt: skip
    if len(request.references) > caps.max_references:
        raise fail("references", f"{len(request.references)} images is too many; "
                   f"at most {caps.max_references}")  # fmt: skip
    if request.mask is not None and not caps.mask:
        raise fail("mask", "masks are not supported")
    if request.size is not None:
        if not caps.explicit_sizes:
            raise fail("size", f"{str(request.size)!r}: explicit sizes are not supported; "
                       "use aspect_ratio and resolution")  # fmt: skip
    else:
        if request.aspect_ratio not in caps.aspect_ratios:
            raise fail("aspect_ratio", f"{request.aspect_ratio!r} is not supported; allowed: "
                       f"{allowed(sorted(caps.aspect_ratios))}")  # fmt: skip
        if request.tier not in caps.tiers:
            raise fail("resolution", f"{request.tier.value!r} is not supported; allowed: "
                       f"{allowed(t.value for t in Tier if t in caps.tiers)}")  # fmt: skip
    size = request.output_size
    if size.long_edge > caps.max_edge or size.pixels > caps.max_pixels:
        raise fail("size", f"{size} is over the maximum; at most {caps.max_edge} px per side "
                   f"and {caps.max_pixels} pixels")  # fmt: skip
    if request.n > caps.n_max:
        raise fail("n", f"{request.n} is over the maximum; at most {caps.n_max}")
    if request.negative_prompt and not caps.negative_prompt:
        raise fail("negative_prompt", "negative prompts are not supported")
    if request.background is Background.TRANSPARENT and not caps.transparent_background:
        raise fail("background", "'transparent' is not supported; allowed: auto, opaque")
    if request.output_format not in caps.formats:
        raise fail("output_format", f"{request.output_format.value!r} is not supported; "
                   f"allowed: {allowed(sorted(f.value for f in caps.formats))}")  # fmt: skip
    if request.options is not None and not (
        caps.options_type is not None and isinstance(request.options, caps.options_type)
    ):
        expected = caps.options_type.__name__ if caps.options_type else "none"
        raise fail("options", f"{type(request.options).__name__} does not apply; "
                   f"expected {expected}")  # fmt: skip


def seeds_for(request: GenerationRequest) -> list[int]:
    """The seed of each of the ``n`` images: consecutive from the request's seed."""
    base = request.seed if request.seed is not None else secrets.randbelow(2**31)
    return [(base + i) % (MAX_SEED + 1) for i in range(request.n)]


#: How a brand kit's font families read in a prompt.
_FONT_WORDS = {"sans": "sans-serif", "serif": "serif", "display": "bold display",
               "mono": "monospaced"}  # fmt: skip


def brand_references(request: GenerationRequest, max_references: int) -> tuple[Reference, ...]:
    """The request's references, plus its brand logo (role ``logo``, last) when the model
    takes references and has room for one more; the logo never crowds out a reference."""
    brand = request.brand
    refs = request.references
    if brand is None or brand.logo is None or len(refs) >= max_references:
        return refs
    return (*refs, Reference(brand.logo, ReferenceRole.LOGO))


def brand_prompt(
    request: GenerationRequest, base: str | None = None, *, logo_sent: bool = False
) -> str:
    """``base`` (default: the request's prompt) with the request's brand kit phrased for a
    model that reads prose: its colours, type, tone words and, when ``logo_sent`` (the logo
    went as the last reference image, see :func:`brand_references`), where the logo goes.
    Without a brand kit, ``base`` unchanged. One phrasing for every engine that reads prose."""
    text = request.prompt if base is None else base
    brand = request.brand
    if brand is None:
        return text
    rules = []
    if brand.palette:
        rules.append(f"use the brand colour palette {', '.join(brand.palette)} "
                     "(most important first)")  # fmt: skip
    if brand.headline_font is not None:
        rules.append(f"set headlines in a {_FONT_WORDS[brand.headline_font]} typeface")
    if brand.body_font is not None:
        rules.append(f"set body text in a {_FONT_WORDS[brand.body_font]} typeface")
    if brand.tone:
        rules.append(f"tone: {', '.join(brand.tone)}")
    if logo_sent:
        rules.append("include the brand logo (the last reference image) unaltered, small, in "
                     "a corner, never over text")  # fmt: skip
    if not rules:
        return text
    sentence = f"Brand guidelines: {'; '.join(rules)}."
    return f"{text}\n\n{sentence}" if text else sentence


class Engine(ABC):
    """A backend that runs one or more models."""

    name: str

    @abstractmethod
    def models(self) -> Sequence[ModelInfo]:
        """The models this engine serves, with their capabilities."""

    @abstractmethod
    def run(
        self, request: GenerationRequest, progress: ProgressSink, cancel: CancelToken
    ) -> GenerationResult:
        """Do the work for a request that :func:`check_request` has accepted."""

    def model(self, model_id: str) -> ModelInfo:
        for info in self.models():
            if info.id == model_id:
                return info
        raise CapabilityError(
            f"model: {model_id!r} is not served by engine {self.name!r}; allowed: "
            f"{allowed(m.id for m in self.models())}",
            param="model",
        )

    def close(self) -> None:  # noqa: B027 (optional hook: most engines hold nothing open)
        """Release what the engine holds open (HTTP connection pools); it is not used after."""

    def check(self, request: GenerationRequest) -> None:
        """Reject what the model cannot honour, before any work: the declared capabilities,
        plus whatever an engine checks of its own options (override and call super)."""
        check_request(self.model(request.model), request)

    def generate(
        self,
        request: GenerationRequest,
        progress: ProgressSink = no_progress,
        cancel: CancelToken | None = None,
    ) -> GenerationResult:
        """Check ``request`` against the model's capabilities, then run it."""
        self.check(request)
        token = cancel or CancelToken()
        token.raise_if_cancelled()
        return self.run(request, progress, token)
