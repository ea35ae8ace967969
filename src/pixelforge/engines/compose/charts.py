"""Charts from brief data: bar, line, pie, table and timeline, with exact labels and values."""

from __future__ import annotations

import math

from pixelforge.engines.compose.brief import Chart
from pixelforge.engines.compose.palette import Palette, mix, readable_on
from pixelforge.engines.compose.scene import Scene
from pixelforge.engines.compose.text import Align, FontLibrary, TextStyle

_SANS = TextStyle("sans")
_BOLD = TextStyle("sans", bold=True)


class ChartPainter:
    """Draws one chart into a box of a scene."""

    def __init__(self, scene: Scene, fonts: FontLibrary, palette: Palette) -> None:
        self.scene = scene
        self.fonts = fonts
        self.p = palette

    def label(
        self, text: str, x: float, y: float, w: float, h: float, *, style: TextStyle = _SANS,
        size: float, color: str | None = None, align: Align = "center", lines: int = 2,
        valign: float = 0.0,
    ) -> float:  # fmt: skip
        block = self.fonts.fit(text, style, w, h, max_size=size, max_lines=lines, align=align)
        top = y + (h - block.height) * valign
        self.scene.add(block.svg(x, top, w, color or self.p.text))
        return block.height

    def series_size(
        self, texts: list[str], w: float, h: float, size: float, *,
        style: TextStyle = _SANS, lines: int = 2,
    ) -> float:  # fmt: skip
        """One font size for a whole series of labels: the largest at which all of them fit."""
        return min(
            self.fonts.fit(t, style, w, h, max_size=size, max_lines=lines).size for t in texts
        )

    def colors(self, n: int) -> list[str]:
        base = [self.p.accent, self.p.accent2, mix(self.p.accent, self.p.text, 0.45),
                mix(self.p.accent2, self.p.background, 0.35), mix(self.p.accent, "#ffffff", 0.4),
                mix(self.p.accent2, "#000000", 0.3)]  # fmt: skip
        return [base[i % len(base)] for i in range(n)]

    def draw(self, chart: Chart, x: float, y: float, w: float, h: float) -> None:
        {"bar": self.bar, "line": self.line, "pie": self.pie, "table": self.table,
         "timeline": self.timeline}[chart.kind](chart, x, y, w, h)  # fmt: skip

    def bar(self, c: Chart, x: float, y: float, w: float, h: float) -> None:
        n = len(c.points)
        unit = min(w, h) / 100
        label_h, value_h = h * 0.16, h * 0.1
        col = w / n
        bar_w = col * 0.62
        top, base = y + value_h, y + h - label_h
        hi = max(p.value for p in c.points) or 1.0
        value_size = self.series_size([p.text for p in c.points], col, value_h * 0.92,
                                      value_h * 0.7, style=_BOLD, lines=1)  # fmt: skip
        label_size = self.series_size([p.label for p in c.points], col * 0.92, label_h - unit,
                                      label_h * 0.36)  # fmt: skip
        baseline = f'<rect x="{x:.1f}" y="{base:.1f}" width="{w:.1f}" height="{max(unit * 0.4, 1):.1f}" fill="{self.p.text}" fill-opacity="0.35"/>'
        self.scene.add(baseline)
        for i, (p, color) in enumerate(zip(c.points, self.colors(n), strict=True)):
            bh = max((base - top) * max(p.value, 0) / hi, unit * 0.5)
            bx = x + i * col + (col - bar_w) / 2
            r = min(bar_w * 0.12, unit * 2)
            self.scene.add(
                f'<path d="M{bx:.1f},{base:.1f} V{base - bh + r:.1f} Q{bx:.1f},{base - bh:.1f} '
                f"{bx + r:.1f},{base - bh:.1f} H{bx + bar_w - r:.1f} Q{bx + bar_w:.1f},"
                f'{base - bh:.1f} {bx + bar_w:.1f},{base - bh + r:.1f} V{base:.1f} Z" '
                f'fill="{color}"/>'
            )
            if c.show_values:
                self.label(p.text, x + i * col, base - bh - value_h, col, value_h * 0.92,
                           style=_BOLD, size=value_size, lines=1, valign=1.0)  # fmt: skip
            self.label(p.label, x + i * col + col * 0.04, base + unit, col * 0.92,
                       label_h - unit, size=label_size)  # fmt: skip

    def line(self, c: Chart, x: float, y: float, w: float, h: float) -> None:
        n = len(c.points)
        unit = min(w, h) / 100
        label_h, value_h = h * 0.14, h * 0.1
        col = w / n
        top, base = y + value_h * 1.2, y + h - label_h
        lo = min(0.0, min(p.value for p in c.points))
        hi = max(p.value for p in c.points)
        span = (hi - lo) or 1.0
        value_size = self.series_size([p.text for p in c.points], col, value_h,
                                      value_h * 0.62, style=_BOLD, lines=1)  # fmt: skip
        label_size = self.series_size([p.label for p in c.points], col, label_h - unit,
                                      label_h * 0.42)  # fmt: skip
        pts = [(x + (i + 0.5) * col, base - (base - top) * (p.value - lo) / span)
               for i, p in enumerate(c.points)]  # fmt: skip
        for k in range(4):
            gy = top + (base - top) * k / 3
            self.scene.add(
                f'<rect x="{x:.1f}" y="{gy:.1f}" width="{w:.1f}" height="{max(unit * 0.2, 1):.1f}" fill="{self.p.text}" fill-opacity="0.15"/>'
            )
        area = " ".join(f"{px:.1f},{py:.1f}" for px, py in pts)
        first, last = pts[0][0], pts[-1][0]
        self.scene.add(
            f'<polygon points="{first:.1f},{base:.1f} {area} {last:.1f},{base:.1f}" '
            f'fill="{self.p.accent}" fill-opacity="0.18"/>'
            f'<polyline points="{area}" fill="none" stroke="{self.p.accent}" '
            f'stroke-width="{unit * 1.1:.1f}" stroke-linejoin="round" stroke-linecap="round"/>'
        )
        for (px, py), p in zip(pts, c.points, strict=True):
            self.scene.add(
                f'<circle cx="{px:.1f}" cy="{py:.1f}" r="{unit * 1.6:.1f}" fill="{self.p.background}" stroke="{self.p.accent}" stroke-width="{unit * 0.8:.1f}"/>'
            )
            if c.show_values:
                self.label(p.text, px - col / 2, py - value_h - unit * 1.5, col, value_h,
                           style=_BOLD, size=value_size, lines=1, valign=1.0)  # fmt: skip
            self.label(p.label, px - col / 2, base + unit, col, label_h - unit,
                       size=label_size)  # fmt: skip

    def pie(self, c: Chart, x: float, y: float, w: float, h: float) -> None:
        wide = w >= h * 1.2
        d = min(h, w * 0.5) if wide else min(w, h * 0.55)
        cx, cy = (x + d / 2, y + h / 2) if wide else (x + w / 2, y + d / 2)
        r = d / 2 * 0.94
        total = sum(max(p.value, 0) for p in c.points) or 1.0
        angle = -math.pi / 2
        colors = self.colors(len(c.points))
        for p, color in zip(c.points, colors, strict=True):
            sweep = 2 * math.pi * max(p.value, 0) / total
            if sweep >= 2 * math.pi - 1e-6:
                self.scene.add(f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="{r:.1f}" fill="{color}"/>')
            elif sweep > 0:
                x1, y1 = cx + r * math.cos(angle), cy + r * math.sin(angle)
                x2, y2 = cx + r * math.cos(angle + sweep), cy + r * math.sin(angle + sweep)
                large = 1 if sweep > math.pi else 0
                self.scene.add(
                    f'<path d="M{cx:.1f},{cy:.1f} L{x1:.1f},{y1:.1f} A{r:.1f},{r:.1f} 0 {large} 1 '
                    f'{x2:.1f},{y2:.1f} Z" fill="{color}" stroke="{self.p.background}" '
                    f'stroke-width="{r * 0.02:.1f}"/>'
                )
            angle += sweep
        self.scene.add(
            f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="{r * 0.52:.1f}" fill="{self.p.background}"/>'
        )
        lx, ly, lw, lh = (
            (x + d * 1.08, y, w - d * 1.08, h) if wide else (x, y + d * 1.06, w, h - d * 1.06)
        )
        n = len(c.points)
        row = min(lh / n, lh * 0.3)
        ly += (lh - row * n) / 2
        sw = row * 0.5
        texts = [f"{p.label}  {p.text}" for p in c.points]
        # One size for every legend row: the largest that fits the longest entry.
        size = min(
            self.fonts.fit(t, _SANS, lw - sw * 1.5, row * 0.9, max_size=row * 0.5, max_lines=1).size
            for t in texts
        )
        for i, (text, color) in enumerate(zip(texts, colors, strict=True)):
            ry = ly + i * row
            self.scene.add(
                f'<rect x="{lx:.1f}" y="{ry + (row - sw) / 2:.1f}" width="{sw:.1f}" height="{sw:.1f}" rx="{sw * 0.2:.1f}" fill="{color}"/>'
            )
            self.label(text, lx + sw * 1.5, ry, lw - sw * 1.5, row * 0.9,
                       size=size, align="start", lines=1, valign=0.5)  # fmt: skip

    def table(self, c: Chart, x: float, y: float, w: float, h: float) -> None:
        n = len(c.points)
        gap = w * 0.03
        cw = (w - gap * (n - 1)) / n
        name_size = self.series_size([p.label for p in c.points], cw * 0.84, h * 0.22, h * 0.12,
                                     style=_BOLD)  # fmt: skip
        price_style = TextStyle("display", bold=True)
        price_size = self.series_size([p.text for p in c.points], cw * 0.84, h * 0.3, h * 0.22,
                                      style=price_style, lines=1)  # fmt: skip
        for i, (p, color) in enumerate(zip(c.points, self.colors(n), strict=True)):
            cx = x + i * (cw + gap)
            fill = mix(self.p.background, self.p.text, 0.06)
            self.scene.add(
                f'<rect x="{cx:.1f}" y="{y:.1f}" width="{cw:.1f}" height="{h:.1f}" rx="{cw * 0.06:.1f}" fill="{fill}" stroke="{color}" stroke-width="{cw * 0.02:.1f}"/>'
            )
            self.scene.add(
                f'<rect x="{cx:.1f}" y="{y:.1f}" width="{cw:.1f}" height="{h * 0.08:.1f}" fill="{color}"/>'
            )
            self.label(p.label, cx + cw * 0.08, y + h * 0.14, cw * 0.84, h * 0.22,
                       style=_BOLD, size=name_size, lines=2)  # fmt: skip
            self.label(p.text, cx + cw * 0.08, y + h * 0.42, cw * 0.84, h * 0.3,
                       style=price_style, size=price_size, lines=1,
                       color=readable_on(fill, color, self.p.text))  # fmt: skip

    def timeline(self, c: Chart, x: float, y: float, w: float, h: float) -> None:
        n = len(c.points)
        unit = min(w, h) / 100
        col = w / n
        ly = y + h * 0.45
        year_size = self.series_size([p.text for p in c.points], col * 0.88,
                                     h * 0.45 - unit * 5, h * 0.16, style=_BOLD, lines=1)  # fmt: skip
        event_size = self.series_size([p.label for p in c.points], col * 0.9,
                                      h * 0.5 - unit * 5, h * 0.1, lines=3)  # fmt: skip
        self.scene.add(
            f'<rect x="{x:.1f}" y="{ly - unit * 0.5:.1f}" width="{w:.1f}" height="{unit:.1f}" fill="{self.p.text}" fill-opacity="0.4"/>'
        )
        for i, (p, color) in enumerate(zip(c.points, self.colors(n), strict=True)):
            cx = x + (i + 0.5) * col
            self.scene.add(
                f'<circle cx="{cx:.1f}" cy="{ly:.1f}" r="{unit * 3:.1f}" fill="{color}"/>'
            )
            self.label(p.text, cx - col * 0.44, y, col * 0.88, h * 0.45 - unit * 5, style=_BOLD,
                       size=year_size, lines=1, valign=1.0)  # fmt: skip
            self.label(p.label, cx - col / 2 + col * 0.05, ly + unit * 5, col * 0.9,
                       h * 0.5 - unit * 5, size=event_size, lines=3)  # fmt: skip
