"""Provenance: watermark robustness, and the output chain's time against a bare encode.

Part 1, robustness: ``compose`` designs (the design briefs, at three aspect ratios) and
photo-like textures, each watermarked with a random id, then attacked: JPEG quality 75, a
resize to 50%, a 10% crop (5% off each side, off-centre), a WebP re-encode (quality 80), and
the resize followed by JPEG 75. A detection counts only when the exact id comes back.

Part 1b, the sweep that finds rare misses: many 512 px ``compose`` posters, each marked with
several random ids and re-encoded as JPEG quality 80 and 60: exact reads, reads that needed the
soft-decision repair, misses, wrong ids, the sync strength of marked vs unmarked images and
the detection time; ``--against REV`` runs the detector of git revision ``REV`` on the same
images beside this one.

Part 2, chain time, interleaved in one run per image: ``render`` (compose at the tier),
``bare`` (Pillow's PNG encode of the same image at our zlib level, no metadata) and ``chain``
(the full output chain: text overlay when the request asks for it, watermark, encode with
metadata, C2PA signature). The target: render + chain <= 1.15 x (render + bare) at 1K.

Run: ``make bench`` or ``python bench/provenance_bench.py [--quick] [--against REV]``.
"""

from __future__ import annotations

import io
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
import types
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from pixelforge.domain import GenerationRequest
from pixelforge.domain.overlay import TextOverlay
from pixelforge.domain.sizes import Size
from pixelforge.engines.base import CancelToken, no_progress
from pixelforge.engines.compose.engine import ComposeEngine
from pixelforge.engines.compose.icons import IconSet
from pixelforge.engines.compose.text import FontLibrary
from pixelforge.postprocess import watermark
from pixelforge.postprocess.chain import OutputChain
from pixelforge.postprocess.encode import DEFAULT_PNG_LEVEL
from pixelforge.postprocess.provenance import ContentCredentials, development_identity
from pixelforge.services.generate import encode_result

BRIEFS = (
    Path(__file__).resolve().parent.parent / "tests" / "engines" / "compose" / "design-briefs.txt"
)


def briefs() -> list[str]:
    lines = BRIEFS.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def photo(seed: int, size: tuple[int, int]) -> Image.Image:
    rng = np.random.default_rng(seed)
    w, h = size
    y, x = np.mgrid[0:h, 0:w]
    waves = [128 + 60 * np.sin(x / rng.uniform(30, 90) + c) + 40 * np.cos(y / rng.uniform(30, 90))
             for c in range(3)]  # fmt: skip
    pixels = np.stack(waves, -1) + rng.normal(0, 14, (h, w, 3))
    im = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    return im.filter(ImageFilter.GaussianBlur(1.2))


