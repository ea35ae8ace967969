"""Generate: resolve the model, run it, encode the results, write them atomically."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pixelforge.domain import GenerationRequest, Mode
from pixelforge.engines.base import (
    CancelToken,
    GenerationResult,
    ProgressSink,
    no_progress,
)
from pixelforge.engines.registry import ModelRegistry
from pixelforge.postprocess.chain import BARE, OutputChain
from pixelforge.postprocess.overlay import TextOverlayer, overlay_metadata, with_overlay_svg
from pixelforge.postprocess.provenance import Ingredient, sniff_format


@dataclass(frozen=True, slots=True)
class EncodedImage:
    data: bytes
    seed: int
    extension: str
    svg: str | None
    metadata: dict[str, str]
    width: int = 0
    height: int = 0
    watermark_id: int | None = None


#: The ``info`` key of an engine's conversation state (multi-turn editing). It is kept on the
#: asset, not written into the file: it is state for the next request, not a description.
TURN_KEY = "turn"


def metadata_for(request: GenerationRequest, seed: int, info: dict[str, str]) -> dict[str, str]:
    """What goes into the file: the request's own fields, never settings or secrets."""
    size = request.output_size
    meta = {
        "prompt": request.prompt,
        "model": request.model,
        "seed": str(seed),
        "size": f"{size.width}x{size.height}",
        "mode": request.mode.value,
        "aspect_ratio": request.aspect_ratio if request.size is None else "",
        "quality": request.quality.value,
        "generator": "Pixelforge",
    }
    if request.negative_prompt:
        meta["negative prompt"] = request.negative_prompt
    meta.update(info)
    meta.pop(TURN_KEY, None)
    return {k: v for k, v in meta.items() if v}


def ingredients_of(request: GenerationRequest, original: bytes | None) -> list[Ingredient]:
    """What an output was made from, for its C2PA manifest: the provider's own file (which
    may carry the provider's manifest) as the parent, else the image an edit worked on; every
    other input image as a component."""
    out: list[Ingredient] = []
    refs = list(request.references)
    if original is not None:
        out.append(Ingredient(original, sniff_format(original), "provider output", "parentOf"))
    elif request.mode is not Mode.GENERATE and refs:
        first = refs.pop(0).image
        out.append(Ingredient(first.data, first.format, first.name or "input", "parentOf"))
    for i, ref in enumerate(refs):
        out.append(Ingredient(ref.image.data, ref.image.format,
                              ref.image.name or f"reference {i + 1}", "componentOf"))  # fmt: skip
    if request.mask is not None:
        out.append(Ingredient(request.mask.data, request.mask.format, "mask", "componentOf"))
    return out


def encode_result(
    request: GenerationRequest, result: GenerationResult, chain: OutputChain = BARE,
    overlayer: TextOverlayer | None = None,
) -> list[EncodedImage]:  # fmt: skip
    """Pass every image of a result through the output chain: the request's text overlay
    (drawn by ``overlayer``, and recorded as ``text_overlay`` in the metadata), then the
    watermark, the encode in the requested format with its metadata, and C2PA."""
    encoded = []
    fmt = request.output_format
    overlay = request.text_overlay
    if overlay is not None and overlayer is None:
        overlayer = TextOverlayer()
    for img in result.images:
        meta = metadata_for(request, img.seed, dict(img.info))
        image, svg = img.image, img.svg
        if overlay is not None and overlayer is not None:
            drawn = overlayer.apply(image, overlay, request.brand)
            image = drawn.image
            meta["text_overlay"] = overlay_metadata(overlay, drawn.layout)
            svg = with_overlay_svg(svg, drawn.layout) if svg is not None else None
        done = chain.finish(
            image, fmt, meta, request.output_compression, model=request.model,
            title=f"{request.model}-{img.seed}.{fmt.extension}",
            ingredients=ingredients_of(request, img.original) if chain.credentials else (),
        )  # fmt: skip
        encoded.append(
            EncodedImage(
                done.data, img.seed, fmt.extension, svg, meta, image.width, image.height,
                done.watermark_id,
            )
        )  # fmt: skip
    return encoded


class GenerateService:
    def __init__(
        self, registry: ModelRegistry, chain: OutputChain = BARE,
        overlayer: TextOverlayer | None = None,
    ) -> None:  # fmt: skip
        self.registry, self.chain = registry, chain
        self.overlayer = overlayer or TextOverlayer()

    def check(self, request: GenerationRequest) -> None:
        """Reject a request the model cannot run, before any work."""
        engine, _ = self.registry.resolve(request.model)
        engine.check(request)

    def run(
        self,
        request: GenerationRequest,
        progress: ProgressSink = no_progress,
        cancel: CancelToken | None = None,
    ) -> tuple[GenerationResult, list[EncodedImage], float]:
        """Run and encode; returns the result, the encoded images and the seconds taken."""
        engine, _ = self.registry.resolve(request.model)
        started = time.perf_counter()
        result = engine.generate(request, progress, cancel)
        encoded = encode_result(request, result, self.chain, self.overlayer)
        return result, encoded, time.perf_counter() - started


def write_outputs(
    images: Sequence[EncodedImage], out_dir: Path, stem: str,
    sidecar: Callable[[EncodedImage, str], bytes] | None = None,
) -> list[Path]:  # fmt: skip
    """Write every file or none: temp files first, then renamed into place. ``sidecar``
    makes the JSON written as ``<name>.json`` next to each image (from the image and its
    file name)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    staged: list[tuple[Path, Path]] = []
    try:
        for i, img in enumerate(images):
            name = f"{stem}-{i + 1}-seed{img.seed}"
            payloads = [(out_dir / f"{name}.{img.extension}", img.data)]
            if img.svg is not None:
                payloads.append((out_dir / f"{name}.svg", img.svg.encode("utf-8")))
            if sidecar is not None:
                payloads.append((out_dir / f"{name}.json", sidecar(img, payloads[0][0].name)))
            for final, data in payloads:
                fd, tmp_name = tempfile.mkstemp(dir=out_dir, prefix=".pixelforge-", suffix=".part")
                tmp = Path(tmp_name)
                staged.append((tmp, final))
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                tmp.chmod(0o644)
    except BaseException:
        for staged_tmp, _ in staged:
            staged_tmp.unlink(missing_ok=True)
        raise
    for staged_tmp, final in staged:
        os.replace(staged_tmp, final)
    return [final for _, final in staged]
