"""Variations: "more like this" from any asset.

A variation reruns the asset's own request (its job's stored request: prompt, mode, references,
mask, options, size, quality, format, ...) with ``n`` new seeds, none of them the asset's own.
With a ``strength`` the asset itself is the input instead: an image-to-image run of it with the
same prompt, on a model that takes an image-to-image strength, at :data:`STRENGTHS` (subtle
stays close to the image, strong strays further). A model takes a strength when its options
type has a ``strength`` field and it runs ``variation`` or ``edit`` with an input image (local
diffusion models); anywhere else ``strength`` is a 400 that lists the models that take one.

Another ``model`` than the one that made the asset keeps the prompt and what that model can
honour: the size (or the nearest aspect ratio and resolution it offers), the options when they
are its options type, the negative prompt and transparency when it takes them. Server-set
option fields (a Gemini conversation's ``history``) are never carried over: a variation starts
no conversation and continues none. The new assets name the source asset as ``parent_id``.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import secrets
from enum import StrEnum
from typing import Any

from pixelforge.domain import GenerationRequest, ImageInput, Mode, Reference, Size, Tier
from pixelforge.domain.request import MAX_SEED, Background, EngineOptions, OutputFormat
from pixelforge.domain.sizes import aspect_ratio_value, validate_size
from pixelforge.engines.base import Capabilities
from pixelforge.engines.registry import ModelRegistry
from pixelforge.errors import InvalidRequestError, PixelforgeError, allowed
from pixelforge.services.accounts import LOCAL, Principal
from pixelforge.services.assets import AssetService
from pixelforge.services.codec import decode_request
from pixelforge.services.jobs import Idempotency, JobService, Submitted
from pixelforge.store.db import Database
from pixelforge.store.models import Asset, Job

log = logging.getLogger("pixelforge.variations")

DEFAULT_N = 4


class Strength(StrEnum):
    SUBTLE = "subtle"
    STRONG = "strong"


#: Image-to-image strength of each level: the share of the denoising redone (0: the image as
#: it is, 1: ignore it). Subtle keeps layout and colours; strong keeps only the broad shapes.
STRENGTHS: dict[Strength, float] = {Strength.SUBTLE: 0.3, Strength.STRONG: 0.7}


def takes_strength(caps: Capabilities) -> bool:
    """Whether a model runs image-to-image with a strength (see the module docstring)."""
    kind = caps.options_type
    return (
        kind is not None
        and "strength" in kind.model_fields
        and bool(caps.modes & {Mode.VARIATION, Mode.EDIT})
        and caps.max_references >= 1
    )


def _ratio(name: str) -> float:
    w, h = aspect_ratio_value(name)
    return w / h


def output_shape(caps: Capabilities, width: int, height: int) -> dict[str, Any]:
    """The request fields (``size``, or ``aspect_ratio`` and ``tier``) that make a ``width`` x
    ``height`` image on a model with ``caps``, or the nearest shape it can make."""
    if caps.explicit_sizes:
        size = Size(width, height)
        try:
            validate_size(size)
        except InvalidRequestError:
            pass
        else:
            if size.long_edge <= caps.max_edge and size.pixels <= caps.max_pixels:
                return {"size": size}
    target = math.log(width / height)
    ratio = min(sorted(caps.aspect_ratios), key=lambda r: abs(math.log(_ratio(r)) - target))
    edge = max(width, height)
    tiers = [t for t in Tier if t in caps.tiers]
    tier = min(tiers, key=lambda t: (abs(math.log(t.long_edge / edge)), t.long_edge))
    return {"size": None, "aspect_ratio": ratio, "tier": tier}


def fresh_options(options: EngineOptions | None) -> EngineOptions | None:
    """``options`` with the fields only the server sets back at their defaults."""
    if options is None or not type(options).server_fields:
        return options
    fields = type(options).model_fields
    reset = {
        f: fields[f].get_default(call_default_factory=True) for f in type(options).server_fields
    }
    return options.model_copy(update=reset)


def variation_seed(source_seed: int | None, n: int, seed: int | None = None) -> int:
    """The first of ``n`` consecutive seeds, none of them ``source_seed``: ``seed`` when given
    (a 400 naming ``seed`` if its run would repeat the source's), else a random one."""

    def repeats(base: int) -> bool:
        return source_seed is not None and any(
            (base + i) % (MAX_SEED + 1) == source_seed for i in range(n)
        )

    if seed is not None:
        if repeats(seed):
            assert source_seed is not None
            raise InvalidRequestError(
                f"seed: {seed} would repeat the source image's seed {source_seed} (the {n} "
                f"images take seeds {seed} to {seed + n - 1}); pick a base seed outside "
                f"{max(0, source_seed - n + 1)} to {source_seed}", param="seed",
            )  # fmt: skip
        return seed
    while True:
        base = secrets.randbelow(2**31)
        if not repeats(base):
            return base


def adapt(
    request: GenerationRequest, model: str, caps: Capabilities, width: int, height: int
) -> GenerationRequest:
    """``request`` for another ``model``: what it can honour of the settings (see the module
    docstring), shaped like a ``width`` x ``height`` image."""
    if model == request.model:
        return request
    kind = caps.options_type
    options = request.options if kind is not None and isinstance(request.options, kind) else None
    transparent = request.background is Background.TRANSPARENT
    return dataclasses.replace(
        request, model=model, options=options,
        negative_prompt=request.negative_prompt if caps.negative_prompt else None,
        background=Background.AUTO if transparent and not caps.transparent_background
        else request.background,
        output_format=request.output_format if request.output_format in caps.formats
        else OutputFormat.PNG,
        **output_shape(caps, width, height),
    )  # fmt: skip


def strength_request(
    base: GenerationRequest, model: str, caps: Capabilities, image: ImageInput,
    strength: Strength,
) -> GenerationRequest:  # fmt: skip
    """An image-to-image run of ``image`` with ``base``'s prompt and settings on ``model``
    (which must take a strength, see :func:`takes_strength`)."""
    kind = caps.options_type
    assert kind is not None
    options = base.options if isinstance(base.options, kind) else kind()
    options = options.model_copy(update={"strength": STRENGTHS[strength]})
    adapted = adapt(base, model, caps, image.width, image.height)
    fmt = format_of(image.format)
    return dataclasses.replace(
        adapted, mode=Mode.VARIATION if Mode.VARIATION in caps.modes else Mode.EDIT,
        references=(Reference(image),), mask=None, options=options,
        output_format=fmt if fmt is not None and fmt in caps.formats else adapted.output_format,
        **output_shape(caps, image.width, image.height),
    )  # fmt: skip


def format_of(name: str) -> OutputFormat | None:
    """The output format named ``name`` (``png``, ``jpeg``, ``webp``), or None."""
    try:
        return OutputFormat(name)
    except ValueError:
        return None


def no_strength(model: str, registry: ModelRegistry, absent: str = "null") -> InvalidRequestError:
    """The 400 for a strength on a model that takes none, naming the models that do
    (``absent``: how the caller leaves the strength out)."""
    able = sorted(m.id for m in registry.models() if takes_strength(m.capabilities))
    where = (f"; subtle or strong on a model with image-to-image strength: {allowed(able)}"
             if able else "; no model on this server takes a strength")  # fmt: skip
    return InvalidRequestError(
        f"strength: model {model!r} has no image-to-image strength; allowed: {absent} (same "
        f"settings, new seeds){where}", param="strength",
    )  # fmt: skip


class VariationService:
    def __init__(
        self, db: Database, jobs: JobService, assets: AssetService, registry: ModelRegistry
    ) -> None:
        self.db, self.jobs, self.assets, self.registry = db, jobs, assets, registry

    def source_request(self, asset: Asset) -> GenerationRequest | None:
        """The request of the job that made ``asset``, or None when there is none to rebuild
        (an imported image, or stored inputs that are gone)."""
        with self.db.read() as s:
            job = s.get(Job, asset.job_id) if asset.job_id else None
        data = dict(job.request) if job is not None else {}
        if "prompt" not in data:
            return None
        try:
            return decode_request(data, self.jobs.blobs, self.registry)
        except PixelforgeError:
            # Options of a model this server no longer serves: the request without them.
            try:
                return decode_request({**data, "options": None}, self.jobs.blobs, self.registry)
            except (PixelforgeError, KeyError, ValueError, OSError):
                log.warning("asset %s: its job's request cannot be rebuilt", asset.id)
                return None
        except (KeyError, ValueError, OSError):
            log.warning("asset %s: its job's request cannot be rebuilt", asset.id)
            return None

    def plan(
        self, asset_id: str, principal: Principal = LOCAL, *, n: int = DEFAULT_N,
        strength: Strength | None = None, model: str | None = None, seed: int | None = None,
    ) -> GenerationRequest:  # fmt: skip
        """The request that makes ``n`` variations of the asset (404 if the caller cannot see
        it); checked against the model before anything is queued."""
        asset = self.assets.get(asset_id, principal)
        source = self.source_request(asset)
        target = model or (source.model if source is not None else asset.model)
        _, info = self.registry.resolve(target)
        caps = info.capabilities
        base_seed = variation_seed(asset.seed, n, seed)
        if source is None:
            if not asset.prompt and strength is None:
                raise InvalidRequestError(
                    f"asset_id: asset {asset.id!r} has no prompt or stored request to rerun; "
                    "vary it with a strength (subtle or strong) on a model that takes one",
                    param="asset_id",
                )  # fmt: skip
            source = GenerationRequest(prompt=asset.prompt, model=target,
                                       **output_shape(caps, asset.width, asset.height))  # fmt: skip
        if strength is None:
            request = adapt(source, target, caps, asset.width, asset.height)
        else:
            if not takes_strength(caps):
                raise no_strength(target, self.registry)
            image = ImageInput(self.assets.data(asset), asset.width, asset.height, asset.format)
            request = strength_request(source, target, caps, image, strength)
        request = dataclasses.replace(request, n=n, seed=base_seed,
                                      options=fresh_options(request.options))  # fmt: skip
        self.jobs.check(request)
        return request

    def submit(
        self, asset_id: str, principal: Principal = LOCAL, *, n: int = DEFAULT_N,
        strength: Strength | None = None, model: str | None = None, seed: int | None = None,
        idem: Idempotency | None = None,
    ) -> Submitted:  # fmt: skip
        """Queue the variations as one job whose assets name the source as ``parent_id``."""
        request = self.plan(asset_id, principal, n=n, strength=strength, model=model, seed=seed)
        return self.jobs.submit(request, idem, principal=principal, continue_from=asset_id)
