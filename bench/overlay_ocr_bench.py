"""Text overlay: OCR read-back per script over the 100-case suite, and time per image.

1. The suite of ``tests/overlay_ocr.py`` (10 text sets in 7 scripts x 2 canvas sizes x 5
   backgrounds; character accuracy after NFKC with whitespace removed; see that module for how
   tesseract is helped): a table per script of cases, characters, edits and accuracy.
2. ``TextOverlayer.apply`` (layout: five candidate regions for ``auto``, fitting, contrast, then
   drawing) on a photo-like image at 1K and 4K, auto and a fixed position, interleaved with
   Pillow's PNG encode of the same image (zlib level 1, our default) for scale; medians.

Run: ``make bench`` or ``python bench/overlay_ocr_bench.py``.
"""

from __future__ import annotations

import io
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from PIL import Image

import overlay_ocr
from pixelforge.domain import TextOverlay
from pixelforge.engines.compose.text import FontLibrary
from pixelforge.postprocess.encode import DEFAULT_PNG_LEVEL
from pixelforge.postprocess.overlay import TextOverlayer

SIZES = {"1K": (1024, 768), "4K": (4096, 3072)}
RUNS = {"1K": 15, "4K": 5}
TEXT = {"headline": "Summer Sale 50% OFF", "subtitle": "Fresh espresso until midnight",
        "labels": ("From $9.49",), "cta": "Order now"}  # fmt: skip


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def ocr_table(overlayer: TextOverlayer) -> None:
    started = time.perf_counter()
    readings = overlay_ocr.run(overlay_ocr.cases(), overlayer)
    seconds = time.perf_counter() - started
    print(f"OCR suite: {len({r.case.id for r in readings})} cases, {len(readings)} texts, "
          f"{seconds:.1f} s")  # fmt: skip
    print("| script | tesseract | cases | characters | edits | accuracy |")
    print("|---|---|---:|---:|---:|---:|")
    for script, (cases, chars, errors, acc) in overlay_ocr.by_script(readings).items():
        lang = overlay_ocr.SCRIPTS[script][0]
        print(f"| {script} | {lang} | {cases} | {chars} | {errors} | {acc:.2%} |")
    chars, errors, acc = overlay_ocr.accuracy(readings)
    print(f"| **all** | | {len({r.case.id for r in readings})} | {chars} | {errors} | "
          f"**{acc:.2%}** |")  # fmt: skip
    for r in readings:
        if r.errors:
            print(f"  misread: {r.case.id} {r.role}: {r.expected!r} -> {r.read!r}")


def timing_table(overlayer: TextOverlayer) -> None:
    print()
    print("| size | pixels | runs | overlay auto ms | overlay fixed ms | PNG encode ms |")
    print("|---|---|---:|---:|---:|---:|")
    auto = TextOverlay(**TEXT)  # type: ignore[arg-type]
    fixed = TextOverlay(**TEXT, position="bottom")  # type: ignore[arg-type]
    for name, size in SIZES.items():
        image = overlay_ocr.background("photo-like", size)
        overlayer.apply(image, auto)  # warm-up: fonts, shaping caches

        def encode(picture: Image.Image = image) -> None:
            picture.save(io.BytesIO(), "PNG", compress_level=DEFAULT_PNG_LEVEL)

        times: dict[str, list[float]] = {"auto": [], "fixed": [], "png": []}
        for _ in range(RUNS[name]):
            times["auto"].append(timed(lambda i=image: overlayer.apply(i, auto)))
            times["fixed"].append(timed(lambda i=image: overlayer.apply(i, fixed)))
            times["png"].append(timed(encode))
        med = {k: statistics.median(v) for k, v in times.items()}
        print(f"| {name} | {size[0]}x{size[1]} | {RUNS[name]} | {med['auto']:.1f} | "
              f"{med['fixed']:.1f} | {med['png']:.1f} |")  # fmt: skip


def main() -> None:
    print(f"Python {platform.python_version()}, {platform.machine()}, {platform.processor()}")
    overlayer = TextOverlayer(FontLibrary())
    ocr_table(overlayer)
    timing_table(overlayer)


if __name__ == "__main__":
    main()
