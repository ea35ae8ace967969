"""Classical upscaling (no torch): Lanczos, then edge-aware, halo-free sharpening.

Lanczos alone keeps every edge of the source but spreads it over ``factor`` output pixels, so a
4x result looks soft. A plain unsharp mask steepens those edges, but it also amplifies noise
and draws bright and dark halos beside each edge. The sharpening here avoids both:

* **Edge-aware.** The unsharp detail is weighted by how much local contrast the *source* has
  around each pixel, relative to the source's own noise level (estimated robustly from the
  median of a Laplacian response). Flat and noisy regions get weight 0, so their noise is
  not amplified; edges get the full amount.
* **Halo-free.** The result is clamped, per channel, to the range of the source's 3x3
  neighbourhood around each pixel: an edge gets steeper, but nothing gets brighter or darker
  than the pixels it came from (this also trims Lanczos' own ringing).

Memory is bounded: the sharpening runs over bands of output rows, and the per-pixel maps are
computed at the source resolution and resampled band by band. Alpha is resampled (Pillow
premultiplies it) and never sharpened. Targets are an exact size: ``factor`` times the
source, or a tier's long edge with the source's aspect ratio (:func:`target_size`).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageFilter

from pixelforge.domain.sizes import Tier
from pixelforge.errors import InvalidRequestError, allowed

#: The upscale factors offered; the tiers an upscale can target (by long edge).
FACTORS = (2, 4)
TIERS = (Tier.T2K, Tier.T4K)
#: Unsharp amount on edges (1: the blurred-away detail is added back once).
AMOUNT = 1.4
#: Output pixels per band of the sharpening pass (bounds its memory).
BAND_PIXELS = 1 << 20

Progress = Callable[[float], None]


def target_size(
    width: int, height: int, *, factor: int | None = None, tier: str | None = None,
    factor_param: str = "factor", tier_param: str = "tier",
) -> tuple[int, int]:  # fmt: skip
    """The exact output size of upscaling a ``width`` x ``height`` image: ``factor`` times it,
    or the ``tier``'s long edge (2K: 2048, 4K: 4096) with the image's aspect ratio (the short
    edge rounded to the nearest pixel). Exactly one of them; the target must be larger."""
    if factor is not None and tier is not None:
        raise InvalidRequestError(
            f"{tier_param}: give {factor_param} or {tier_param}, not both "
            f"(got {factor_param} {factor} and {tier_param} {tier!r})", param=tier_param,
        )  # fmt: skip
    if factor is not None:
        if factor not in FACTORS:
            raise InvalidRequestError(
                f"{factor_param}: {factor!r} is not an upscale factor; allowed: {allowed(FACTORS)}",
                param=factor_param,
            )
        return width * factor, height * factor
    if tier is None:
        raise InvalidRequestError(
            f"{factor_param}: give an upscale factor ({allowed(FACTORS)}) or a {tier_param} "
            f"({allowed(t.value for t in TIERS)})", param=factor_param,
        )  # fmt: skip
    parsed = next((t for t in TIERS if t.value.lower() == str(tier).strip().lower()), None)
    if parsed is None:
        raise InvalidRequestError(
            f"{tier_param}: {tier!r} is not an upscale target; allowed: "
            f"{allowed(t.value for t in TIERS)}", param=tier_param,
        )  # fmt: skip
    edge, long_side = parsed.long_edge, max(width, height)
    if edge <= long_side:
        raise InvalidRequestError(
            f"{tier_param}: {parsed.value!r} ({edge} px long edge) is not larger than the image "
            f"({width}x{height}); allowed: a tier with a longer edge than {long_side} px, or a "
            f"{factor_param}", param=tier_param,
        )  # fmt: skip
    short = max(1, round(min(width, height) * edge / long_side))
    return (edge, short) if width >= height else (short, edge)


def has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info


def lanczos(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """``image`` (as RGB, or RGBA when it has transparency) resized to ``size`` with Lanczos."""
    base = image.convert("RGBA" if has_alpha(image) else "RGB")
    return base if base.size == size else base.resize(size, Image.Resampling.LANCZOS)


def laplacian(luma: np.ndarray) -> np.ndarray:
    """The 3x3 Laplacian response of a grey image (edge-replicated to the same shape)."""
    y = np.pad(luma.astype(np.float32), 1, mode="edge")
    return (y[:-2, :-2] + y[:-2, 2:] + y[2:, :-2] + y[2:, 2:]
            - 2 * (y[:-2, 1:-1] + y[2:, 1:-1] + y[1:-1, :-2] + y[1:-1, 2:]) + 4 * y[1:-1, 1:-1])  # fmt: skip


#: A 3x3 Laplacian's gain on white noise is sqrt(36) = 6; median |x| = 0.6745 sigma.
_SIGMA_PER_MEDIAN = 1.0 / (6.0 * 0.6745)


def noise_sigma(luma: np.ndarray) -> float:
    """The noise level (standard deviation, in levels) of a grey image, from the median
    absolute Laplacian response (Immerkaer's operator, made robust to edges by the median)."""
    return float(np.median(np.abs(laplacian(luma)))) * _SIGMA_PER_MEDIAN


def local_range(pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per pixel, the minimum and maximum over its 3x3 neighbourhood (edges replicated), for
    an ``H x W`` or ``H x W x C`` array (channels separately)."""
    pad = ((1, 1), (1, 1)) + ((0, 0),) * (pixels.ndim - 2)
    padded = np.pad(pixels, pad, mode="edge")
    h, w = pixels.shape[:2]
    low, high = pixels.copy(), pixels.copy()
    for dy in range(3):
        for dx in range(3):
            shifted = padded[dy : dy + h, dx : dx + w]
            np.minimum(low, shifted, out=low)
            np.maximum(high, shifted, out=high)
    return low, high


def _edge_weight(source: Image.Image) -> Image.Image:
    """Per source pixel (mode F): 0 where the 3x3 contrast is within the local noise, 1 on
    edges. The noise is estimated around each pixel (the median absolute Laplacian over 5x5:
    an edge covers a minority of that window, so it barely moves the median), so noisy and
    clean regions of one image each get their own threshold."""
    luma = source.convert("L")
    lap = np.clip(np.abs(laplacian(np.asarray(luma))), 0, 255).astype(np.uint8)
    local = np.asarray(Image.fromarray(lap, "L").filter(ImageFilter.MedianFilter(5)),
                       dtype=np.float32) * _SIGMA_PER_MEDIAN  # fmt: skip
    low_luma, high_luma = local_range(np.asarray(luma))
    spread = high_luma.astype(np.float32) - low_luma
    # 3x3 ranges of pure noise average ~3 sigma and rarely pass 5 sigma.
    low = np.maximum(6.0, 5.0 * local)
    high = low + np.maximum(10.0, 3.0 * local)
    t = np.clip((spread - low) / (high - low), 0.0, 1.0)
    return Image.fromarray((t * t * (3.0 - 2.0 * t)).astype(np.float32), "F")


def _band_of(image: Image.Image, size: tuple[int, int], y0: int, y1: int) -> np.ndarray:
    """Rows ``y0:y1`` of ``image`` resized (bilinear) to ``size``, without resizing the rest."""
    sy = image.height / size[1]
    box = (0.0, y0 * sy, float(image.width), y1 * sy)
    part = image.resize((size[0], y1 - y0), Image.Resampling.BILINEAR, box=box)
    return np.asarray(part, dtype=np.float32)


def sharpen(
    up: Image.Image, source: Image.Image, *, amount: float = AMOUNT,
    progress: Progress | None = None,
) -> Image.Image:  # fmt: skip
    """``up`` (``source`` resized up, RGB or RGBA) with its edges sharpened, see the module
    docstring. ``progress`` gets the fraction done after each band (it may raise to stop)."""
    width, height = up.size
    scale = min(width / source.width, height / source.height)
    rgb_source = source.convert("RGB")
    low, high = (Image.fromarray(a, "RGB") for a in local_range(np.asarray(rgb_source)))
    weight = _edge_weight(rgb_source)
    radius = 0.5 * scale  # a Lanczos edge spans about `scale` output pixels
    margin = math.ceil(3 * radius) + 2
    rows = max(16, BAND_PIXELS // max(1, width))
    sharp = Image.new("RGB", (width, height))
    for y0 in range(0, height, rows):
        y1 = min(height, y0 + rows)
        top, bottom = max(0, y0 - margin), min(height, y1 + margin)
        band = up.crop((0, top, width, bottom)).convert("RGB")
        blurred = np.asarray(band.filter(ImageFilter.GaussianBlur(radius)), dtype=np.float32)
        pixels = np.asarray(band, dtype=np.float32)
        keep = slice(y0 - top, y1 - top)
        pixels, blurred = pixels[keep], blurred[keep]
        w = _band_of(weight, (width, height), y0, y1)[..., None]
        result = pixels + (amount * w) * (pixels - blurred)
        np.clip(result, _band_of(low, (width, height), y0, y1),
                _band_of(high, (width, height), y0, y1), out=result)  # fmt: skip
        sharp.paste(Image.fromarray(np.rint(result).astype(np.uint8), "RGB"), (0, y0))
        if progress is not None:
            progress(y1 / height)
    if up.mode == "RGBA":
        sharp.putalpha(up.getchannel("A"))
    return sharp


def upscale(
    image: Image.Image, size: tuple[int, int], *, progress: Progress | None = None
) -> Image.Image:
    """``image`` at exactly ``size``: Lanczos, then (when it grows) edge-aware sharpening.
    RGB out, or RGBA when the image has transparency (alpha resampled, never sharpened).
    ``progress`` gets fractions up to 1.0 (it may raise to stop between bands)."""
    up = lanczos(image, size)
    if progress is not None:
        progress(0.3)
    if size[0] <= image.width or size[1] <= image.height:
        if progress is not None:
            progress(1.0)
        return up

    def banded(fraction: float) -> None:
        if progress is not None:
            progress(0.3 + 0.7 * fraction)

    return sharpen(up, image, progress=banded)
