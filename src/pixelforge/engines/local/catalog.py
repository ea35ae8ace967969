"""What is in the models folder: pipelines, LoRAs and tiny autoencoders, found without torch.

The scan reads only JSON configs and safetensors headers, so ``pixelforge models`` works on
the base install and a bad file costs a few bytes of reading. Layouts:

- a diffusers folder (``model_index.json``): any pipeline diffusers ships, family from its class;
- a single ``.safetensors`` checkpoint in the original (LDM / BFL) layout: SD 1.x, SD 2.x, SDXL,
  SD3 or FLUX, recognised by its tensor names; its component configs come from a diffusers
  folder of the same family in the models folder;
- a LoRA file (``lora_`` / ``lora_A`` tensors), applied by name and weight;
- a tiny autoencoder folder (``AutoencoderTiny``: TAESD, TAESDXL, TAESD3, TAEF1) for previews;
- a super-resolution file of the RRDBNet family (ESRGAN, Real-ESRGAN x2/x4) for upscaling.

Subfolders that are none of these (``loras/``, ``checkpoints/``) are scanned one level down.
Anything unsafe or unloadable is listed in ``Catalog.rejected`` with the reason.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from pixelforge.engines.local.rrdb_shapes import config_from_shapes, is_rrdbnet, normalize_keys
from pixelforge.engines.local.safety import (
    PICKLE_SUFFIXES,
    SafetensorsFile,
    UnsafeModelError,
    read_safetensors,
)

Kind = Literal["pipeline", "lora", "tiny_vae", "upscaler"]
Layout = Literal["folder", "file"]

#: diffusers pipeline class -> family. Unlisted classes still load (family "other").
PIPELINE_FAMILIES = {
    "StableDiffusionPipeline": "sd", "StableDiffusionImg2ImgPipeline": "sd",
    "StableDiffusionInpaintPipeline": "sd", "StableDiffusionXLPipeline": "sdxl",
    "StableDiffusionXLImg2ImgPipeline": "sdxl", "StableDiffusionXLInpaintPipeline": "sdxl",
    "StableDiffusion3Pipeline": "sd3", "StableDiffusion3Img2ImgPipeline": "sd3",
    "StableDiffusion3InpaintPipeline": "sd3", "FluxPipeline": "flux",
    "FluxImg2ImgPipeline": "flux", "FluxInpaintPipeline": "flux", "SanaPipeline": "sana",
    "SanaSprintPipeline": "sana", "PixArtSigmaPipeline": "pixart",
    "PixArtAlphaPipeline": "pixart",
}  # fmt: skip
#: The text-to-image class that loads each single-file family.
SINGLE_FILE_PIPELINES = {
    "sd1": "StableDiffusionPipeline", "sd2": "StableDiffusionPipeline",
    "sdxl": "StableDiffusionXLPipeline", "sd3": "StableDiffusion3Pipeline",
    "flux": "FluxPipeline",
}  # fmt: skip
#: Native edge (square side) of each family when the configs do not say.
NATIVE_EDGE = {"sd1": 512, "sd2": 768, "sdxl": 1024, "sd3": 1024, "flux": 1024, "sana": 1024}
LIBRARIES = frozenset({"diffusers", "transformers"})
WEIGHT_SUFFIXES = PICKLE_SUFFIXES | {".safetensors"}
_LORA_MARKERS = ("lora_", ".lora_a.", ".lora_b.", ".lora_up.", ".lora_down.", ".lora.up.",
                 ".lora.down.", "lora_unet", "lora_te")  # fmt: skip
_NAME = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True, slots=True)
class ModelEntry:
    name: str
    kind: Kind
    layout: Layout
    path: Path
    family: str
    pipeline_class: str = ""
    variant: str = ""
    """``inpaint`` (a 9-channel inpainting UNet), ``turbo`` (few-step distilled) or empty."""
    native_edge: int = 1024
    vae_scale: int = 8
    parameters: int = 0
    size_bytes: int = 0
    config_dir: Path | None = None
    """Component configs: the folder itself, or a same-family donor for a single file."""


@dataclass(frozen=True, slots=True)
class Rejected:
    path: Path
    reason: str


@dataclass(frozen=True, slots=True)
class Catalog:
    root: Path
    entries: tuple[ModelEntry, ...] = ()
    rejected: tuple[Rejected, ...] = ()
    _by_name: dict[str, ModelEntry] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._by_name.update({e.name: e for e in self.entries})

    def of_kind(self, kind: Kind) -> list[ModelEntry]:
        return [e for e in self.entries if e.kind == kind]

    @property
    def pipelines(self) -> list[ModelEntry]:
        return self.of_kind("pipeline")

    @property
    def loras(self) -> list[ModelEntry]:
        return self.of_kind("lora")

    @property
    def tiny_vaes(self) -> list[ModelEntry]:
        return self.of_kind("tiny_vae")

    @property
    def upscalers(self) -> list[ModelEntry]:
        return self.of_kind("upscaler")

    def get(self, name: str) -> ModelEntry | None:
        return self._by_name.get(name)

    def tiny_vae_for(self, family: str) -> ModelEntry | None:
        """The tiny autoencoder that decodes ``family``'s latents, if one is installed."""
        want = "sd" if family in ("sd1", "sd2", "sd") else family
        return next((e for e in self.tiny_vaes if e.family == want), None)


