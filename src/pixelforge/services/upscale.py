"""Upscaling an asset: a job whose new asset names the source as ``parent_id``.

The target is a ``factor`` (2 or 4: exactly that many times the asset) or a ``tier`` (2K or
4K: that long edge, the asset's aspect ratio). The ``model`` is ``auto`` (the best installed
super-resolution model for the scale, else classical), ``classical``, or an upscaler's name;
it runs on the ``upscale`` engine (``engines.upscale``).

A ``compose`` output is not upscaled: its stored request (same brief, seed, brand kit and
input image) is rendered again at the target size, so text and shapes stay crisp instead of
being interpolated (``rerender=False`` upscales its pixels instead). Compose renders up to
``MAX_SIDE`` px a side in multiples of 16: a factor past that is a 400 naming ``factor``.
"""

from __future__ import annotations

import dataclasses

from pixelforge.domain import GenerationRequest, ImageInput, Mode, Reference, Size, Tier
from pixelforge.domain.request import OutputFormat
from pixelforge.domain.sizes import MAX_SIDE, SIDE_STEP, validate_size
from pixelforge.engines.registry import ModelRegistry
from pixelforge.engines.upscale import CLASSICAL, UpscaleEngine, UpscaleOptions
from pixelforge.errors import InvalidRequestError
from pixelforge.postprocess.upscale import FACTORS, target_size
from pixelforge.services.accounts import LOCAL, Principal
from pixelforge.services.assets import AssetService
from pixelforge.services.jobs import Idempotency, JobService, Submitted
from pixelforge.services.variations import VariationService, format_of, fresh_options

COMPOSE = "compose"


def upscale_engine(registry: ModelRegistry) -> UpscaleEngine:
    """The server's upscale engine (a 400 naming ``model`` when it serves none)."""
    try:
        engine, _ = registry.resolve(CLASSICAL)
    except InvalidRequestError:
        engine = None
    if not isinstance(engine, UpscaleEngine):
        raise InvalidRequestError("model: this server does not serve upscaling (no 'upscale' "
                                  "engine); allowed: none", param="model")  # fmt: skip
    return engine


def _round_side(value: float) -> int:
    return max(SIDE_STEP, round(value / SIDE_STEP) * SIDE_STEP)


def _fits(width: int, height: int) -> bool:
    try:
        validate_size(Size(width, height))
    except InvalidRequestError:
        return False
    return True


def rerender_request(
    source: GenerationRequest, width: int, height: int, *, factor: int | None,
    tier: str | None, seed: int | None,
) -> GenerationRequest:  # fmt: skip
    """``source`` (a compose request that made a ``width`` x ``height`` image with ``seed``)
    rendered again at the upscale target: ``factor`` times the size, or the ``tier`` (its
    aspect ratio kept when it had one, else the size scaled to the tier's long edge)."""
    target_size(width, height, factor=factor, tier=tier)  # the same checks as an upscale
    base = dataclasses.replace(source, n=1, seed=seed if seed is not None else source.seed,
                               options=fresh_options(source.options))  # fmt: skip
    if factor is None:
        parsed = Tier.parse(str(tier), "tier")
        if source.size is None:
            return dataclasses.replace(base, tier=parsed)
        scale = parsed.long_edge / max(width, height)
        size = Size(_round_side(width * scale), _round_side(height * scale))
        return dataclasses.replace(base, size=validate_size(size, "tier"))
    size = Size(width * factor, height * factor)
    if not _fits(size.width, size.height):
        smaller = [str(f) for f in FACTORS if f < factor and _fits(width * f, height * f)]
        raise InvalidRequestError(
            f"factor: {factor} would render this compose design at {size}; compose renders up "
            f"to {MAX_SIDE} px a side; allowed: {', '.join([*smaller, 'a tier (2K, 4K)'])}, "
            "or rerender false to upscale its pixels", param="factor",
        )  # fmt: skip
    return dataclasses.replace(base, size=size)


class UpscaleService:
    def __init__(
        self, jobs: JobService, assets: AssetService, registry: ModelRegistry,
        variations: VariationService,
    ) -> None:  # fmt: skip
        self.jobs, self.assets, self.registry = jobs, assets, registry
        self.variations = variations

    def plan(
        self, asset_id: str, principal: Principal = LOCAL, *, factor: int | None = None,
        tier: str | None = None, model: str = "auto", rerender: bool = True,
    ) -> GenerationRequest:  # fmt: skip
        """The request that upscales the asset (404 if the caller cannot see it), checked
        against its model before anything is queued. No factor and no tier: factor 2."""
        asset = self.assets.get(asset_id, principal)
        if factor is None and tier is None:
            factor = 2
        width, height = target_size(asset.width, asset.height, factor=factor, tier=tier)
        if tier is not None:
            tier = Tier.parse(tier, "tier").value  # checked above: 2K or 4K, any case
        if rerender and asset.model == COMPOSE:
            source = self.variations.source_request(asset)
            if source is not None and source.model == COMPOSE:
                request = rerender_request(source, asset.width, asset.height, factor=factor,
                                           tier=tier, seed=asset.seed)  # fmt: skip
                self.jobs.check(request)
                return request
        engine = upscale_engine(self.registry)
        scale = max(width / asset.width, height / asset.height)
        upscaler = engine.resolve(model, scale)
        image = ImageInput(self.assets.data(asset), asset.width, asset.height, asset.format)
        request = GenerationRequest(
            prompt=asset.prompt, model=upscaler.model_id, mode=Mode.EDIT,
            references=(Reference(image),), seed=asset.seed,
            options=UpscaleOptions.model_validate({"factor": factor, "to": tier}),
            output_format=format_of(asset.format) or OutputFormat.PNG,
        )  # fmt: skip
        self.jobs.check(request)
        return request

    def submit(
        self, asset_id: str, principal: Principal = LOCAL, *, factor: int | None = None,
        tier: str | None = None, model: str = "auto", rerender: bool = True,
        idem: Idempotency | None = None,
    ) -> Submitted:  # fmt: skip
        """Queue the upscale as one job whose asset names the source as ``parent_id``."""
        request = self.plan(asset_id, principal, factor=factor, tier=tier, model=model,
                            rerender=rerender)  # fmt: skip
        return self.jobs.submit(request, idem, principal=principal, continue_from=asset_id)
