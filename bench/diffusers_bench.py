"""diffusers engine: time per image vs a plain diffusers script, same pipeline, one process.

The pipeline is random-weight but has the REAL architecture (every layer, width and head count)
of SD-Turbo (SD 2.1-base family: 866M-parameter UNet, 84M SD VAE, 340M OpenCLIP ViT-H text
tower), so the compute per image is the real model's; only the pictures are noise. It is built
once (seeded, safetensors, fp16 on disk) under ``bench/.cache/models/`` with a random-weight
TAESD (``AutoencoderTiny``, the real TAESD config) beside it, and both sides load that folder.

Cases, timed interleaved (A B C ... A B C ...) after one warm-up call each, 1 step, guidance 0,
one image per call:

- **A plain**: ``StableDiffusionPipeline.from_pretrained(folder, dtype=float32)`` and
  ``pipe(prompt, num_inference_steps=1, guidance_scale=0.0, height, width, generator)``;
- **B engine**: ``DiffusersEngine(models)`` (the same float32: an overhead measurement) with
  ``LocalOptions(steps=1, guidance=0.0)`` (previews on, the default; full VAE decode);
- **C engine + speedups**: ``DiffusersEngine(models, channels_last=True)``, dtype ``auto``
  (bf16 only where the CPU computes bf16 natively, else float32) and ``fast_decode=True``
  (the tiny autoencoder decodes);
- extras (``--no-extras`` skips them): **D** = B's engine with ``fast_decode=True`` (TAESD
  alone) and **E** = C's engine with ``fast_decode=False`` (channels_last and dtype alone).

Targets: B/A <= 1.05 (our overhead), A/C >= 2 (our speedups vs the plain script's defaults).
``--device cuda`` repeats it on a GPU at SD-Turbo 512x512 and SDXL 1024x1024 (random weights,
the real SDXL base UNet, VAE and two text encoders) and reports images/s; there A is the
usual GPU script (float16), B the engine at float16, C the engine's ``auto`` dtype (bf16
where supported) with channels_last and TAESD/TAESDXL; without a GPU it says so and exits 0.

Run: ``HF_HUB_OFFLINE=1 .venv/bin/python bench/diffusers_bench.py [--runs 5] [--device cuda]``.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import os
import platform
import pstats
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing here may touch the hub

import numpy as np
import torch
from PIL import Image

from pixelforge.domain import GenerationRequest
from pixelforge.domain.sizes import Size
from pixelforge.engines.local.engine import DiffusersEngine
from pixelforge.engines.local.options import LocalOptions
from pixelforge.engines.local.runtime import cpu_has_bf16

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "engines" / "local"))
from tiny_pipelines import clip_tokenizer

CACHE = Path(__file__).resolve().parent / ".cache"
BUILD_VERSION = 1  # bump when a builder changes: the cached folders are rebuilt
PROMPT = "a photo of a cat sitting on a red chair in the sun, highly detailed, sharp focus"
SD_TURBO = "sd-turbo-random"
SDXL = "sdxl-random"
TAESD = "taesd"
TAESDXL = "taesdxl"
VOCAB = 49408  # CLIP's vocabulary size: the real embedding tables' size

# ----------------------------------------------------------------------------------------------
# Random-weight pipelines with the real architectures
# ----------------------------------------------------------------------------------------------


def _text_config(tokenizer: Any, **config: Any) -> Any:
    from transformers import CLIPTextConfig

    return CLIPTextConfig(
        vocab_size=VOCAB,
        max_position_embeddings=77,
        layer_norm_eps=1e-5,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        **config,
    )


def _sd_vae(scaling_factor: float, sample_size: int) -> Any:
    """The SD KL autoencoder (SD 1.x/2.x/SDXL share it; only the scaling factor differs)."""
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        block_out_channels=(128, 256, 512, 512),
        layers_per_block=2,
        act_fn="silu",
        latent_channels=4,
        norm_num_groups=32,
        sample_size=sample_size,
        scaling_factor=scaling_factor,
        force_upcast=True,
    )


def _save(pipe: Any, out: Path, tmp: Path) -> None:
    """fp16 safetensors; the tokenizer folder(s) rewritten with the classic vocab/merges too."""
    pipe.to(dtype=torch.float16)
    pipe.save_pretrained(tmp, safe_serialization=True)
    for name in ("tokenizer", "tokenizer_2"):
        if (tmp / name).is_dir():
            clip_tokenizer(tmp / name)
    tmp.rename(out)


def _tokenizer(scratch: Path) -> Any:
    from transformers import CLIPTokenizer

    return CLIPTokenizer.from_pretrained(clip_tokenizer(scratch))


def build_sd_turbo(out: Path, device: str, seed: int = 0) -> None:
    """stabilityai/sd-turbo's configs (UNet, VAE, text encoder, scheduler), random weights."""
    from diffusers import StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextModel

    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tokenizer = _tokenizer(tmp / "tokenizer")
    with torch.device(device):
        torch.manual_seed(seed)
        unet = UNet2DConditionModel(
            sample_size=64,  # 512 px: SD-Turbo's native size
            in_channels=4,
            out_channels=4,
            down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
            up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3,
            block_out_channels=(320, 640, 1280, 1280),
            layers_per_block=2,
            attention_head_dim=(5, 10, 20, 20),
            cross_attention_dim=1024,
            use_linear_projection=True,
            norm_num_groups=32,
            act_fn="silu",
        )
        torch.manual_seed(seed + 1)
        vae = _sd_vae(0.18215, 768)
        torch.manual_seed(seed + 2)
        text_encoder = CLIPTextModel(  # OpenCLIP ViT-H/14's text tower as SD 2.x uses it
            _text_config(
                tokenizer,
                hidden_size=1024,
                intermediate_size=4096,
                num_hidden_layers=23,
                num_attention_heads=16,
                hidden_act="gelu",
                projection_dim=512,
            )
        )
    scheduler = _euler("trailing")
    pipe = StableDiffusionPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    _save(pipe, out, tmp)


