"""Generate: resolve the model, run it, encode the results, write them atomically."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pixelforge.domain import GenerationRequest
from pixelforge.engines.base import (
    CancelToken,
    GenerationResult,
    ProgressSink,
    no_progress,
)
from pixelforge.engines.registry import ModelRegistry
from pixelforge.postprocess.encode import encode


@dataclass(frozen=True, slots=True)
class EncodedImage:
    data: bytes
    seed: int
    extension: str
    svg: str | None
    metadata: dict[str, str]
    width: int = 0
    height: int = 0


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


def encode_result(request: GenerationRequest, result: GenerationResult) -> list[EncodedImage]:
    """Encode every image of a result in the requested format, with its metadata."""
    encoded = []
    for img in result.images:
        meta = metadata_for(request, img.seed, dict(img.info))
        data = encode(img.image, request.output_format, meta, request.output_compression)
        encoded.append(
            EncodedImage(
                data, img.seed, request.output_format.extension, img.svg, meta,
                img.image.width, img.image.height,
            )
        )  # fmt: skip
    return encoded


class GenerateService:
    def __init__(self, registry: ModelRegistry) -> None:
        self.registry = registry

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
        encoded = encode_result(request, result)
        return result, encoded, time.perf_counter() - started


def write_outputs(images: Sequence[EncodedImage], out_dir: Path, stem: str) -> list[Path]:
    """Write every file or none: temp files first, then renamed into place."""
    out_dir.mkdir(parents=True, exist_ok=True)
    staged: list[tuple[Path, Path]] = []
    try:
        for i, img in enumerate(images):
            name = f"{stem}-{i + 1}-seed{img.seed}"
            payloads = [(out_dir / f"{name}.{img.extension}", img.data)]
            if img.svg is not None:
                payloads.append((out_dir / f"{name}.svg", img.svg.encode("utf-8")))
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
