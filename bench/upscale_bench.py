"""Upscaling: classical vs RRDBNet super-resolution, time per output megapixel, and the peak
memory of tiled vs untiled super-resolution.

The RRDBNet is random-weight but has the REAL Real-ESRGAN x4plus architecture (23 RRDB blocks,
64 features, 32 growth channels, 16.7M parameters), so its compute per pixel is the real
model's; only the pictures are noise. It is saved as safetensors to a temp folder and served
by the engine like any installed model.

Timing (one process, interleaved A B C D ... after one warm-up call each, medians), each case
through ``UpscaleEngine.generate`` (PNG decode of the input included), input a 128x128 photo-like
image (smooth gradients, edges, noise), 4x:

- **lanczos**: Pillow's Lanczos resize alone (the baseline of the classical path);
- **classical**: ``upscale/classical`` (Lanczos + edge-aware, halo-free sharpening);
- **rrdbnet**: ``upscale/x4plus`` with the default tile (192: the 128 px input is one tile);
- **rrdbnet, tile 64**: 4 tiles with a 16 px overlap (the tiling overhead);
- **classical 1024**: a 1024x1024 input to 4096x4096 (16.8 MP out), for a large-image rate.

Memory: each super-resolution configuration runs once in a fresh subprocess on a 256x256
input (1024x1024 out) and reports the peak resident memory it added (``ru_maxrss`` minus the
resident size before the call, model and input already loaded) and the largest activation
tensor any layer produced (forward hooks).

Run: ``.venv/bin/python bench/upscale_bench.py [--runs 5]`` (part of ``make bench``).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from safetensors.torch import save_file

from pixelforge.domain import GenerationRequest, ImageInput, Mode, Reference
from pixelforge.engines.local.rrdb_shapes import RRDBConfig
from pixelforge.engines.local.rrdbnet import RRDBNet
from pixelforge.engines.upscale import CLASSICAL, UpscaleEngine, UpscaleOptions

X4PLUS = RRDBConfig(scale=4, blocks=23, features=64, growth=32)


def save_x4plus(folder: Path) -> Path:
    """A random-weight Real-ESRGAN x4plus (Real-ESRGAN's own init scale: 0.1 x Kaiming)."""
    torch.manual_seed(0)
    model = RRDBNet(X4PLUS)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.Conv2d):
                torch.nn.init.kaiming_normal_(module.weight)
                module.weight.mul_(0.1)
                module.bias.zero_()
    path = folder / "x4plus.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    return path


def photo(side: int, seed: int = 0) -> Image.Image:
    """Smooth gradients, a few hard edges and a little noise: what an upscaler meets."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:side, 0:side] / side
    base = np.stack([160 + 80 * np.sin(6 * x), 120 + 90 * y, 200 - 120 * x * y], axis=-1)
    base[(x - 0.5) ** 2 + (y - 0.5) ** 2 < 0.06] = (30, 40, 60)
    base[int(side * 0.7) :, : int(side * 0.3)] = (240, 240, 230)
    base += rng.normal(0, 3, base.shape)
    return Image.fromarray(np.clip(base, 0, 255).astype(np.uint8), "RGB")


def request(image: Image.Image, model: str) -> GenerationRequest:
    buf = io.BytesIO()
    image.save(buf, "PNG")
    ref = Reference(ImageInput(buf.getvalue(), image.width, image.height, "png"))
    return GenerationRequest("", model=model, mode=Mode.EDIT, references=(ref,),
                             options=UpscaleOptions(factor=4))  # fmt: skip


def timed(cases: dict[str, Callable[[], object]], runs: int) -> dict[str, list[float]]:
    for run in cases.values():
        run()  # warm-up: model load, first-call allocations
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(runs):
        for name, run in cases.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return times


def rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def memory_child(model_path: str, tile: int, overlap: int) -> None:
    """One super-resolution call on a 256x256 input; prints its added peak RSS (JSON)."""
    from pixelforge.engines.local import rrdbnet

    model = rrdbnet.load(Path(model_path))
    image = photo(256, seed=1)
    largest = [0]

    def seen(_m: object, _i: object, out: object) -> None:
        if isinstance(out, torch.Tensor):
            largest[0] = max(largest[0], out.numel() * out.element_size())

    for module in model.modules():
        module.register_forward_hook(seen)
    before = rss_bytes()
    start = time.perf_counter()
    out = rrdbnet.upscale(model, image, tile=tile, overlap=overlap)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"size": out.size, "added_peak": peak - before,
                      "largest_activation": largest[0], "seconds": seconds}))  # fmt: skip


def memory(model_path: Path) -> list[tuple[str, dict[str, float]]]:
    rows = []
    for label, tile, overlap in (("untiled", 1024, 0), ("tile 192", 192, 16), ("tile 64", 64, 16)):
        done = subprocess.run(
            [sys.executable, __file__, "--memory-child", str(model_path), str(tile), str(overlap)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        rows.append((label, json.loads(done.stdout.strip().splitlines()[-1])))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--memory-child", nargs=3, metavar=("MODEL", "TILE", "OVERLAP"))
    args = parser.parse_args()
    if args.memory_child:
        path, tile, overlap = args.memory_child
        memory_child(path, int(tile), int(overlap))
        return
    print(f"python {platform.python_version()}, torch {torch.__version__}, "
          f"{os.cpu_count()} CPUs, {torch.get_num_threads()} torch threads")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        model_path = save_x4plus(Path(tmp))
        engine = UpscaleEngine(Path(tmp), device="cpu")
        tiled = UpscaleEngine(Path(tmp), device="cpu", tile=64, overlap=16)
        small, large = photo(128), photo(1024, seed=2)
        small_req, large_req = request(small, CLASSICAL), request(large, CLASSICAL)
        sr_req = request(small, "upscale/x4plus")
        cases: dict[str, Callable[[], object]] = {
            "lanczos 128->512": lambda: small.resize((512, 512), Image.Resampling.LANCZOS),
            "classical 128->512": lambda: engine.generate(small_req),
            "rrdbnet x4plus 128->512": lambda: engine.generate(sr_req),
            "rrdbnet x4plus 128->512, tile 64": lambda: tiled.generate(sr_req),
            "lanczos 1024->4096": lambda: large.resize((4096, 4096), Image.Resampling.LANCZOS),
            "classical 1024->4096": lambda: engine.generate(large_req),
        }
        times = timed(cases, args.runs)
        print("\n| case | runs | median s | MP out | s per MP out |\n|---|---:|---:|---:|---:|")
        for name, samples in times.items():
            out_side = 4096 if "4096" in name else 512
            mp = out_side * out_side / 1e6
            med = statistics.median(samples)
            print(f"| {name} | {len(samples)} | {med:.3f} | {mp:.2f} | {med / mp:.3f} |")
        print("\n| super-resolution 256->1024 | added peak RSS MB | largest activation MB | s |")
        print("|---|---:|---:|---:|")
        for label, row in memory(model_path):
            print(f"| {label} | {row['added_peak'] / 2**20:.0f} | "
                  f"{row['largest_activation'] / 2**20:.0f} | {row['seconds']:.1f} |")  # fmt: skip


if __name__ == "__main__":
    main()
