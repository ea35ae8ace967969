"""The built-in ``upscale`` engine: an image in, the same image bigger out.

Models: ``upscale/classical`` (Lanczos plus edge-aware, halo-free sharpening; no weights, no
torch: always served) and ``upscale/<name>`` for each super-resolution model of the RRDBNet
family (ESRGAN, Real-ESRGAN x2/x4) in the models folder, served when torch is installed.
torch is imported only when such a model first runs, so the base install never imports it.

A request is mode ``edit`` with ``references[0]`` = the image. The target size is, in order:
``options.factor`` (2 or 4: exactly that many times the image), ``options.to`` (``2K`` or
``4K``: that long edge, the image's own aspect ratio), or else the request's own size (``size``
or ``aspect_ratio`` + ``resolution``; an image of another shape is scaled to cover it and
centre-cropped). The output is always exactly the target size.

A model runs at its own factor: as many passes as needed to get within 1.25x of the target
(an x2 model asked for 4x runs twice), then Lanczos resizes to the exact size (an x4 model
asked for 2x runs once, then is Lanczos-downsampled by 2). Models run tile by tile (memory
bounded by the tile, see ``engines.local.rrdbnet.upscale``), reporting progress per tile and
stopping between tiles when cancelled. Alpha is kept: resampled, never sharpened.
"""

from __future__ import annotations

import io
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from PIL import Image
from pydantic import Field

from pixelforge.domain import ASPECT_RATIOS, GenerationRequest, Mode, OutputFormat, Tier
from pixelforge.domain.request import EngineOptions
from pixelforge.engines.base import (
    CancelToken,
    Capabilities,
    Engine,
    GeneratedImage,
    GenerationResult,
    ModelInfo,
    ProgressEvent,
    ProgressSink,
    SpeedClass,
    seeds_for,
)
from pixelforge.engines.local.catalog import ModelEntry, scan
from pixelforge.errors import CapabilityError, InvalidRequestError, allowed
from pixelforge.postprocess import upscale as classical

if TYPE_CHECKING:
    from pixelforge.engines.local.rrdbnet import RRDBNet

log = logging.getLogger(__name__)

MODEL_PREFIX = "upscale/"
CLASSICAL = "upscale/classical"
#: The largest output: what ingest takes as an input (services.images), so an upscale can be
#: worked on again.
MAX_EDGE = 16_384
MAX_PIXELS = 40_000_000
#: The largest image a model may make before the final resize (an x4 model asked for 2x makes
#: twice the target's sides): bounds the output buffer of a pass.
MAX_INTERMEDIATE_PIXELS = 64_000_000
#: A model's last pass may fall short of the target by this much; Lanczos does the rest.
PASS_SLACK = 1.25
#: Loaded models kept warm.
WARM_MODELS = 2


class UpscaleOptions(EngineOptions):
    """Options of the upscale engine (the target; see the module docstring)."""

    factor: Literal[2, 4] | None = None
    """Exactly this many times the image's width and height."""
    to: Literal["2K", "4K"] | None = None
    """This long edge (2048 or 4096 px) with the image's own aspect ratio."""
    tile: int | None = Field(default=None, ge=32, le=1024)
    """Super-resolution tile side in input pixels (default: the engine's, 192)."""


@dataclass(frozen=True, slots=True)
class Upscaler:
    """One upscale model: ``classical`` (no entry) or a super-resolution file."""

    model_id: str
    name: str
    factor: int
    """The model's own scale (1, 2 or 4); 0 for classical, which makes any size."""
    parameters: int = 0
    entry: ModelEntry | None = None


def passes_for(factor: int, scale: float) -> int:
    """How many times a ``factor`` model runs to reach ``scale`` (within PASS_SLACK)."""
    if factor < 2:
        return 1
    passes = 1
    while factor**passes * PASS_SLACK < scale:
        passes += 1
    return passes


def best_upscaler(upscalers: Sequence[Upscaler], scale: float) -> Upscaler | None:
    """The model ``auto`` picks for ``scale``: the smallest factor that reaches it in one pass
    (most parameters first), else the largest factor; None without super-resolution models.
    x1 models (restoration, no upscaling) are never picked."""
    models = [u for u in upscalers if u.entry is not None and u.factor >= 2]
    if not models:
        return None
    enough = [u for u in models if u.factor * PASS_SLACK >= scale]
    if enough:
        return min(enough, key=lambda u: (u.factor, -u.parameters, u.name))
    return min(models, key=lambda u: (-u.factor, -u.parameters, u.name))