def reencode(im: Image.Image, fmt: str, quality: int) -> Image.Image:
    buf = io.BytesIO()
    im.convert("RGB").save(buf, fmt, quality=quality)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def half(im: Image.Image) -> Image.Image:
    return im.resize((im.width // 2, im.height // 2), Image.Resampling.LANCZOS)


def crop10(im: Image.Image) -> Image.Image:
    w, h = im.size
    left, top = int(w * 0.04), int(h * 0.06)
    return im.crop((left, top, w - (int(w * 0.10) - left), h - (int(h * 0.10) - top)))


ATTACKS: dict[str, Callable[[Image.Image], Image.Image]] = {
    "none": lambda im: im,
    "JPEG q75": lambda im: reencode(im, "JPEG", 75),
    "resize 50%": half,
    "crop 10%": crop10,
    "WebP q80": lambda im: reencode(im, "WEBP", 80),
    "resize 50% + JPEG q75": lambda im: reencode(half(im), "JPEG", 75),
}


def robustness(engine: ComposeEngine, quick: bool) -> None:
    texts = briefs()[: 8 if quick else 24]
    images: list[tuple[str, Image.Image]] = []
    for i, text in enumerate(texts):
        size = (Size(1024, 1024), Size(1024, 576), Size(816, 1024))[i % 3]
        request = GenerationRequest(prompt=text, size=size, seed=i)
        images.append(("design", engine.run(request, no_progress, CancelToken()).images[0].image))
    for i in range(4 if quick else 12):
        images.append(("photo", photo(i, ((1024, 768), (768, 1024), (1024, 1024))[i % 3])))
    rng = random.Random(7)
    hits = {(kind, name): 0 for kind in ("design", "photo") for name in ATTACKS}
    counts = {"design": 0, "photo": 0}
    false_positives = 0
    psnrs = []
    for kind, image in images:
        mark_id = rng.randrange(1, 2**32)
        marked = watermark.embed(image.convert("RGB"), mark_id)
        a, b = np.asarray(image.convert("RGB"), np.float64), np.asarray(marked, np.float64)
        psnrs.append(10 * np.log10(255**2 / max(np.mean((a - b) ** 2), 1e-9)))
        counts[kind] += 1
        for name, attack in ATTACKS.items():
            hits[kind, name] += watermark.detect(attack(marked)).id == mark_id
        false_positives += watermark.detect(image).id is not None
    print(f"\nWatermark robustness ({counts['design']} designs, {counts['photo']} photo-like; "
          f"median PSNR {statistics.median(psnrs):.1f} dB; false positives on the unmarked "
          f"originals: {false_positives})\n")  # fmt: skip
    print("| attack | designs detected | photo-like detected | all |")
    print("|---|---|---|---|")
    for name in ATTACKS:
        d, p = hits["design", name], hits["photo", name]
        total = counts["design"] + counts["photo"]
        print(f"| {name} | {d}/{counts['design']} | {p}/{counts['photo']} | "
              f"{100 * (d + p) / total:.0f}% |")  # fmt: skip


def detector_at(rev: str) -> Callable[[Image.Image], watermark.Detection]:
    """``detect`` as it was at git revision ``rev``, loaded beside this one (a side-by-side
    baseline: same images, same process)."""
    source = subprocess.run(
        ["git", "show", f"{rev}:src/pixelforge/postprocess/watermark.py"],
        check=True, capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1],
    ).stdout  # fmt: skip
    module = types.ModuleType(f"watermark_{rev}")
    sys.modules[module.__name__] = module  # dataclasses look their module up
    exec(compile(source, f"{rev}:watermark.py", "exec"), module.__dict__)
    detect: Callable[[Image.Image], watermark.Detection] = module.detect
    return detect


def sweep(engine: ComposeEngine, quick: bool, against: str | None, quality: int) -> None:
    designs, ids_per = (12, 4) if quick else (60, 8)
    detectors: dict[str, Callable[[Image.Image], watermark.Detection]] = {
        "this tree": watermark.detect
    }
    if against:
        detectors[against] = detector_at(against)
    rng = random.Random(11)
    rows = {name: dict.fromkeys(("read", "repaired", "missed", "wrong", "false"), 0)
            for name in detectors}  # fmt: skip
    marked_sync: list[float] = []
    unmarked_sync: list[float] = []
    times: dict[str, list[float]] = {name: [] for name in detectors}
    for seed in range(designs):
        request = GenerationRequest(prompt="Poster", size=Size(512, 512), seed=seed)
        image = engine.run(request, no_progress, CancelToken()).images[0].image.convert("RGB")
        plain = reencode(image, "JPEG", quality)
        marks = [rng.randrange(1, 2**32) for _ in range(ids_per)]
        attacked = [reencode(watermark.embed(image, m), "JPEG", quality) for m in marks]
        for name, detect in detectors.items():
            row = rows[name]
            unmarked = detect(plain)
            row["false"] += unmarked.id is not None
            if name == "this tree":
                unmarked_sync.append(unmarked.sync)
            for mark_id, candidate in zip(marks, attacked, strict=True):
                start = time.perf_counter()
                found = detect(candidate)
                times[name].append(time.perf_counter() - start)
                corrected = getattr(found, "corrected", 0)
                row["read"] += found.id == mark_id and corrected == 0
                row["repaired"] += found.id == mark_id and corrected > 0
                row["missed"] += found.id is None
                row["wrong"] += found.id is not None and found.id != mark_id
                if name == "this tree":
                    marked_sync.append(found.sync)
    print(f"\nWatermark sweep: {designs} 512 px posters x {ids_per} ids, JPEG q{quality}; sync of the "
          f"marks min {min(marked_sync):.1f}, median {statistics.median(marked_sync):.1f}; "
          f"of the unmarked max {max(unmarked_sync):.1f}\n")  # fmt: skip
    print("| detector | marked | read | repaired | missed | wrong id | false ids (unmarked) | "
          "detect median ms |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for name, row in rows.items():
        print(f"| {name} | {designs * ids_per} | {row['read']} | {row['repaired']} | "
              f"{row['missed']} | {row['wrong']} | {row['false']} of {designs} | "
              f"{1000 * statistics.median(times[name]):.0f} |")  # fmt: skip


def chain_time(engine: ComposeEngine, quick: bool) -> None:
    with tempfile.TemporaryDirectory() as home:
        chain = OutputChain(ContentCredentials(development_identity(Path(home))), watermark=True)
        print("\nOutput chain vs bare encode (PNG, interleaved, median ms)\n")
        print("| chain | tier | size | runs | render | bare encode | chain | chain - bare | "
              "(render+chain)/(render+bare) |")  # fmt: skip
        print("|---|---|---|---|---|---|---|---|---|")
        prompt = 'Poster for a jazz night, headline "BLUE NOTE", subtitle "Friday 8 PM"'
        overlay = TextOverlay(headline="Doors 7 PM", cta="Tickets $25")
        cases = [
            (label, size, runs, text)
            for size, runs in ((Size(1024, 1024), 5 if quick else 21),
                               (Size(4096, 4096), 2 if quick else 5))
            for label, text in (("watermark + C2PA + encode", None),
                                ("overlay + watermark + C2PA + encode", overlay))
        ]  # fmt: skip
        for label, size, runs, text in cases:
            request = GenerationRequest(prompt=prompt, size=size, seed=1, text_overlay=text)
            render, bare, full = [], [], []
            for _ in range(runs):
                started = time.perf_counter()
                result = engine.run(request, no_progress, CancelToken())
                rendered = time.perf_counter()
                result.images[0].image.save(io.BytesIO(), "PNG", compress_level=DEFAULT_PNG_LEVEL)
                encoded = time.perf_counter()
                encode_result(request, result, chain)
                chained = time.perf_counter()
                render.append((rendered - started) * 1000)
                bare.append((encoded - rendered) * 1000)
                full.append((chained - encoded) * 1000)
            r, b, c = (statistics.median(x) for x in (render, bare, full))
            print(f"| {label} | {size.width // 1024}K | {size.width}x{size.height} | {runs} | {r:.1f} | "
                  f"{b:.1f} | {c:.1f} | {c - b:.1f} | {(r + c) / (r + b):.3f} |")  # fmt: skip


def main() -> None:
    quick = "--quick" in sys.argv
    print(
        f"machine: {platform.processor() or platform.machine()}, Python {platform.python_version()}"
    )
    engine = ComposeEngine(FontLibrary(), IconSet())
    chain_time(engine, quick)
    robustness(engine, quick)
    against = sys.argv[sys.argv.index("--against") + 1] if "--against" in sys.argv else None
    for quality in (80, 60):
        sweep(engine, quick, against, quality)


if __name__ == "__main__":
    main()