def _euler(spacing: str) -> Any:
    """EulerDiscrete as SD 2.x/SDXL ship it (SD-Turbo: ``trailing`` spacing; SDXL: ``leading``)."""
    from diffusers import EulerDiscreteScheduler

    return EulerDiscreteScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
        num_train_timesteps=1000, steps_offset=1, timestep_spacing=spacing,
        interpolation_type="linear", prediction_type="epsilon", use_karras_sigmas=False,
    )  # fmt: skip


def build_sdxl(out: Path, device: str, seed: int = 0) -> None:
    """stabilityai/stable-diffusion-xl-base-1.0's configs, random weights."""
    from diffusers import StableDiffusionXLPipeline, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTextModelWithProjection

    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tokenizer = _tokenizer(tmp / "tokenizer")
    with torch.device(device):
        torch.manual_seed(seed)
        unet = UNet2DConditionModel(
            sample_size=128,  # 1024 px
            in_channels=4,
            out_channels=4,
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
            block_out_channels=(320, 640, 1280),
            layers_per_block=2,
            transformer_layers_per_block=(1, 2, 10),
            attention_head_dim=(5, 10, 20),
            cross_attention_dim=2048,
            use_linear_projection=True,
            addition_embed_type="text_time",
            addition_time_embed_dim=256,
            projection_class_embeddings_input_dim=2816,
            norm_num_groups=32,
            act_fn="silu",
        )
        torch.manual_seed(seed + 1)
        vae = _sd_vae(0.13025, 1024)
        torch.manual_seed(seed + 2)
        text_encoder = CLIPTextModel(  # CLIP ViT-L/14
            _text_config(
                tokenizer,
                hidden_size=768,
                intermediate_size=3072,
                num_hidden_layers=12,
                num_attention_heads=12,
                hidden_act="quick_gelu",
                projection_dim=768,
            )
        )
        torch.manual_seed(seed + 3)
        text_encoder_2 = CLIPTextModelWithProjection(  # OpenCLIP ViT-bigG/14
            _text_config(
                tokenizer,
                hidden_size=1280,
                intermediate_size=5120,
                num_hidden_layers=32,
                num_attention_heads=20,
                hidden_act="gelu",
                projection_dim=1280,
            )
        )
    scheduler = _euler("leading")
    pipe = StableDiffusionXLPipeline(
        vae=vae,
        text_encoder=text_encoder,
        text_encoder_2=text_encoder_2,
        tokenizer=tokenizer,
        tokenizer_2=tokenizer,
        unet=unet,
        scheduler=scheduler,
        add_watermarker=False,
    )
    _save(pipe, out, tmp)


