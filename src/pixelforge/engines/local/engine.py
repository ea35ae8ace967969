"""The ``diffusers`` engine: every pipeline in the models folder, behind the engine contract.

A model's capabilities come from its family (text-to-image, image-to-image with strength,
inpainting, negative prompts, schedulers). Each request is generated at the model's native
size for the requested aspect ratio (or at the requested size, rounded to the latent grid,
with ``generate_at="requested"``), then resized and centre-cropped to exactly the requested
size. Pipelines stay warm in a :class:`PipelineCache`; one request uses a pipeline at a time.
A brand kit reaches these models as prompt phrasing (``engines.base.brand_prompt``); they take
no image besides the one being edited, so a brand logo is not sent.
"""

from __future__ import annotations

import inspect
import io
import math
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from PIL import Image, ImageFilter, ImageOps

from pixelforge.domain import GenerationRequest, Mode, OutputFormat, Tier
from pixelforge.domain.sizes import ASPECT_RATIOS, MAX_SIDE, Size
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
    brand_prompt,
    seeds_for,
)
from pixelforge.engines.local import runtime
from pixelforge.engines.local.catalog import Catalog, ModelEntry, scan
from pixelforge.engines.local.options import LocalOptions
from pixelforge.errors import CapabilityError, allowed

N_MAX = 4
#: Above this many pixels the VAE decodes in tiles (bounded memory at 2K-4K).
TILING_PIXELS = 1536 * 1536
#: Latent -> RGB projection for 4-channel (SD-family) latents: cheap step previews when no
#: tiny autoencoder is installed. Rows: latent channels; columns: R, G, B.
LATENT_RGB = ((0.298, 0.207, 0.208), (0.187, 0.286, 0.173), (-0.158, 0.189, 0.264),
              (-0.184, -0.271, -0.473))  # fmt: skip
#: Default steps and guidance per family (few-step distilled models: 1-4 steps, no guidance).
DEFAULTS = {"sd1": (25, 7.0), "sd2": (25, 7.0), "sdxl": (30, 6.0), "sd3": (28, 7.0),
            "flux": (28, 3.5), "sana": (20, 4.5), "pixart": (20, 4.5), "other": (30, 5.0)}  # fmt: skip
TURBO_DEFAULTS = {"flux": (4, 0.0), "sana": (2, 4.5)}


def generation_size(out: Size, entry: ModelEntry, generate_at: str) -> tuple[int, int]:
    """The size the pipeline runs at: the model's native area in the output's aspect ratio
    (or the output size), on the latent grid."""
    step = max(16, 2 * entry.vae_scale)
    if generate_at == "requested":  # round up: crop a few pixels rather than upscale
        return math.ceil(out.width / step) * step, math.ceil(out.height / step) * step
    else:
        aspect = out.width / out.height
        w = math.sqrt(entry.native_edge**2 * aspect)
        h = w / aspect
    return max(step, round(w / step) * step), max(step, round(h / step) * step)


def _class_tasks(entry: ModelEntry) -> tuple[bool, bool, bool]:
    """(text-to-image, image-to-image, inpainting) support of the entry's pipeline family."""
    from diffusers.pipelines import auto_pipeline as ap

    mappings = (ap.AUTO_TEXT2IMAGE_PIPELINES_MAPPING, ap.AUTO_IMAGE2IMAGE_PIPELINES_MAPPING,
                ap.AUTO_INPAINT_PIPELINES_MAPPING)  # fmt: skip
    key = next((k for m in mappings for k, cls in m.items()
                if cls.__name__ == entry.pipeline_class), None)  # fmt: skip
    if key is None:
        return True, False, False
    return tuple(key in m for m in mappings)  # type: ignore[return-value]


