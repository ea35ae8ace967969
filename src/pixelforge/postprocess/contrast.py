"""Pixel measures for the text overlay: where an image is calm, and how readable a colour is
on it (WCAG 2 contrast ratio), with or without a translucent scrim behind the text.

Contrast is measured against the image's own pixels under the text, not an average colour:
on a busy region the ratio of a text colour is the one that ``coverage`` of those pixels reach
(:func:`contrast_reached`), so a few highlights do not hide a mostly unreadable background.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

#: WCAG's readable contrast for normal text.
READABLE = 4.5
#: Most pixels :func:`samples` returns: a fixed bound on the work per text area.
MAX_SAMPLES = 20_000
#: Scrim opacities tried, lightest first.
SCRIM_ALPHAS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)

_LINEAR = np.array(
    [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
     for c in (np.arange(256) / 255.0)], dtype=np.float64,
)  # fmt: skip
_WEIGHTS = np.array([0.2126, 0.7152, 0.0722])

Rect = tuple[float, float, float, float]  # x0, y0, x1, y1 in image pixels


def rgb(hex_color: str) -> tuple[int, int, int]:
    return int(hex_color[1:3], 16), int(hex_color[3:5], 16), int(hex_color[5:7], 16)


def luminance_of(pixels: np.ndarray) -> np.ndarray:
    """WCAG relative luminance of ``(..., 3)`` 8-bit sRGB values."""
    lin = _LINEAR[np.clip(np.rint(pixels), 0, 255).astype(np.intp)]
    result: np.ndarray = lin @ _WEIGHTS
    return result


def ratio(a: np.ndarray | float, b: np.ndarray | float) -> np.ndarray:
    """WCAG contrast ratio between luminances (elementwise)."""
    hi, lo = np.maximum(a, b), np.minimum(a, b)
    result: np.ndarray = (hi + 0.05) / (lo + 0.05)
    return result


def samples(image: Image.Image, rect: Rect) -> np.ndarray:
    """At most :data:`MAX_SAMPLES` RGB pixels of ``rect`` (evenly strided), as ``(N, 3)``."""
    w, h = image.size
    x0, y0 = max(0, int(rect[0])), max(0, int(rect[1]))
    x1, y1 = min(w, int(np.ceil(rect[2]))), min(h, int(np.ceil(rect[3])))
    if x1 <= x0 or y1 <= y0:
        x0, y0, x1, y1 = 0, 0, w, h
    crop = image.crop((x0, y0, x1, y1))
    arr = np.asarray(crop.convert("RGB") if crop.mode != "RGB" else crop)
    step = max(1, int(np.ceil(np.sqrt(arr.shape[0] * arr.shape[1] / MAX_SAMPLES))))
    return arr[::step, ::step].reshape(-1, 3).astype(np.float64)


def contrast_reached(
    color: str, pixels: np.ndarray, coverage: float = 0.95, lum: np.ndarray | None = None
) -> float:
    """The contrast ratio of ``color`` that ``coverage`` of ``pixels`` reach or beat
    (``lum``: the pixels' luminances, when already known)."""
    if lum is None:
        lum = luminance_of(pixels)
    per_pixel = ratio(luminance_of(np.array(rgb(color), dtype=np.float64)), lum)
    k = int((1.0 - coverage) * (per_pixel.size - 1))
    return float(np.partition(per_pixel, k)[k])


def under_scrim(pixels: np.ndarray, scrim: str, alpha: float) -> np.ndarray:
    """``pixels`` seen through a scrim of ``scrim`` colour at ``alpha`` (8-bit sRGB blend)."""
    result: np.ndarray = pixels * (1.0 - alpha) + np.array(rgb(scrim), dtype=np.float64) * alpha
    return result


@dataclass(frozen=True, slots=True)
class ScrimFit:
    color: str
    alpha: float
    contrast: float  # of the text colour on every pixel seen through the scrim (the minimum)


def fit_scrim(text: str, pixels: np.ndarray, least_alpha: float = 0.0) -> ScrimFit:
    """The lightest scrim (black under light text, white under dark) at which ``text``
    reads at :data:`READABLE` on every pixel, or the opaque one when none does."""
    lum = float(luminance_of(np.array(rgb(text), dtype=np.float64)))
    dark = ratio(lum, 0.0) >= ratio(lum, 1.0)
    scrim = "#000000" if dark else "#ffffff"
    worst = 0.0
    for alpha in SCRIM_ALPHAS:
        if alpha < least_alpha:
            continue
        worst = float(ratio(lum, luminance_of(under_scrim(pixels, scrim, alpha))).min())
        if worst >= READABLE:
            return ScrimFit(scrim, alpha, worst)
    return ScrimFit(scrim, 1.0, worst)


def detail_map(image: Image.Image, long_edge: int = 384) -> tuple[np.ndarray, float]:
    """Gradient energy of a subsampled grey copy and the scale from image pixels to it.

    Subsampling takes one pixel per cell instead of averaging: fine texture (noise, foliage,
    print) stays busy instead of being smoothed into a calm average, and it costs ~0.1 ms
    even at 4K, where an averaging resize costs ~30 ms."""
    w, h = image.size
    scale = min(1.0, long_edge / max(w, h))
    small = image
    if scale < 1.0:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        small = image.resize(size, Image.Resampling.NEAREST)
    grey = np.asarray(small.convert("L"), dtype=np.float32)
    energy = np.zeros_like(grey)
    energy[:, 1:] += np.abs(np.diff(grey, axis=1))
    energy[1:, :] += np.abs(np.diff(grey, axis=0))
    return energy, scale


def mean_detail(energy: np.ndarray, scale: float, rect: Rect) -> float:
    """Mean gradient energy of ``rect`` (image pixels) on a :func:`detail_map`."""
    h, w = energy.shape
    x0 = min(max(0, int(rect[0] * scale)), w - 1)
    y0 = min(max(0, int(rect[1] * scale)), h - 1)
    x1 = max(x0 + 1, min(w, int(np.ceil(rect[2] * scale))))
    y1 = max(y0 + 1, min(h, int(np.ceil(rect[3] * scale))))
    return float(energy[y0:y1, x0:x1].mean())
