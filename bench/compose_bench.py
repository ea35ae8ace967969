"""Compose engine: time per image vs the raw rasterizer call on the same SVG.

For each prompt kind and tier, in one interleaved run:
- ``engine``: ``ComposeEngine.generate`` from the prompt (parse, layout, shape, rasterize);
- ``raster``: the raw rasterizer on the very same scene (Skia SVGDOM render of the scene's
  SVG documents, plus drawing the input image for the product card);
- ``engine+png`` / ``raster+png``: the same, then encoded as PNG (Pillow, zlib level 1).
The overhead ratio is engine / raster. Run: ``make bench`` or ``python bench/compose_bench.py``.
"""

from __future__ import annotations

import io
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable

import numpy as np
from PIL import Image

from pixelforge.domain import GenerationRequest, ImageInput, Reference, Tier
from pixelforge.domain.request import Mode, ReferenceRole
from pixelforge.engines.compose.engine import ComposeEngine, focus_point
from pixelforge.engines.compose.icons import IconSet
from pixelforge.engines.compose.layout import Designer
from pixelforge.engines.compose.render import render_scene
from pixelforge.engines.compose.text import FontLibrary
from pixelforge.postprocess.encode import DEFAULT_PNG_LEVEL

RUNS = {Tier.T1K: 15, Tier.T2K: 7, Tier.T4K: 5}


def product_photo() -> ImageInput:
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:1024, 0:1024]
    base = np.stack([xx / 4, yy / 4, (xx + yy) / 8], axis=-1)
    noisy = np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(noisy, "RGB").save(buf, "JPEG", quality=90)
    return ImageInput(buf.getvalue(), 1024, 1024, "jpeg", "product.jpg")


CASES: list[tuple[str, str, str, bool]] = [
    ("poster, Korean text", 'Korean ramen poster with the tagline "진짜 맛있는 라면" bold '
     "sans-serif, warm lighting mood", "4:5", False),
    ("infographic, bar chart", 'Infographic "Top 5 economies by GDP (USD trillion)" United '
     "States 28.8, China 18.5, Germany 4.6, Japan 4.2, India 3.9", "16:9", False),
    ("product card, input image", 'Product card "Trail Runner X" subtitle "Light as air" '
     'CTA "Buy now"', "1:1", True),
]  # fmt: skip


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "PNG", compress_level=DEFAULT_PNG_LEVEL)
    return buf.getvalue()


def main() -> None:
    engine = ComposeEngine(FontLibrary(), IconSet())
    photo = product_photo()
    rows = []
    for label, prompt, aspect, with_image in CASES:
        refs = (Reference(photo, ReferenceRole.PRODUCT),) if with_image else ()
        for tier, runs in RUNS.items():
            request = GenerationRequest(
                prompt=prompt, aspect_ratio=aspect, tier=tier, seed=11, references=refs,
                mode=Mode.EDIT if with_image else Mode.GENERATE,
            )  # fmt: skip
            brief = engine.brief_for(request)
            focus = focus_point(photo.data) if with_image else (0.5, 0.5)
            scene = Designer(
                brief, request.output_size, 11, engine.fonts, engine.icons,
                hero=photo if with_image else None, focus=focus,
            ).design()  # fmt: skip
            engine.generate(request)  # warm caches: fonts, glyphs, icons
            times: dict[str, list[float]] = {k: [] for k in ("engine", "raster", "e+png", "r+png")}
            for _ in range(runs):
                times["engine"].append(timed(lambda: engine.generate(request)))  # noqa: B023
                times["raster"].append(timed(lambda: render_scene(scene)))  # noqa: B023
                times["e+png"].append(timed(lambda: png(engine.generate(request).images[0].image)))  # noqa: B023
                times["r+png"].append(timed(lambda: png(render_scene(scene))))  # noqa: B023
            med = {k: statistics.median(v) for k, v in times.items()}
            size = request.output_size
            rows.append({
                "case": label, "tier": tier.value, "size": str(size), "runs": runs, **med,
                "ratio": med["engine"] / med["raster"], "ratio_png": med["e+png"] / med["r+png"],
            })  # fmt: skip
    print(f"machine: {platform.machine()}, {platform.python_version()}, "
          f"{sys.platform}, cpus={__import__('os').cpu_count()}")  # fmt: skip
    print("| case | tier | size | runs | engine ms | raw raster ms | ratio | engine+PNG ms "
          "| raster+PNG ms | ratio |")  # fmt: skip
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['case']} | {r['tier']} | {r['size']} | {r['runs']} | {r['engine']:.1f} | "
              f"{r['raster']:.1f} | {r['ratio']:.2f} | {r['e+png']:.1f} | {r['r+png']:.1f} | "
              f"{r['ratio_png']:.2f} |")  # fmt: skip
    print(json.dumps(rows), file=sys.stderr)


if __name__ == "__main__":
    main()