def capabilities(entry: ModelEntry, device: torch.device) -> Capabilities:
    import diffusers

    t2i, i2i, inpaint = _class_tasks(entry)
    modes = set()
    if entry.variant == "inpaint":
        modes, inpaint = {Mode.EDIT}, True
    else:
        if t2i:
            modes.add(Mode.GENERATE)
        if i2i:
            modes |= {Mode.EDIT, Mode.VARIATION}
    if inpaint:
        modes.add(Mode.EDIT)
    cls = getattr(diffusers, entry.pipeline_class, None)
    params = inspect.signature(cls.__call__).parameters if cls is not None else {}
    turbo = entry.variant == "turbo"
    speed: SpeedClass = "fast" if turbo else "standard" if device.type != "cpu" else "slow"
    return Capabilities(
        modes=frozenset(modes), max_references=1 if modes - {Mode.GENERATE} else 0,
        mask=inpaint, aspect_ratios=frozenset(ASPECT_RATIOS), tiers=frozenset(Tier),
        explicit_sizes=True, max_pixels=MAX_SIDE * MAX_SIDE, max_edge=MAX_SIDE, n_max=N_MAX,
        deterministic_seed=True,
        negative_prompt="negative_prompt" in params and entry.family != "flux",
        transparent_background=False, formats=frozenset(OutputFormat), speed_class=speed,
        options_type=LocalOptions,
    )  # fmt: skip


def _describe(entry: ModelEntry) -> str:
    layout = "diffusers folder" if entry.layout == "folder" else "single file"
    variant = f" {entry.variant}" if entry.variant else ""
    return (f"local {entry.family}{variant} ({entry.pipeline_class}, {layout}, "
            f"{entry.parameters / 1e6:.0f}M parameters)")  # fmt: skip


