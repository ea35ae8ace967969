"""The text edit action: exact text on one of the caller's assets, as a job.

``POST /api/assets/{id}/text`` queues a ``text-overlay`` job (see ``engines.text_overlay``)
with the asset as its one input image: the new asset has the source as ``parent_id``, keeps
its size and file format, and its C2PA manifest names the source as the parent ingredient.
Credits, ownership (another user's asset is a 404) and idempotency are those of every job.
A brand kit of the caller's reference library (``brand_kit``) sets the fonts and colours.
"""

from __future__ import annotations

from pixelforge.domain import Brand, GenerationRequest, ImageInput, Mode, Reference, TextOverlay
from pixelforge.domain.request import OutputFormat
from pixelforge.engines.registry import ModelRegistry
from pixelforge.engines.text_overlay import MODEL_ID
from pixelforge.errors import InvalidRequestError
from pixelforge.services.accounts import LOCAL, Principal
from pixelforge.services.assets import AssetService
from pixelforge.services.jobs import Idempotency, JobService, Submitted
from pixelforge.services.references import ReferenceService, SetKind
from pixelforge.services.variations import format_of, output_shape

#: Characters of the first text kept in the job's prompt (its description).
_PROMPT_TEXT = 120


def overlay_prompt(overlay: TextOverlay) -> str:
    """The prompt a text edit records: what it adds, in the user's words."""
    role, text = overlay.texts()[0]
    first = " ".join(text.split())
    if len(first) > _PROMPT_TEXT:
        first = first[: _PROMPT_TEXT - 1] + "…"
    more = len(overlay.texts()) - 1
    return f'text overlay: {role} "{first}"' + (f" and {more} more" if more else "")


def brand_kit(
    references: ReferenceService, set_id: str, principal: Principal = LOCAL,
    param: str = "brand_kit", *, by_name: bool = False,
) -> Brand:  # fmt: skip
    """The brand of one of the caller's brand kits, by id (or, ``by_name``, by name among the
    caller's sets): 404 if it cannot see the set, 400 if the set is not a brand kit."""
    if by_name:
        ref_set = references.find(set_id, principal)
    else:
        ref_set = references.get(set_id, principal, param)
    if ref_set.kind != SetKind.BRAND_KIT:
        raise InvalidRequestError(
            f"{param}: reference set {ref_set.name!r} ({ref_set.id}) is a {ref_set.kind} set, "
            "not a brand kit; name a set of kind brand_kit", param=param,
        )  # fmt: skip
    return references.brand(ref_set)


class TextOverlayService:
    def __init__(
        self, jobs: JobService, assets: AssetService, registry: ModelRegistry,
        references: ReferenceService,
    ) -> None:  # fmt: skip
        self.jobs, self.assets, self.registry = jobs, assets, registry
        self.references = references

    def plan(
        self, asset_id: str, overlay: TextOverlay, principal: Principal = LOCAL,
        brand: str | None = None,
    ) -> GenerationRequest:  # fmt: skip
        """The request that draws ``overlay`` on the asset (404 if the caller cannot see
        it) with the fonts and colours of the brand kit ``brand`` (a reference set id),
        checked before anything is queued."""
        asset = self.assets.get(asset_id, principal)
        kit = brand_kit(self.references, brand, principal) if brand is not None else None
        fmt = format_of(asset.format) or OutputFormat.PNG
        image = ImageInput(self.assets.data(asset), asset.width, asset.height, asset.format,
                           f"{asset.id}.{fmt.extension}")  # fmt: skip
        _, info = self.registry.resolve(MODEL_ID)
        request = GenerationRequest(
            prompt=overlay_prompt(overlay), model=MODEL_ID, mode=Mode.EDIT,
            references=(Reference(image),), seed=asset.seed, output_format=fmt,
            text_overlay=overlay, brand=kit,
            **output_shape(info.capabilities, asset.width, asset.height),
        )  # fmt: skip
        self.jobs.check(request)
        return request

    def submit(
        self, asset_id: str, overlay: TextOverlay, principal: Principal = LOCAL,
        idem: Idempotency | None = None, brand: str | None = None,
    ) -> Submitted:  # fmt: skip
        """Queue the text edit as one job whose asset names the source as ``parent_id``."""
        request = self.plan(asset_id, overlay, principal, brand)
        return self.jobs.submit(request, idem, principal=principal, continue_from=asset_id)