def _capabilities(speed: SpeedClass) -> Capabilities:
    return Capabilities(
        modes=frozenset({Mode.EDIT}), max_references=1, mask=False,
        aspect_ratios=frozenset(ASPECT_RATIOS), tiers=frozenset(Tier), explicit_sizes=True,
        max_pixels=MAX_PIXELS, max_edge=MAX_EDGE, n_max=1, deterministic_seed=False,
        negative_prompt=False, transparent_background=False, formats=frozenset(OutputFormat),
        speed_class=speed, options_type=UpscaleOptions,
    )  # fmt: skip


def decode(data: bytes) -> Image.Image:
    """An input image (already checked and made upright by ingest), fully decoded."""
    with Image.open(io.BytesIO(data), formats=("PNG", "JPEG", "WEBP")) as im:
        im.load()
        return im


def crop_to_shape(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """The centre of ``image`` with ``size``'s aspect ratio (what covering ``size`` keeps)."""
    w, h = image.size
    if w * size[1] > h * size[0]:  # wider than the target
        keep = max(1, round(h * size[0] / size[1]))
        return image.crop(((w - keep) // 2, 0, (w - keep) // 2 + keep, h))
    keep = max(1, round(w * size[1] / size[0]))
    return image.crop((0, (h - keep) // 2, w, (h - keep) // 2 + keep))


class UpscaleEngine(Engine):
    name = "upscale"

    def __init__(
        self, models_dir: Path | None = None, *, device: str = "auto", tile: int = 192,
        overlap: int = 16, super_resolution: bool | None = None,
    ) -> None:  # fmt: skip
        """``models_dir``: where RRDBNet files are found (scanned once, here; skipped when
        torch is not installed or ``super_resolution`` is False)."""
        self.device, self.tile, self.overlap = device, tile, overlap
        if super_resolution is None:
            super_resolution = find_spec("torch") is not None
        self._upscalers = [Upscaler(CLASSICAL, "classical", 0)]
        if super_resolution and models_dir is not None:
            for entry in scan(models_dir).upscalers:
                if entry.name == "classical":
                    log.warning("%s: the upscaler name 'classical' is taken; rename it", entry.path)
                    continue
                factor = int(entry.variant.removeprefix("x") or 4)
                self._upscalers.append(Upscaler(MODEL_PREFIX + entry.name, entry.name, factor,
                                                entry.parameters, entry))  # fmt: skip
        self._by_id = {u.model_id: u for u in self._upscalers}
        self._warm: OrderedDict[str, RRDBNet] = OrderedDict()
        self._lock = threading.Lock()

    # -- what it serves --------------------------------------------------------------------

    @property
    def upscalers(self) -> list[Upscaler]:
        return list(self._upscalers)

    def models(self) -> Sequence[ModelInfo]:
        infos = [ModelInfo(CLASSICAL, self.name, "Classical upscaling: Lanczos plus edge-aware, "
                           "halo-free sharpening. Any size, no weights.", _capabilities("fast"))]  # fmt: skip
        for u in self._upscalers[1:]:
            text = (f"Super-resolution x{u.factor} (RRDBNet, {u.parameters / 1e6:.1f}M "
                    f"parameters), {u.name}")  # fmt: skip
            infos.append(ModelInfo(u.model_id, self.name, text, _capabilities("slow")))
        return infos

    def resolve(self, name: str, scale: float, param: str = "model") -> Upscaler:
        """The upscaler a caller names: ``auto`` (the best installed model for ``scale``, else
        classical), ``classical``, or a model's name (with or without ``upscale/``)."""
        if name == "auto":
            return best_upscaler(self._upscalers, scale) or self._by_id[CLASSICAL]
        found = self._by_id.get(name) or self._by_id.get(MODEL_PREFIX + name)
        if found is None:
            names = ["auto", *(u.name for u in self._upscalers)]
            raise InvalidRequestError(
                f"{param}: {name!r} is not an installed upscaler; allowed: {allowed(names)}",
                param=param,
            )
        return found

    # -- checks ----------------------------------------------------------------------------

    def target(self, request: GenerationRequest) -> tuple[int, int]:
        """The exact output size of ``request`` (see the module docstring)."""
        image = request.references[0].image
        options = request.options if isinstance(request.options, UpscaleOptions) else None
        if options is not None and (options.factor is not None or options.to is not None):
            return classical.target_size(
                image.width, image.height, factor=options.factor, tier=options.to,
                factor_param="options.factor", tier_param="options.to",
            )  # fmt: skip
        size = request.output_size
        if size.width <= image.width and size.height <= image.height:
            param = "size" if request.size is not None else "resolution"
            raise InvalidRequestError(
                f"{param}: {size} is not larger than the image ({image.width}x{image.height}); "
                "an upscale makes the image bigger", param=param,
            )  # fmt: skip
        return size.width, size.height

    def check(self, request: GenerationRequest) -> None:
        super().check(request)
        width, height = self.target(request)
        options = request.options if isinstance(request.options, UpscaleOptions) else None
        param = ("options.factor" if options is not None and options.factor is not None
                 else "options.to" if options is not None and options.to is not None
                 else "size")  # fmt: skip
        if max(width, height) > MAX_EDGE or width * height > MAX_PIXELS:
            raise CapabilityError(
                f"{param}: the upscaled image would be {width}x{height}; at most {MAX_EDGE} px "
                f"per side and {MAX_PIXELS} pixels (model {request.model!r})", param=param,
            )  # fmt: skip
        upscaler = self._by_id[request.model]
        if upscaler.entry is not None:
            image = request.references[0].image
            made = self._made_size(upscaler.factor, (image.width, image.height), (width, height))
            if made[0] * made[1] > MAX_INTERMEDIATE_PIXELS:
                raise CapabilityError(
                    f"model: {upscaler.name!r} (x{upscaler.factor}) would make {made[0]}x{made[1]}"
                    f" before resizing to {width}x{height}; at most {MAX_INTERMEDIATE_PIXELS} "
                    "pixels: pick a model with a smaller factor, or classical", param="model",
                )  # fmt: skip

    @staticmethod
    def _made_size(
        factor: int, source: tuple[int, int], target: tuple[int, int]
    ) -> tuple[int, int]:
        scale = max(target[0] / source[0], target[1] / source[1])
        times = factor ** passes_for(factor, scale)
        return source[0] * times, source[1] * times

    # -- the work --------------------------------------------------------------------------

    def run(
        self, request: GenerationRequest, progress: ProgressSink, cancel: CancelToken
    ) -> GenerationResult:
        upscaler = self._by_id[request.model]
        size = self.target(request)

        def report(fraction: float, message: str) -> None:
            progress(ProgressEvent("upscale", min(1.0, fraction), message))
            cancel.raise_if_cancelled()

        report(0.0, f"{upscaler.name}: upscaling to {size[0]}x{size[1]}")
        source = decode(request.references[0].image.data)
        options = request.options if isinstance(request.options, UpscaleOptions) else None
        exact = options is not None and (options.factor is not None or options.to is not None)
        work = source
        if not exact and source.width * size[1] != source.height * size[0]:
            work = crop_to_shape(source, size)  # cover the request's shape, never stretch
        if upscaler.entry is None:
            image = classical.upscale(work, size, progress=lambda f: report(f, "sharpening"))
        else:
            image = self._super_resolve(upscaler, work, size, options, report)
        report(1.0, "done")
        info = {"size": f"{size[0]}x{size[1]}", "aspect_ratio": "", "upscaler": upscaler.name,
                "upscaled from": f"{source.width}x{source.height}"}  # fmt: skip
        seed = seeds_for(request)[0]
        return GenerationResult(request.model, (GeneratedImage(image, seed, info=info),))

    def _super_resolve(
        self, upscaler: Upscaler, image: Image.Image, size: tuple[int, int],
        options: UpscaleOptions | None, report: Callable[[float, str], None],
    ) -> Image.Image:  # fmt: skip
        from pixelforge.engines.local import rrdbnet

        model = self._model(upscaler)
        factor = model.config.scale
        passes = passes_for(factor, max(size[0] / image.width, size[1] / image.height))
        tile = options.tile if options is not None and options.tile is not None else self.tile
        for i in range(passes):

            def tiles(fraction: float, i: int = i) -> None:
                report(0.97 * (i + fraction) / passes, f"x{factor} pass {i + 1} of {passes}")

            image = rrdbnet.upscale(model, image, tile=tile, overlap=self.overlap,
                                    progress=tiles)  # fmt: skip
        if image.size != size:
            # Exact size: Lanczos (an x4 model asked for 2x is downsampled by 2 here).
            base = image if image.mode in ("RGB", "RGBA") else image.convert("RGB")
            image = base.resize(size, Image.Resampling.LANCZOS)
        return image

    def _model(self, upscaler: Upscaler) -> RRDBNet:
        """The loaded model (kept warm, at most WARM_MODELS); loads are serialised."""
        from pixelforge.engines.local import rrdbnet, runtime

        assert upscaler.entry is not None
        with self._lock:
            model = self._warm.get(upscaler.model_id)
            if model is None:
                model = rrdbnet.load(upscaler.entry.path, runtime.pick_device(self.device))
                self._warm[upscaler.model_id] = model
                while len(self._warm) > WARM_MODELS:
                    self._warm.popitem(last=False)
            self._warm.move_to_end(upscaler.model_id)
            return model

    def close(self) -> None:
        with self._lock:
            self._warm.clear()