def build_taesd(out: Path, device: str, seed: int = 0) -> None:
    """A random-weight ``AutoencoderTiny`` with the default (= the real TAESD/TAESDXL) config."""
    from diffusers import AutoencoderTiny

    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    with torch.device(device):
        torch.manual_seed(seed)
        vae = AutoencoderTiny()
    vae.save_pretrained(tmp, safe_serialization=True)
    tmp.rename(out)


BUILDERS: dict[str, Callable[[Path, str], None]] = {
    SD_TURBO: build_sd_turbo,
    SDXL: build_sdxl,
    TAESD: build_taesd,
    TAESDXL: build_taesd,
}


def ensure(models: Path, name: str, device: str) -> Path:
    """The cached folder ``models/name``, built (seeded) first if missing or stale."""
    out = models / name
    marker = models.parent / f"{name}.built.json"
    stamp = {"version": BUILD_VERSION, "diffusers": _version("diffusers")}
    if out.is_dir() and marker.is_file() and json.loads(marker.read_text()) == stamp:
        return out
    shutil.rmtree(out, ignore_errors=True)
    models.mkdir(parents=True, exist_ok=True)
    print(f"building {name} (random weights, real architecture) in {out} ...", flush=True)
    start = time.perf_counter()
    BUILDERS[name](out, device)
    marker.write_text(json.dumps(stamp))
    gc.collect()
    print(f"  built in {time.perf_counter() - start:.0f} s", flush=True)
    return out


def _version(module: str) -> str:
    return str(__import__(module).__version__)


# ----------------------------------------------------------------------------------------------
# Cases and timing
# ----------------------------------------------------------------------------------------------


@dataclass
class Case:
    key: str
    label: str
    dtype: str
    call: Callable[[int], Image.Image]
    times: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.times)


def plain_case(
    key: str, folder: Path, pipeline: str, dtype: torch.dtype, device: str, steps: int, edge: int
) -> Case:
    """What a plain diffusers script does: load the folder, call the pipeline."""
    import diffusers

    pipe = getattr(diffusers, pipeline).from_pretrained(str(folder), dtype=dtype).to(device)
    pipe.set_progress_bar_config(disable=True)  # the engine reports progress its own way

    def call(seed: int) -> Image.Image:
        generator = torch.Generator().manual_seed(seed)
        return pipe(
            PROMPT,
            num_inference_steps=steps,
            guidance_scale=0.0,
            height=edge,
            width=edge,
            generator=generator,
        ).images[0]

    label = f"plain diffusers script ({str(dtype).removeprefix('torch.')})"
    return Case(key, label, str(dtype).removeprefix("torch."), call)


def engine_case(
    key: str, label: str, engine: DiffusersEngine, model: str, steps: int, edge: int, fast: bool
) -> Case:
    options = LocalOptions(steps=steps, guidance=0.0, fast_decode=fast)

    def call(seed: int) -> Image.Image:
        request = GenerationRequest(
            prompt=PROMPT, model=model, size=Size(edge, edge), seed=seed, options=options
        )
        return engine.generate(request).images[0].image

    return Case(key, label, str(engine.dtype).removeprefix("torch."), call)


def timed(call: Callable[[int], Image.Image], seed: int, device: str) -> tuple[float, Image.Image]:
    if device == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    image = call(seed)
    if device == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start, image