def model_name(path: Path) -> str:
    """A model id from a file or folder name: the stem, with odd characters replaced."""
    stem = path.name if path.is_dir() else path.name.split(".")[0] or path.name
    return _NAME.sub("-", stem).strip("-.") or "model"


def _json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise UnsafeModelError(f"{path.name}: not readable JSON ({exc})") from None
    if not isinstance(data, dict):
        raise UnsafeModelError(f"{path.name}: not a JSON object")
    return data


def _is_lora(keys: list[str]) -> bool:
    return any(marker in key.lower() for key in keys[:2000] for marker in _LORA_MARKERS)


def checkpoint_family(st: SafetensorsFile) -> tuple[str, str]:
    """(family, variant) of an original-layout checkpoint from its tensor names and shapes."""
    keys = st.tensors
    unet_in = keys.get("model.diffusion_model.input_blocks.0.0.weight")
    variant = "inpaint" if unet_in is not None and len(unet_in.shape) > 1 and \
        unet_in.shape[1] == 9 else ""  # fmt: skip
    if "conditioner.embedders.1.model.positional_embedding" in keys or any(
        k.startswith("conditioner.embedders.1.model.") for k in keys
    ):
        return "sdxl", variant
    if "conditioner.embedders.0.model.text_projection" in keys:
        raise UnsafeModelError("an SDXL refiner is not a standalone model; load it as a folder")
    if any(k.endswith("joint_blocks.0.context_block.adaLN_modulation.1.bias") for k in keys):
        return "sd3", ""
    if any(k.endswith("double_blocks.0.img_attn.norm.key_norm.scale") for k in keys):
        return "flux", ""
    if unet_in is not None:
        if any(k.startswith("cond_stage_model.model.") for k in keys):
            return "sd2", variant
        if any(k.startswith("cond_stage_model.transformer.") for k in keys):
            return "sd1", variant
        raise UnsafeModelError("a UNet without its text encoder: not a whole checkpoint")
    raise UnsafeModelError(
        "not a checkpoint Pixelforge recognises (SD 1.x, SD 2.x, SDXL, SD3, FLUX in the original"
        " layout); use a diffusers-format folder for other models"
    )


def _lora_family(keys: list[str]) -> str:
    text = " ".join(keys[:4000])
    if "text_encoder_2" in text or "lora_te2_" in text:
        return "sdxl"
    if "single_transformer_blocks" in text or "double_blocks" in text:
        return "flux"
    if "joint_blocks" in text or "context_embedder" in text:
        return "sd3"
    return "sd"


def _is_turbo(name: str) -> bool:
    lowered = name.lower()
    return any(word in lowered for word in ("turbo", "lightning", "schnell", "sprint", "lcm"))


def _vae_scale(folder: Path) -> int:
    vae = folder / "vae" / "config.json"
    if vae.is_file():
        config = _json(vae)
        if config.get("_class_name") == "AutoencoderDC":
            return 32
        blocks = config.get("block_out_channels")
        if isinstance(blocks, list) and blocks:
            return int(2 ** (len(blocks) - 1))
    return 8


