"""Exact text on any image: headline, subtitle, labels and a call-to-action pill.

The text is set with the compose engine's text stack (``engines.compose.text``: HarfBuzz
shaping, the Unicode bidi algorithm, a font per script, glyph outlines as SVG paths) and
rasterized with Skia (``engines.compose.render``), so every script compose draws correctly
(Latin, CJK and Korean, Arabic and Hebrew right to left, Devanagari) is drawn correctly here,
on any engine's output or an uploaded image. Steps, in call order:

1. **Layout.** Each candidate region (a band at the top or bottom, a column at the left or
   right, a box in the centre) gets the texts stacked in it, each fitted by
   :meth:`FontLibrary.fit` (never clipped: it shrinks or wraps instead), at sizes relative to
   the image's short edge (``u`` = 1% of it).
2. **Placement.** ``auto`` takes the candidate whose text area has the least detail (mean
   gradient energy, see ``postprocess.contrast``); an explicit position takes that one.
3. **Colour.** The text colour is the first of the overlay's ``color``, else the brand
   palette's colours, then white and near-black, that reaches a WCAG contrast of 4.5:1 on 95%
   of the pixels behind the text. When none does (a busy region), a translucent scrim (black
   under light text, white under dark) is drawn at the lightest opacity that gives 4.5:1 on
   every pixel (``scrim``: ``auto``; ``on`` always draws one, ``off`` never). The call to action
   is a pill in the brand's colour (else the text colour) with readable text on it.
4. **Render.** The overlay is one SVG fragment (glyph paths, rectangles) drawn onto the part
   of the image it covers; the same fragment can be added to an SVG of the image.

Fonts: each role (headline, subtitle, cta, label) takes the overlay's family for it, else the
brand kit's (headline font for the headline, body font for the rest), else sans.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any, cast

import numpy as np
import skia
from PIL import Image

from pixelforge.domain import Brand, OverlayPosition, Scrim, TextOverlay
from pixelforge.engines.compose.palette import readable_on
from pixelforge.engines.compose.render import rasterize_svg
from pixelforge.engines.compose.text import Family, FontLibrary, TextBlock, TextStyle
from pixelforge.postprocess.contrast import (
    READABLE,
    Rect,
    ScrimFit,
    contrast_reached,
    detail_map,
    fit_scrim,
    luminance_of,
    mean_detail,
    samples,
    under_scrim,
)


@dataclass(frozen=True, slots=True)
class _Role:
    size: float  # largest font size, in u
    weight: float  # share of the region's height
    lines: int
    bold: bool


_ROLES = {
    "headline": _Role(9.0, 3.0, 3, True),
    "subtitle": _Role(4.6, 1.5, 3, False),
    "label": _Role(3.8, 0.9, 2, True),
    "cta": _Role(4.0, 1.3, 1, True),
}
#: Auto placement: a slight preference among equally calm regions (lower wins).
_PREFERENCE = {
    OverlayPosition.BOTTOM: 1.0, OverlayPosition.TOP: 1.03, OverlayPosition.LEFT: 1.06,
    OverlayPosition.RIGHT: 1.06, OverlayPosition.CENTER: 1.12,
}  # fmt: skip
_CANDIDATES = tuple(_PREFERENCE)
_DARK, _LIGHT = "#111111", "#ffffff"


@dataclass(frozen=True, slots=True)
class Placed:
    """One text as drawn: its role, text, lines, font size, colour and box (x0, y0, x1, y1;
    for the call to action, the pill)."""

    role: str
    text: str
    lines: tuple[str, ...]
    size: float
    color: str
    box: Rect
    fill: str | None = None  # the pill's colour


@dataclass(frozen=True, slots=True)
class OverlayLayout:
    """Where and how an overlay is drawn; ``svg`` is the fragment, in image pixels."""

    position: OverlayPosition
    items: tuple[Placed, ...]
    color: str
    contrast: float  # of the text colour on the pixels behind it (through the scrim if any)
    scrim: Rect | None
    scrim_color: str | None
    scrim_alpha: float
    svg: str

    @property
    def bounds(self) -> Rect:
        """The area the overlay draws on (its texts, pill and scrim)."""
        rects = [p.box for p in self.items] + ([self.scrim] if self.scrim else [])
        return (min(r[0] for r in rects), min(r[1] for r in rects),
                max(r[2] for r in rects), max(r[3] for r in rects))  # fmt: skip


@dataclass(frozen=True, slots=True)
class Overlaid:
    image: Image.Image
    layout: OverlayLayout


@dataclass(frozen=True, slots=True)
class _Set:
    """A text laid out in a region, before colours are chosen."""

    role: str
    text: str
    block: TextBlock
    x: float  # where block.svg draws (the region's left) and across what width
    y: float
    width: float
    box: Rect


def _union(rects: list[Rect], pad: float, size: tuple[int, int]) -> Rect:
    return (max(0.0, min(r[0] for r in rects) - pad), max(0.0, min(r[1] for r in rects) - pad),
            min(float(size[0]), max(r[2] for r in rects) + pad),
            min(float(size[1]), max(r[3] for r in rects) + pad))  # fmt: skip


def _region(position: OverlayPosition, w: int, h: int, u: float) -> Rect:
    m = 5 * u
    if position is OverlayPosition.TOP:
        return (m, m, w - m, m + 0.4 * h)
    if position is OverlayPosition.BOTTOM:
        return (m, h - m - 0.4 * h, w - m, h - m)
    if position is OverlayPosition.LEFT:
        return (m, m, m + 0.46 * w, h - m)
    if position is OverlayPosition.RIGHT:
        return (w - m - 0.46 * w, m, w - m, h - m)
    return (0.12 * w, 0.2 * h, 0.88 * w, 0.8 * h)


class TextOverlayer:
    """Lays out and draws text overlays; safe to share between threads (the font library
    is, and nothing else is kept)."""

    def __init__(self, fonts: FontLibrary | None = None) -> None:
        self.fonts = fonts or FontLibrary()

    # -- layout -------------------------------------------------------------------------
    def _family(self, role: str, overlay: TextOverlay, brand: Brand | None) -> Family:
        chosen = overlay.fonts.get(role)
        if chosen is None and brand is not None:
            chosen = brand.headline_font if role == "headline" else brand.body_font
        return cast(Family, chosen or "sans")

    def _fit(
        self, overlay: TextOverlay, brand: Brand | None, bw: float, bh: float, u: float,
        column: bool,
    ) -> list[tuple[str, str, TextBlock, float, float]]:  # fmt: skip
        """Every text fitted into a ``bw`` x ``bh`` region: (role, text, block, width, height);
        in a column (``column``) the texts align to one side, else they are centred."""
        texts = overlay.texts()
        total = sum(_ROLES[role].weight for role, _ in texts)
        avail = max(1.0, bh - 1.8 * u * (len(texts) - 1))
        fitted: list[tuple[str, str, TextBlock, float, float]] = []
        for role, text in texts:
            spec = _ROLES[role]
            share = avail * spec.weight / total
            lines = 5 if role == "headline" and len(text) > 40 else spec.lines
            style = TextStyle(self._family(role, overlay, brand), bold=spec.bold)
            max_size = spec.size * u
            if role == "cta":
                block = self.fonts.fit(text, style, max(1.0, 0.8 * bw - 1.8 * max_size),
                                       share / 1.9, max_size=max_size, max_lines=lines,
                                       align="center")  # fmt: skip
                fitted.append((role, text, block, block.width + 1.8 * block.size,
                               block.height + 0.9 * block.size))  # fmt: skip
            else:
                block = self.fonts.fit(text, style, bw, share, max_size=max_size,
                                       max_lines=lines, align="start" if column else "center")  # fmt: skip
                fitted.append((role, text, block, block.width, block.height))
        return fitted

    def _stack(
        self, overlay: TextOverlay, brand: Brand | None, position: OverlayPosition,
        size: tuple[int, int], fits: dict[tuple[float, float, bool], list[Any]],
    ) -> list[_Set]:  # fmt: skip
        """Every text fitted into the region of ``position``, stacked top to bottom (``fits``:
        fitted texts by region shape; top and bottom share theirs, as do left and right)."""
        w, h = size
        u = min(w, h) / 100
        x0, y0, x1, y1 = _region(position, w, h, u)
        bw, bh = x1 - x0, y1 - y0
        gap = 1.8 * u
        side = {OverlayPosition.LEFT: "left", OverlayPosition.RIGHT: "right"}.get(position)
        key = (round(bw, 3), round(bh, 3), side is not None)
        if key not in fits:
            fits[key] = self._fit(overlay, brand, bw, bh, u, side is not None)
        fitted: list[tuple[str, str, TextBlock, float, float]] = fits[key]
        used = sum(f[4] for f in fitted) + gap * (len(fitted) - 1)
        if position is OverlayPosition.TOP:
            y = y0
        elif position is OverlayPosition.BOTTOM:
            y = y1 - used
        else:
            y = y0 + (bh - used) / 2
        out: list[_Set] = []
        for role, text, block, iw, ih in fitted:
            if side == "left":
                left = x0
            elif side == "right":
                left = x1 - iw
            else:
                left = x0 + (bw - iw) / 2
            if role == "cta":
                out.append(_Set(role, text, block, left + 0.9 * block.size,
                                y + 0.45 * block.size, block.width, (left, y, left + iw, y + ih)))  # fmt: skip
            else:
                if side is not None:  # a column: the texts sit against its outer side
                    visual_left = (side == "left") != block.rtl
                    block = replace(block, align="start" if visual_left else "end")
                out.append(_Set(role, text, block, x0, y, bw, (left, y, left + iw, y + ih)))
            y += ih + gap
        return out

    def _place(
        self, image: Image.Image, overlay: TextOverlay, brand: Brand | None
    ) -> tuple[OverlayPosition, list[_Set]]:
        fits: dict[tuple[float, float, bool], list[Any]] = {}
        if overlay.position is not OverlayPosition.AUTO:
            return overlay.position, self._stack(overlay, brand, overlay.position, image.size,
                                                 fits)  # fmt: skip
        energy, scale = detail_map(image)
        u = min(image.size) / 100
        best: tuple[float, OverlayPosition, list[_Set]] | None = None
        for position in _CANDIDATES:
            stack = self._stack(overlay, brand, position, image.size, fits)
            area = _union([s.box for s in stack], 2 * u, image.size)
            score = (mean_detail(energy, scale, area) + 0.5) * _PREFERENCE[position]
            if best is None or score < best[0]:
                best = (score, position, stack)
        assert best is not None
        return best[1], best[2]

    # -- colour -------------------------------------------------------------------------
    @staticmethod
    def _colours(
        pixels: np.ndarray, overlay: TextOverlay, brand: Brand | None
    ) -> tuple[str, float, ScrimFit | None]:
        """The text colour, its contrast and the scrim (None: no scrim)."""
        palette = list(brand.palette) if brand is not None else []
        candidates = [overlay.color] if overlay.color else [*palette, _LIGHT, _DARK]
        lum = luminance_of(pixels)
        reached = [contrast_reached(c, pixels, lum=lum) for c in candidates]
        if overlay.scrim is not Scrim.ON:
            for color, value in zip(candidates, reached, strict=True):
                if value >= READABLE:
                    return color, value, None
            if overlay.scrim is Scrim.OFF:
                i = int(np.argmax(reached))
                return candidates[i], reached[i], None
        least = 0.45 if overlay.scrim is Scrim.ON else 0.0
        fits = [fit_scrim(c, pixels, least) for c in candidates]
        for color, fit in zip(candidates, fits, strict=True):
            if fit.contrast >= READABLE and fit.alpha <= 0.75:
                return color, fit.contrast, fit
        i = max(range(len(fits)), key=lambda k: (fits[k].contrast >= READABLE, -fits[k].alpha,
                                                 fits[k].contrast))  # fmt: skip
        return candidates[i], fits[i].contrast, fits[i]

    @staticmethod
    def _pill(
        text_color: str, behind: np.ndarray, overlay: TextOverlay, brand: Brand | None
    ) -> tuple[str, str]:
        """The call-to-action pill's fill (a brand colour that stands out 3:1 from what is
        behind it, else the text colour) and its readable text colour."""
        palette = list(brand.palette) if brand is not None else []
        fill = overlay.color or text_color
        if not overlay.color:
            for color in palette:
                if contrast_reached(color, behind, 0.5) >= 3.0:
                    fill = color
                    break
        return fill, readable_on(fill, *palette, _LIGHT, _DARK)

    # -- public API ---------------------------------------------------------------------
    def layout(
        self, image: Image.Image, overlay: TextOverlay, brand: Brand | None = None
    ) -> OverlayLayout:
        """Where and in which colours ``overlay`` goes on ``image`` (nothing is drawn)."""
        position, stack = self._place(image, overlay, brand)
        u = min(image.size) / 100
        texts = [s for s in stack if s.role != "cta"]
        area = _union([s.box for s in (texts or stack)], 0.5 * u, image.size)
        pixels = samples(image, area)
        color, reached, scrim = self._colours(pixels, overlay, brand)
        scrim_rect = _union([s.box for s in stack], 2.2 * u, image.size) if scrim else None
        parts: list[str] = []
        if scrim is not None and scrim_rect is not None:
            x0, y0, x1, y1 = scrim_rect
            parts.append(
                f'<rect x="{x0:.2f}" y="{y0:.2f}" width="{x1 - x0:.2f}" height="{y1 - y0:.2f}" '
                f'rx="{1.6 * u:.2f}" fill="{scrim.color}" fill-opacity="{scrim.alpha:.2f}"/>'
            )
        placed: list[Placed] = []
        for s in stack:
            if s.role == "cta":
                behind = samples(image, s.box)
                if scrim is not None:
                    behind = under_scrim(behind, scrim.color, scrim.alpha)
                fill, ink = self._pill(color, behind, overlay, brand)
                x0, y0, x1, y1 = s.box
                parts.append(
                    f'<rect x="{x0:.2f}" y="{y0:.2f}" width="{x1 - x0:.2f}" '
                    f'height="{y1 - y0:.2f}" rx="{(y1 - y0) / 2:.2f}" fill="{fill}"/>'
                )
                parts.append(s.block.svg(s.x, s.y, s.width, ink))
                placed.append(Placed(s.role, s.text, s.block.lines, s.block.size, ink, s.box,
                                     fill))  # fmt: skip
            else:
                parts.append(s.block.svg(s.x, s.y, s.width, color))
                placed.append(Placed(s.role, s.text, s.block.lines, s.block.size, color, s.box))
        svg = f'<g class="pixelforge-text-overlay">{"".join(parts)}</g>'
        return OverlayLayout(
            position, tuple(placed), color, reached, scrim_rect,
            scrim.color if scrim else None, scrim.alpha if scrim else 0.0, svg,
        )  # fmt: skip

    def apply(
        self, image: Image.Image, overlay: TextOverlay, brand: Brand | None = None
    ) -> Overlaid:
        """``image`` with ``overlay`` drawn on it (a new image; the same size and mode,
        RGB or RGBA)."""
        if image.mode not in ("RGB", "RGBA"):
            has_alpha = image.mode in ("LA", "PA") or "transparency" in image.info
            image = image.convert("RGBA" if has_alpha else "RGB")
        layout = self.layout(image, overlay, brand)
        return Overlaid(draw(image, layout), layout)


def draw(image: Image.Image, layout: OverlayLayout) -> Image.Image:
    """Rasterize ``layout`` onto a copy of ``image``: only the area it covers is touched."""
    u = min(image.size) / 100
    x0, y0, x1, y1 = _union([layout.bounds], max(4.0, 1.5 * u), image.size)
    left, top = int(x0), int(y0)
    right, bottom = int(np.ceil(x1)), int(np.ceil(y1))
    width, height = right - left, bottom - top
    crop = image.crop((left, top, right, bottom)).convert("RGBA")
    pixels = np.array(crop, dtype=np.uint8)
    surface = skia.Surface(pixels, colorType=skia.kRGBA_8888_ColorType,
                           alphaType=skia.kUnpremul_AlphaType)  # fmt: skip
    document = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="{left} {top} {width} {height}">{layout.svg}</svg>'
    )
    with surface as canvas:
        rasterize_svg(document, width, height, canvas)
    surface.flushAndSubmit()
    drawn = Image.fromarray(pixels, "RGBA")
    out = image.copy()
    out.paste(drawn if image.mode == "RGBA" else drawn.convert(image.mode), (left, top))
    return out


def with_overlay_svg(svg: str, layout: OverlayLayout) -> str:
    """An SVG of the image (``svg``, in image pixels) with the overlay drawn on top."""
    end = svg.rfind("</svg>")
    return svg if end < 0 else svg[:end] + layout.svg + svg[end:]


def overlay_metadata(overlay: TextOverlay, layout: OverlayLayout) -> str:
    """What the file's metadata records of an applied overlay (JSON): the overlay as asked,
    where it went, the text colour and its contrast, and whether a scrim was drawn."""
    return json.dumps(
        {**overlay.to_dict(), "placed": layout.position.value, "text_color": layout.color,
         "contrast": round(layout.contrast, 2), "scrim_drawn": layout.scrim is not None},
        ensure_ascii=False, separators=(",", ":"),
    )  # fmt: skip