class DiffusersEngine(Engine):
    name = "diffusers"

    def __init__(
        self, models_dir: Path, *, device: str = "auto", dtype: str = "auto",
        memory_budget_mb: int = 0, allow_downloads: bool = False, channels_last: bool = False,
        cache_dir: Path | None = None, tiling_pixels: int = TILING_PIXELS,
    ) -> None:  # fmt: skip
        runtime.hub_offline(allow_downloads)
        runtime.quiet_libraries()
        self.models_dir = models_dir
        self.device = runtime.pick_device(device)
        self.dtype = runtime.pick_dtype(self.device, dtype)
        self.allow_downloads = allow_downloads
        self.channels_last = channels_last
        self.tiling_pixels = tiling_pixels
        self.links = (cache_dir or models_dir / ".cache") / "links"
        self.cache = runtime.PipelineCache(
            runtime.memory_budget(self.device, memory_budget_mb), self._load,
            lambda e: runtime.estimate_bytes(e, self.dtype),
        )  # fmt: skip
        self._tiny: dict[str, Any] = {}
        self._tiny_lock = threading.Lock()
        self.catalog: Catalog = Catalog(models_dir)
        self._infos: dict[str, ModelInfo] = {}
        self.rescan()

    def rescan(self) -> Catalog:
        catalog = scan(self.models_dir)
        self._infos = {
            e.name: ModelInfo(e.name, self.name, _describe(e), capabilities(e, self.device))
            for e in catalog.pipelines
        }  # fmt: skip
        self.catalog = catalog
        return catalog

    def models(self) -> Sequence[ModelInfo]:
        return list(self._infos.values())

    # -- loading ----------------------------------------------------------------------------

    def _load(self, entry: ModelEntry) -> Any:
        pipe = runtime.load_pipeline(entry, self.device, self.dtype, self.links,
                                     self.allow_downloads)  # fmt: skip
        if self.channels_last:
            runtime.to_channels_last(pipe)
        return pipe

    def _tiny_vae(self, family: str) -> Any | None:
        entry = self.catalog.tiny_vae_for(family)
        if entry is None:
            return None
        with self._tiny_lock:
            if entry.name not in self._tiny:
                self._tiny[entry.name] = runtime.load_tiny_vae(entry, self.device, self.dtype)
            return self._tiny[entry.name]

    # -- checks -----------------------------------------------------------------------------

    def _check(self, entry: ModelEntry, request: GenerationRequest, opts: LocalOptions) -> None:
        def fail(param: str, message: str) -> CapabilityError:
            return CapabilityError(f"{param}: {message} (model {entry.name!r})", param=param)

        names = runtime.scheduler_names(entry.family)
        if opts.scheduler not in names:
            raise fail("options.scheduler",
                       f"{opts.scheduler!r} is not available; allowed: {allowed(names)}")  # fmt: skip
        for i, lora in enumerate(opts.loras):
            found = self.catalog.get(lora.name)
            if found is None or found.kind != "lora":
                raise fail(f"options.loras[{i}].name", f"{lora.name!r} is not an installed "
                           f"LoRA; allowed: {allowed(e.name for e in self.catalog.loras)}")  # fmt: skip
            family = "sd" if entry.family in ("sd1", "sd2") else entry.family
            if found.family != family:
                raise fail(f"options.loras[{i}].name", f"{lora.name!r} is a {found.family} LoRA;"
                           f" it does not fit a {entry.family} model")  # fmt: skip
        if opts.fast_decode and self.catalog.tiny_vae_for(entry.family) is None:
            raise fail("options.fast_decode", f"no tiny autoencoder for {entry.family} models is "
                       "installed; add one (a TAESD folder) to the models folder")  # fmt: skip
        if opts.strength is not None and request.mode is Mode.GENERATE:
            raise fail("options.strength", "applies to image-to-image (edit, variation) only")
        if entry.variant == "inpaint" and request.mask is None:
            raise fail("mask", "this is an inpainting model; it needs a mask")

    # -- running ----------------------------------------------------------------------------

    def check(self, request: GenerationRequest) -> None:
        super().check(request)
        entry = self.catalog.get(request.model)
        assert entry is not None  # super().check found the model
        opts = request.options if isinstance(request.options, LocalOptions) else LocalOptions()
        self._check(entry, request, opts)

    def run(
        self, request: GenerationRequest, progress: ProgressSink, cancel: CancelToken
    ) -> GenerationResult:
        entry = self.catalog.get(request.model)
        if entry is None:
            self.model(request.model)  # raises, naming the models there are
            raise AssertionError
        opts = request.options if isinstance(request.options, LocalOptions) else LocalOptions()
        turbo = entry.variant == "turbo"
        steps, guidance = (TURBO_DEFAULTS.get(entry.family, (1, 0.0)) if turbo
                           else DEFAULTS.get(entry.family, DEFAULTS["other"]))  # fmt: skip
        steps = opts.steps or steps
        guidance = guidance if opts.guidance is None else opts.guidance
        out = request.output_size
        width, height = generation_size(out, entry, opts.generate_at)
        seeds = seeds_for(request)
        if entry.name not in self.cache.names():
            progress(ProgressEvent("load", 0.0, f"loading {entry.name}"))
        warm = self.cache.get(entry)
        cancel.raise_if_cancelled()
        with warm.lock:
            task, kwargs, steps = self._task_inputs(request, opts, width, height, steps)
            pipe = self._task_pipe(warm, task)
            tiny = self._tiny_vae(entry.family) if opts.previews or opts.fast_decode else None
            try:
                self._configure(warm, pipe, opts, width * height, request.n, tiny)
                kwargs.update(
                    prompt=brand_prompt(request), num_inference_steps=steps, guidance_scale=guidance,
                    num_images_per_prompt=request.n, output_type="pil",
                    generator=[torch.Generator("cpu").manual_seed(s) for s in seeds],
                    callback_on_step_end=self._on_step(progress, cancel, opts, tiny, pipe),
                    callback_on_step_end_tensor_inputs=["latents"],
                )  # fmt: skip
                if request.negative_prompt:
                    kwargs["negative_prompt"] = request.negative_prompt
                with torch.inference_mode():
                    images = pipe(**kwargs).images
            finally:
                self._restore(warm, pipe)
        progress(ProgressEvent("decode", 0.98, "resizing to the requested size"))
        finished = [_fit(image, out) for image in images]
        if request.mask is not None:
            finished = [_keep_unmasked(image, request) for image in finished]
        info = {"family": entry.family, "steps": str(steps), "guidance": f"{guidance:g}",
                "scheduler": opts.scheduler, "generated_size": f"{width}x{height}",
                "dtype": str(self.dtype).removeprefix("torch."), "device": self.device.type}  # fmt: skip
        if opts.loras:
            info["loras"] = ",".join(f"{x.name}:{x.weight:g}" for x in opts.loras)
        if opts.fast_decode:
            info["decoder"] = "tiny"
        if width * height > self.tiling_pixels:
            info["vae_tiling"] = "on"
        results = tuple(
            GeneratedImage(image, seed, info=info)
            for image, seed in zip(finished, seeds, strict=True)
        )  # fmt: skip
        progress(ProgressEvent("done", 1.0, "done"))
        return GenerationResult(request.model, results)

    def _task_inputs(
        self, request: GenerationRequest, opts: LocalOptions, width: int, height: int, steps: int
    ) -> tuple[str, dict[str, Any], int]:
        if request.mode is Mode.GENERATE:
            return "text2img", {"width": width, "height": height}, steps
        source = Image.open(io.BytesIO(request.references[0].image.data)).convert("RGB")
        init = ImageOps.fit(source, (width, height), Image.Resampling.LANCZOS)
        if request.mask is not None:
            alpha = Image.open(io.BytesIO(request.mask.data)).convert("RGBA").getchannel("A")
            area = alpha.point(lambda a: 255 if a == 0 else 0)
            mask = ImageOps.fit(area, (width, height), Image.Resampling.NEAREST)
            strength = opts.strength if opts.strength is not None else 1.0
            kwargs = {"image": init, "mask_image": mask, "strength": strength,
                      "width": width, "height": height}  # fmt: skip
            task = "inpaint"
        else:
            default = 0.55 if request.mode is Mode.VARIATION else 0.75
            strength = opts.strength if opts.strength is not None else default
            kwargs = {"image": init, "strength": strength}
            task = "img2img"
        # image-to-image runs int(steps * strength) steps: keep at least one
        return task, kwargs, max(steps, math.ceil(1 / strength - 1e-9))

    def _task_pipe(self, warm: runtime.WarmPipeline, task: str) -> Any:
        import diffusers

        if task not in warm.tasks:
            auto = {"text2img": diffusers.AutoPipelineForText2Image,
                    "img2img": diffusers.AutoPipelineForImage2Image,
                    "inpaint": diffusers.AutoPipelineForInpainting}[task]  # fmt: skip
            is_task = {"text2img": "Img2Img" not in warm.entry.pipeline_class and
                       "Inpaint" not in warm.entry.pipeline_class,
                       "img2img": "Img2Img" in warm.entry.pipeline_class,
                       "inpaint": "Inpaint" in warm.entry.pipeline_class}[task]  # fmt: skip
            if is_task:
                pipe = warm.pipe
            else:
                pipe = auto.from_pipe(warm.pipe)
                pipe.set_progress_bar_config(disable=True)
            warm.tasks[task] = pipe
        return warm.tasks[task]

    def _configure(
        self, warm: runtime.WarmPipeline, pipe: Any, opts: LocalOptions, pixels: int, n: int,
        tiny: Any | None,
    ) -> None:  # fmt: skip
        if opts.scheduler != "default":
            pipe.scheduler = runtime.make_scheduler(opts.scheduler, warm.default_scheduler.config)
        if opts.fast_decode and tiny is not None:
            pipe.vae = tiny
        vae = pipe.vae
        if hasattr(vae, "enable_tiling"):
            (vae.enable_tiling if pixels > self.tiling_pixels else vae.disable_tiling)()
        if hasattr(vae, "enable_slicing"):
            (vae.enable_slicing if n > 1 else vae.disable_slicing)()
        base = warm.pipe
        if opts.loras:
            if not hasattr(base, "load_lora_weights"):
                raise CapabilityError(
                    f"options.loras: model {warm.entry.name!r} does not take LoRAs",
                    param="options.loras",
                )
            for lora in opts.loras:
                if lora.name not in warm.loras:
                    found = self.catalog.get(lora.name)
                    assert found is not None
                    base.load_lora_weights(runtime.load_lora_state(found), adapter_name=lora.name)
                    warm.loras.add(lora.name)
            base.enable_lora()
            base.set_adapters([x.name for x in opts.loras], [x.weight for x in opts.loras])
        elif warm.loras:
            base.disable_lora()

    def _restore(self, warm: runtime.WarmPipeline, pipe: Any) -> None:
        if warm.default_scheduler is not None:
            pipe.scheduler = warm.default_scheduler
        if warm.vae is not None:
            pipe.vae = warm.vae

    def _on_step(
        self, progress: ProgressSink, cancel: CancelToken, opts: LocalOptions,
        tiny: Any | None, pipe: Any,
    ) -> Any:  # fmt: skip
        def on_step(_: Any, i: int, __: Any, tensors: dict[str, Any]) -> dict[str, Any]:
            cancel.raise_if_cancelled()
            total = max(1, int(getattr(pipe, "num_timesteps", 0) or 0) or i + 1)
            done = i + 1
            preview = None
            every = max(1, total // 8)
            if opts.previews and done < total and done % every == 0:
                preview = _preview(tensors.get("latents"), tiny)
            progress(ProgressEvent("denoise", 0.05 + 0.9 * done / total,
                                   f"step {done}/{total}", preview=preview))  # fmt: skip
            return tensors

        return on_step


def _fit(image: Image.Image, out: Size) -> Image.Image:
    image = image.convert("RGB")
    if image.size == (out.width, out.height):
        return image
    return ImageOps.fit(image, (out.width, out.height), Image.Resampling.LANCZOS)


def _keep_unmasked(image: Image.Image, request: GenerationRequest) -> Image.Image:
    """Inpainting changes the masked area only: everything else is the input image's pixels
    (the mask edge is feathered by a few pixels so the seam does not show)."""
    assert request.mask is not None
    size = image.size
    source = Image.open(io.BytesIO(request.references[0].image.data)).convert("RGB")
    original = ImageOps.fit(source, size, Image.Resampling.LANCZOS)
    alpha = Image.open(io.BytesIO(request.mask.data)).convert("RGBA").getchannel("A")
    edit = ImageOps.fit(alpha.point(lambda a: 255 if a == 0 else 0), size,
                        Image.Resampling.LANCZOS)  # fmt: skip
    radius = max(1, round(min(size) / 256))
    edit = edit.filter(ImageFilter.MaxFilter(2 * radius + 1)).filter(
        ImageFilter.GaussianBlur(radius)
    )
    return Image.composite(image, original, edit)


def _preview(latents: Any, tiny: Any | None) -> Image.Image | None:
    """A small picture of the first image's latents: the tiny autoencoder's decode, or a
    linear projection for 4-channel latents; None for packed (FLUX-style) latents."""
    if not isinstance(latents, torch.Tensor) or latents.ndim != 4:
        return None
    first = latents[:1]
    with torch.inference_mode():
        if tiny is not None and first.shape[1] == tiny.config.latent_channels:
            rgb = tiny.decode(first.to(tiny.dtype)).sample[0].float().clamp(-1, 1)
            rgb = (rgb + 1) / 2
        elif first.shape[1] == len(LATENT_RGB):
            factors = torch.tensor(LATENT_RGB, dtype=torch.float32, device=first.device)
            rgb = torch.einsum("chw,cr->rhw", first[0].float(), factors)
            rgb = ((rgb + 1) / 2).clamp(0, 1)
        else:
            return None
    array = (rgb.permute(1, 2, 0).cpu().numpy() * 255).round().astype("uint8")
    return Image.fromarray(array)
