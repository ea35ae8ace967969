"""The torch side of local models: device and dtype, safe loading, warm pipelines, schedulers.

Import this module only where torch and diffusers are installed (the ``local`` extra).
"""

from __future__ import annotations

import gc
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from pixelforge.engines.local.catalog import ModelEntry
from pixelforge.engines.local.safety import UnsafeModelError, no_pickle_loading, read_safetensors
from pixelforge.errors import EngineError

log = logging.getLogger(__name__)


def hub_offline(allow_downloads: bool) -> None:
    """Turn Hugging Face hub access off for this process unless the admin enabled downloads."""
    if not allow_downloads:
        os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("DISABLE_TELEMETRY", "1")


def quiet_libraries() -> None:
    """diffusers and transformers log progress bars and advice; the engine reports its own."""
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")
    import diffusers
    import transformers

    diffusers.utils.logging.set_verbosity_error()
    diffusers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()


# -- device and dtype ---------------------------------------------------------------------


def cpu_has_bf16() -> bool:
    """True where the CPU computes bf16 natively (AVX512-BF16 or AMX); emulated bf16 is slower."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


def pick_device(preference: str = "auto") -> torch.device:
    if preference != "auto":
        return torch.device(preference)
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def pick_dtype(device: torch.device, preference: str = "auto") -> torch.dtype:
    """CUDA: bf16 where supported, else fp16; MPS: fp16; CPU: bf16 where native, else fp32."""
    if preference != "auto":
        return DTYPES[preference]
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "mps":
        return torch.float16
    return torch.bfloat16 if cpu_has_bf16() else torch.float32


def memory_budget(device: torch.device, megabytes: int = 0) -> int:
    """Bytes the warm models may hold: the setting, else 85% of the GPU or 50% of the RAM."""
    if megabytes > 0:
        return megabytes * 1024 * 1024
    if device.type == "cuda":
        return int(torch.cuda.get_device_properties(device).total_memory * 0.85)
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):
        pages = 16 * 1024**3
    return int(pages * 0.5)


def estimate_bytes(entry: ModelEntry, dtype: torch.dtype) -> int:
    """Memory of a loaded pipeline: its parameter count at the load dtype."""
    width = torch.empty((), dtype=dtype).element_size()
    return entry.parameters * width


# -- schedulers ---------------------------------------------------------------------------

#: Sampler names users choose, for UNet (noise-prediction) pipelines.
SCHEDULERS: dict[str, tuple[str, dict[str, Any]]] = {
    "euler": ("EulerDiscreteScheduler", {}),
    "euler_a": ("EulerAncestralDiscreteScheduler", {}),
    "dpmpp_2m": ("DPMSolverMultistepScheduler", {}),
    "dpmpp_2m_karras": ("DPMSolverMultistepScheduler", {"use_karras_sigmas": True}),
    "ddim": ("DDIMScheduler", {}),
    "pndm": ("PNDMScheduler", {}),
    "heun": ("HeunDiscreteScheduler", {}),
    "unipc": ("UniPCMultistepScheduler", {}),
    "lcm": ("LCMScheduler", {}),
}
#: Flow-matching pipelines (SD3, FLUX, SANA) keep their own scheduler.
FLOW_FAMILIES = frozenset({"sd3", "flux", "sana"})


def scheduler_names(family: str) -> tuple[str, ...]:
    return ("default",) if family in FLOW_FAMILIES else ("default", *SCHEDULERS)


def make_scheduler(name: str, default_config: Any) -> Any:
    import diffusers

    cls_name, extra = SCHEDULERS[name]
    cls = getattr(diffusers, cls_name)
    return cls.from_config(default_config, **extra)


# -- loading ------------------------------------------------------------------------------


def _single_file_path(entry: ModelEntry, links: Path) -> Path:
    """A path diffusers reads with safetensors: the file, or a ``.safetensors`` link to it.

    diffusers picks its reader by suffix, so a safetensors file named ``.ckpt`` (or
    ``.SAFETENSORS``) is loaded through a link whose name ends in ``.safetensors``.
    """
    if entry.path.name.endswith(".safetensors"):
        return entry.path
    links.mkdir(parents=True, exist_ok=True)
    link = links / f"{entry.name}.safetensors"
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(entry.path.resolve())
    return link


def load_pipeline(
    entry: ModelEntry, device: torch.device, dtype: torch.dtype, links: Path,
    allow_downloads: bool = False,
) -> Any:  # fmt: skip
    """Load ``entry`` from safetensors only, with no hub access and no remote code."""
    import diffusers

    read_safetensors(entry.path) if entry.layout == "file" else None
    local_only = not allow_downloads
    try:
        with no_pickle_loading():
            if entry.layout == "folder":
                pipe = diffusers.DiffusionPipeline.from_pretrained(
                    str(entry.path), dtype=dtype, use_safetensors=True,
                    local_files_only=local_only,
                )  # fmt: skip
            else:
                cls = getattr(diffusers, entry.pipeline_class)
                pipe = cls.from_single_file(
                    str(_single_file_path(entry, links)),
                    config=str(entry.config_dir) if entry.config_dir else None,
                    dtype=dtype, local_files_only=local_only,
                )  # fmt: skip
    except UnsafeModelError:
        raise
    except (OSError, ValueError, KeyError, RuntimeError, TypeError) as exc:
        raise EngineError(f"model {entry.name!r} failed to load: {exc}") from None
    if hasattr(pipe, "safety_checker") and getattr(pipe, "safety_checker", None) is not None:
        pipe.safety_checker = None
    pipe.to(device)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def load_tiny_vae(entry: ModelEntry, device: torch.device, dtype: torch.dtype) -> Any:
    import diffusers

    with no_pickle_loading():
        vae = diffusers.AutoencoderTiny.from_pretrained(
            str(entry.path), dtype=dtype, use_safetensors=True, local_files_only=True
        )
    return vae.to(device).eval()


def load_lora_state(entry: ModelEntry) -> dict[str, torch.Tensor]:
    """A LoRA's tensors, read by the safetensors library whatever the file is named."""
    from safetensors.torch import load_file

    read_safetensors(entry.path)
    return load_file(str(entry.path))