def run_interleaved(cases: list[Case], runs: int, warmup: int, device: str) -> None:
    """Warm-up calls, then ``runs`` rounds of one call per case (same seed within a round;
    odd rounds in reverse order, so no case always follows the same one)."""
    first: dict[str, Image.Image] = {}
    for case in cases:
        for i in range(warmup):
            seconds, image = timed(case.call, 0, device)
            first.setdefault(case.key, image)
            print(f"  warm-up {case.key} #{i + 1}: {seconds:.2f} s", flush=True)
    if "A" in first and "B" in first:  # same seed, same dtype: the engine did the same work
        a, b = (np.asarray(first[k], dtype=np.int16) for k in ("A", "B"))
        print(f"  A vs B pixels, seed 0: max |diff| = {int(np.abs(a - b).max())}", flush=True)
    for r in range(runs):
        for case in cases if r % 2 == 0 else cases[::-1]:
            seconds, _ = timed(case.call, r + 1, device)
            case.times.append(seconds)
        row = "  ".join(f"{c.key} {c.times[-1]:.2f}" for c in cases)
        print(f"  run {r + 1}/{runs}: {row} s", flush=True)


def machine(device: str) -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    text = (
        f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), diffusers {_version('diffusers')}, "
        f"transformers {_version('transformers')}, Python {platform.python_version()}, "
        f"native CPU bf16: {'yes' if cpu_has_bf16() else 'no'}"
    )
    if device == "cuda":
        text += f", GPU {torch.cuda.get_device_name(0)}"
    return text


def report(title: str, cases: list[Case], edge: int, steps: int, runs: int) -> dict[str, Any]:
    """The table, and the two target ratios three ways: ratio of the medians (the headline),
    median of the per-round ratios, and ratio of the fastest calls (another process busy on
    the same cores only ever adds time, so the fastest call is the least disturbed one)."""
    by = {c.key: c for c in cases}
    base = by["A"].median
    print(f"\n### {title}: {edge}x{edge}, {steps} step(s), median of {runs} interleaved runs\n")
    print("| case | dtype | median s/image | fastest s | images/s (median) | vs plain (A) |")
    print("|---|---|---:|---:|---:|---:|")
    for c in cases:
        print(
            f"| {c.key}: {c.label} | {c.dtype} | {c.median:.2f} | {min(c.times):.2f} | "
            f"{1 / c.median:.3f} | {c.median / base:.3f}x time ({base / c.median:.2f}x speed) |"
        )

    def ratios(num: str, den: str) -> tuple[float, float, float]:
        a, b = by[num].times, by[den].times
        rounds = [x / y for x, y in zip(a, b, strict=True)]
        return (
            statistics.median(a) / statistics.median(b),
            statistics.median(rounds),
            min(a) / min(b),
        )

    overhead = ratios("B", "A")
    speedup = ratios("A", "C")
    print(
        f"\nB/A (engine overhead, target <= 1.05): {overhead[0]:.3f} "
        f"-> {'met' if overhead[0] <= 1.05 else 'MISSED'}; median per-round ratio "
        f"{overhead[1]:.3f}, fastest/fastest {overhead[2]:.3f}"
    )
    print(
        f"A/C (speedups vs plain defaults, target >= 2): {speedup[0]:.2f}x "
        f"-> {'met' if speedup[0] >= 2 else 'MISSED'}; median per-round ratio "
        f"{speedup[1]:.2f}x, fastest/fastest {speedup[2]:.2f}x"
    )
    return {
        "title": title,
        "size": edge,
        "steps": steps,
        "runs": runs,
        "overhead_B_over_A": overhead,
        "speedup_A_over_C": speedup,
        "cases": {c.key: {"label": c.label, "dtype": c.dtype, "times": c.times} for c in cases},
    }


def profile_engine(case: Case, calls: int) -> None:
    """cProfile a few calls of one case: where the time outside the pipeline goes."""
    profiler = cProfile.Profile()
    profiler.enable()
    for i in range(calls):
        case.call(100 + i)
    profiler.disable()
    stats = pstats.Stats(profiler, stream=sys.stdout)
    print(f"\n### cProfile of {calls} call(s) of {case.key} ({case.label}), by cumulative time\n")
    stats.sort_stats("cumulative").print_stats(35)


# ----------------------------------------------------------------------------------------------
# Main
# ----------------------------------------------------------------------------------------------