def _sample_size(folder: Path) -> int | None:
    for part in ("unet", "transformer"):
        config = folder / part / "config.json"
        if config.is_file():
            size = _json(config).get("sample_size")
            if isinstance(size, int):
                return size
            if isinstance(size, list) and size and isinstance(size[0], int):
                return int(size[0])
    return None


def _weights(folder: Path) -> tuple[list[Path], list[Path]]:
    """(safetensors, pickles) directly in ``folder``."""
    files = [p for p in folder.iterdir() if p.is_file()]
    safe = [p for p in files if p.name.endswith(".safetensors")]
    pickles = [p for p in files if p.suffix.lower() in PICKLE_SUFFIXES
               or (p.suffix.lower() == ".safetensors" and p not in safe)]  # fmt: skip
    return safe, pickles


def _pick_weights(safe: list[Path]) -> list[Path]:
    """The files a default load reads: without a variant (``.fp16``) when there are such."""
    plain = [p for p in safe if p.name.count(".") == 1 or "-of-" in p.name]
    return plain or safe


def _check_no_code(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.suffix.lower() in (".py", ".pyc", ".so", ".dll", ".dylib"):
            raise UnsafeModelError(
                f"contains code ({path.relative_to(folder)}); remote or custom code is never run"
            )


def _checked_component(folder: Path, name: str) -> tuple[int, int]:
    """Parameters and bytes of one component's weights; refuse pickles-only components."""
    if not folder.is_dir():
        return 0, 0
    safe, pickles = _weights(folder)
    if pickles and not safe:
        raise UnsafeModelError(
            f"component {name!r} has only pickle weights ({pickles[0].name}); only safetensors "
            "weights are loaded: convert them first"
        )
    parameters = size = 0
    for path in _pick_weights(safe):
        st = read_safetensors(path)
        parameters += st.parameters
        size += path.stat().st_size
    return parameters, size


def scan_pipeline_folder(folder: Path) -> ModelEntry:
    index = _json(folder / "model_index.json")
    _check_no_code(folder)
    cls = index.get("_class_name")
    if not isinstance(cls, str):
        raise UnsafeModelError("model_index.json names a custom pipeline; it is never loaded")
    parameters = size = 0
    for key, value in index.items():
        if key.startswith("_") or not isinstance(value, list):
            continue
        library = value[0] if value else None
        if library is None:
            continue
        if library not in LIBRARIES:
            raise UnsafeModelError(
                f"component {key!r} comes from library {library!r}; only diffusers and "
                "transformers components are loaded (custom code is never run)"
            )
        p, s = _checked_component(folder / key, key)
        parameters, size = parameters + p, size + s
    if parameters == 0:
        raise UnsafeModelError("no safetensors weights in the folder")
    family = PIPELINE_FAMILIES.get(cls, "other")
    if family == "sd":
        text = folder / "text_encoder" / "config.json"
        hidden = _json(text).get("hidden_size") if text.is_file() else None
        family = "sd2" if hidden == 1024 else "sd1"
    variant = "inpaint" if "Inpaint" in cls else "turbo" if _is_turbo(folder.name) else ""
    scale = _vae_scale(folder)
    sample = _sample_size(folder)
    native = sample * scale if sample and family in ("sd1", "sd2", "sdxl", "sd3", "other") \
        else NATIVE_EDGE.get(family, 1024)  # fmt: skip
    return ModelEntry(
        name=model_name(folder), kind="pipeline", layout="folder", path=folder, family=family,
        pipeline_class=cls, variant=variant, native_edge=native, vae_scale=scale,
        parameters=parameters, size_bytes=size, config_dir=folder,
    )  # fmt: skip


def scan_tiny_vae(folder: Path, config: dict[str, Any]) -> ModelEntry:
    _check_no_code(folder)
    parameters, size = _checked_component(folder, "tiny autoencoder")
    if parameters == 0:
        raise UnsafeModelError("no safetensors weights in the folder")
    name = folder.name.lower()
    if int(config.get("latent_channels", 4)) == 16:
        family = "sd3" if "sd3" in name else "flux"
    else:
        family = "sdxl" if "xl" in name else "sd"
    return ModelEntry(
        name=model_name(folder), kind="tiny_vae", layout="folder", path=folder, family=family,
        pipeline_class="AutoencoderTiny", parameters=parameters, size_bytes=size,
        config_dir=folder,
    )  # fmt: skip


def scan_file(path: Path) -> ModelEntry:
    st = read_safetensors(path)
    keys = list(st.tensors)
    size = path.stat().st_size
    name = model_name(path)
    if _is_lora(keys):
        return ModelEntry(
            name=name, kind="lora", layout="file", path=path, family=_lora_family(keys),
            parameters=st.parameters, size_bytes=size,
        )  # fmt: skip
    if is_rrdbnet(keys):
        names = normalize_keys(keys)
        config = config_from_shapes({names[k]: list(t.shape) for k, t in st.tensors.items()
                                     if k in names})  # fmt: skip
        return ModelEntry(
            name=name, kind="upscaler", layout="file", path=path, family="rrdbnet",
            variant=f"x{config.scale}", parameters=st.parameters, size_bytes=size,
        )  # fmt: skip
    family, variant = checkpoint_family(st)
    return ModelEntry(
        name=name, kind="pipeline", layout="file", path=path, family=family,
        pipeline_class=SINGLE_FILE_PIPELINES[family],
        variant=variant or ("turbo" if _is_turbo(name) else ""),
        native_edge=512 if family == "sd2" and _is_turbo(name) else NATIVE_EDGE[family],
        parameters=st.parameters, size_bytes=size,
    )  # fmt: skip


def scan_path(path: Path) -> ModelEntry | None:
    """The entry for one file or folder; None for a folder that holds no model itself."""
    if path.is_dir():
        if (path / "model_index.json").is_file():
            return scan_pipeline_folder(path)
        config = path / "config.json"
        if config.is_file():
            data = _json(config)
            if data.get("_class_name") == "AutoencoderTiny":
                return scan_tiny_vae(path, data)
            raise UnsafeModelError(
                f"a single {data.get('_class_name') or 'component'} is not a whole pipeline"
            )
        return None
    return scan_file(path)


def _families_match(donor: ModelEntry, entry: ModelEntry) -> bool:
    return donor.family == entry.family and donor.pipeline_class == entry.pipeline_class


def scan(root: Path) -> Catalog:
    """Everything under ``root`` (one level of plain subfolders deep), sorted by name."""
    entries: list[ModelEntry] = []
    rejected: list[Rejected] = []
    if not root.is_dir():
        return Catalog(root)
    candidates: list[Path] = []
    for path in sorted(root.iterdir()):
        if path.name.startswith("."):
            continue
        if path.is_dir() and not (path / "model_index.json").exists() and \
                not (path / "config.json").exists():  # fmt: skip
            candidates.extend(p for p in sorted(path.iterdir()) if not p.name.startswith("."))
        else:
            candidates.append(path)
    seen: dict[str, Path] = {}
    for path in candidates:
        if path.is_file() and path.suffix.lower() not in WEIGHT_SUFFIXES:
            continue  # READMEs, licences, sidecars
        try:
            entry = scan_path(path)
        except UnsafeModelError as exc:
            rejected.append(Rejected(path, str(exc).removeprefix(f"{path.name}: ")))
            continue
        if entry is None:
            continue
        if entry.name in seen:
            rejected.append(
                Rejected(path, f"the name {entry.name!r} is taken by {seen[entry.name]}")
            )
            continue
        seen[entry.name] = path
        entries.append(entry)
    folders = [e for e in entries if e.kind == "pipeline" and e.layout == "folder"]
    resolved: list[ModelEntry] = []
    for item in entries:
        if item.kind == "pipeline" and item.layout == "file":
            same = [d for d in folders if _families_match(d, item)]
            donors = [d for d in same if d.variant == item.variant] + \
                [d for d in same if d.variant != item.variant]  # fmt: skip
            if not donors:
                rejected.append(Rejected(item.path, (
                    f"a single-file {item.family} checkpoint needs its components' configs: put "
                    f"a diffusers-format {item.family} folder in the models folder"
                )))  # fmt: skip
                continue
            donor = donors[0]
            native = donor.native_edge if item.variant != "turbo" or donor.variant == "turbo" \
                else item.native_edge  # fmt: skip
            item = replace(item, config_dir=donor.path, native_edge=native,
                           vae_scale=donor.vae_scale)  # fmt: skip
        resolved.append(item)
    return Catalog(root, tuple(resolved), tuple(rejected))