def to_channels_last(pipe: Any) -> None:
    for name in ("unet", "vae", "transformer"):
        module = getattr(pipe, name, None)
        if isinstance(module, torch.nn.Module):
            module.to(memory_format=torch.channels_last)  # type: ignore[call-overload]


# -- warm pipelines -----------------------------------------------------------------------


@dataclass
class WarmPipeline:
    """A loaded pipeline and what has been attached to it, used by one request at a time."""

    entry: ModelEntry
    pipe: Any
    size: int
    lock: threading.Lock = field(default_factory=threading.Lock)
    tasks: dict[str, Any] = field(default_factory=dict)
    loras: set[str] = field(default_factory=set)
    default_scheduler: Any = None
    vae: Any = None


class PipelineCache:
    """Pipelines stay loaded until the memory budget needs room; then the least recently used
    idle one is evicted."""

    def __init__(self, budget: int, loader: Callable[[ModelEntry], Any],
                 estimate: Callable[[ModelEntry], int]) -> None:  # fmt: skip
        self.budget = budget
        self._loader = loader
        self._estimate = estimate
        self._warm: OrderedDict[str, WarmPipeline] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[str, threading.Lock] = {}
        self.loads = 0
        self.evictions = 0

    @property
    def used(self) -> int:
        return sum(w.size for w in self._warm.values())

    def names(self) -> list[str]:
        """Warm models, least recently used first."""
        with self._lock:
            return list(self._warm)

    def get(self, entry: ModelEntry) -> WarmPipeline:
        with self._lock:
            warm = self._warm.get(entry.name)
            if warm is not None and warm.entry == entry:
                self._warm.move_to_end(entry.name)
                return warm
            gate = self._loading.setdefault(entry.name, threading.Lock())
        with gate:  # one load per model, however many requests arrive for it at once
            with self._lock:
                warm = self._warm.get(entry.name)
                if warm is not None and warm.entry == entry:
                    self._warm.move_to_end(entry.name)
                    return warm
                self._make_room(self._estimate(entry), entry.name)
            pipe = self._loader(entry)
            warm = WarmPipeline(entry, pipe, self._estimate(entry))
            warm.default_scheduler = getattr(pipe, "scheduler", None)
            warm.vae = getattr(pipe, "vae", None)
            with self._lock:
                self._warm[entry.name] = warm
                self.loads += 1
            return warm

    def _make_room(self, needed: int, name: str) -> None:
        self._warm.pop(name, None)  # a changed file on disk: reload it
        for victim in list(self._warm):
            if self.used + needed <= self.budget:
                break
            warm = self._warm[victim]
            if not warm.lock.acquire(blocking=False):
                continue  # in use: it stays until its request ends
            try:
                del self._warm[victim]
                self.evictions += 1
                log.info("evicted %s (%d MB) to make room", victim, warm.size >> 20)
            finally:
                warm.lock.release()
            warm.pipe = None
            warm.tasks.clear()
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        if self.used + needed > self.budget:
            log.warning(
                "model %s needs %d MB; warm models hold %d MB of a %d MB budget",
                name, needed >> 20, self.used >> 20, self.budget >> 20,
            )  # fmt: skip

    def clear(self) -> None:
        with self._lock:
            self._warm.clear()
        gc.collect()