def bench_model(
    args: argparse.Namespace,
    models: Path,
    device: str,
    model: str,
    pipeline: str,
    edge: int,
    engines: tuple[DiffusersEngine, DiffusersEngine],
) -> dict[str, Any]:
    engine_b, engine_c = engines
    plain_dtype = torch.float32 if device == "cpu" else torch.float16
    cases = [
        plain_case("A", models / model, pipeline, plain_dtype, device, args.steps, edge),
        engine_case("B", "engine, defaults", engine_b, model, args.steps, edge, False),
        engine_case(
            "C",
            "engine + speedups (auto dtype, channels_last, TAESD decode)",
            engine_c,
            model,
            args.steps,
            edge,
            True,
        ),
    ]
    if args.extras:
        cases += [
            engine_case("D", "engine + TAESD decode only", engine_b, model, args.steps, edge, True),
            engine_case(
                "E",
                "engine + auto dtype and channels_last only",
                engine_c,
                model,
                args.steps,
                edge,
                False,
            ),
        ]
    print(f"\n{model} ({pipeline}) at {edge}x{edge} on {device}:", flush=True)
    run_interleaved(cases, args.runs, args.warmup, device)
    result = report(f"{model} on {device}", cases, edge, args.steps, args.runs)
    if args.profile:
        profile_engine(cases[1], args.profile)
        profile_engine(cases[0], args.profile)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="timed calls per case (default 5)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed calls per case first")
    parser.add_argument("--steps", type=int, default=1, help="denoising steps (default 1)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument(
        "--no-extras",
        dest="extras",
        action="store_false",
        help="skip D (TAESD alone) and E (channels_last/dtype alone)",
    )
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="CALLS",
        help="afterwards, cProfile CALLS calls of B and of A",
    )
    parser.add_argument("--cache", type=Path, default=CACHE, help="where the models are built")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    device = args.device
    if device == "cuda" and not torch.cuda.is_available():
        print(
            "--device cuda: no GPU is available here (torch.cuda.is_available() is False); "
            "skipping the GPU benchmark."
        )
        return
    models = args.cache / ("models" if device == "cpu" else "models-cuda")
    ensure(models, SD_TURBO, device)
    ensure(models, TAESD, device)
    if device == "cuda":
        ensure(models, SDXL, device)
        ensure(models, TAESDXL, device)
    gc.collect()

    print(f"machine: {machine(device)}")
    speed_dtype = "auto"
    base_dtype = "float32" if device == "cpu" else "float16"  # = the plain script's
    engine_b = DiffusersEngine(models, device=device, dtype=base_dtype)
    engine_c = DiffusersEngine(models, device=device, dtype=speed_dtype, channels_last=True)
    found = {m.id for m in engine_b.models()}
    entry = engine_b.catalog.get(SD_TURBO)
    if SD_TURBO not in found or entry is None:
        raise SystemExit(
            f"the engine did not pick up {SD_TURBO!r}: it lists {sorted(found)}, "
            f"rejected {engine_b.catalog.rejected}"
        )
    tiny = engine_b.catalog.tiny_vae_for(entry.family)
    print(
        f"engine models: {sorted(found)}; {SD_TURBO}: family {entry.family}, variant "
        f"{entry.variant or '-'}, native {entry.native_edge} px, {entry.parameters / 1e6:.0f}M "
        f"parameters; tiny autoencoder: {tiny.name if tiny else None}; engine C dtype: "
        f"{str(engine_c.dtype).removeprefix('torch.')}"
    )

    results = [
        bench_model(
            args, models, device, SD_TURBO, "StableDiffusionPipeline", 512, (engine_b, engine_c)
        )
    ]
    if device == "cuda":
        for engine in (engine_b, engine_c):
            engine.cache.clear()
        gc.collect()
        torch.cuda.empty_cache()
        results.append(
            bench_model(
                args, models, device, SDXL, "StableDiffusionXLPipeline", 1024, (engine_b, engine_c)
            )
        )
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(device), "results": results}))


if __name__ == "__main__":
    main()
