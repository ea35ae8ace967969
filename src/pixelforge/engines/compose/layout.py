"""Brief + size + seed -> scene. The seed picks palette, decoration, alignment and icon.

All measures derive from the canvas (``u`` = 1% of the short edge), so one design works at
every aspect ratio from 1:4 to 4:1 and every tier up to 4K. Text is fitted into boxes by the
font library, so nothing overflows.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast

from pixelforge.domain import ImageInput, Size
from pixelforge.engines.compose.brief import Brief, Style
from pixelforge.engines.compose.charts import ChartPainter
from pixelforge.engines.compose.icons import IconSet
from pixelforge.engines.compose.palette import (
    STYLES,
    Palette,
    StylePreset,
    mix,
    palette_from_colors,
    readable_on,
)
from pixelforge.engines.compose.scene import ImageLayer, Scene
from pixelforge.engines.compose.text import Align, Family, FontLibrary, TextBlock, TextStyle

_DEFAULT_STYLE: dict[str, Style] = {
    "poster": "minimal", "banner": "corporate", "social": "playful", "thumbnail": "bold",
    "product_card": "minimal", "infographic": "corporate", "ui_mockup": "minimal",
    "quote_card": "elegant",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Box:
    x: float
    y: float
    w: float
    h: float


@dataclass(frozen=True, slots=True)
class _Item:
    text: str
    style: TextStyle
    size: float  # max font size
    weight: float  # share of the stack's height
    lines: int
    color: str
    button: bool = False


class Designer:
    """Lays out one brief on one canvas."""

    def __init__(
        self, brief: Brief, size: Size, seed: int, fonts: FontLibrary, icons: IconSet,
        hero: ImageInput | None = None, transparent: bool = False,
        focus: tuple[float, float] = (0.5, 0.5), hero_as_background: bool = False,
        pad_hero: bool = False, logo: ImageInput | None = None,
        brand_fonts: Mapping[str, str] | None = None,
    ) -> None:  # fmt: skip
        self.b = brief
        self.cw, self.ch = size.width, size.height
        self.rng = random.Random(seed)
        self.fonts = fonts
        self.icons = icons
        self.hero = hero
        self.transparent = transparent
        self.focus = focus
        self.pad_hero = pad_hero
        self.hero_as_background = hero_as_background and hero is not None
        self.u = min(self.cw, self.ch) / 100
        self.style_name: Style = brief.style or _DEFAULT_STYLE[brief.kind]
        self.preset: StylePreset = STYLES[self.style_name]
        base = self.rng.choice(self.preset.palettes)
        self.p: Palette = palette_from_colors(list(brief.palette), base)
        # A brand kit's fonts (``headline``, ``body``) win over the brief's and the style's.
        chosen = brand_fonts or {}
        self.family: Family = cast(Family, chosen.get("headline") or brief.font or self.preset.font)
        self.body_family: Family = cast(Family, chosen.get("body") or "sans")
        self.logo = logo
        self.align: Align = "center"
        if brief.layout in ("left", "right") or (
            brief.layout is None and self.rng.random() < 0.35 and brief.kind != "quote_card"
        ):
            self.align = "start"
        self.decoration = self.rng.choice(self.preset.decorations)
        self.scene = Scene(self.cw, self.ch, title=brief.headline or "")

    # -- primitives -------------------------------------------------------------------
    def fit(self, item: _Item, w: float, h: float) -> TextBlock:
        return self.fonts.fit(
            item.text, item.style, w, h, max_size=item.size, max_lines=item.lines,
            align="center" if item.button else self.align,
        )  # fmt: skip

    def icon(self, char: str, x: float, y: float, size: float, opacity: float = 1.0) -> None:
        inner = self.icons.svg_inner(char)
        op = f' opacity="{opacity:.2f}"' if opacity < 1 else ""
        self.scene.add(
            f'<g transform="translate({x:.1f} {y:.1f}) scale({size / 36:.4f})"{op}>{inner}</g>'
        )

    def background(self) -> None:
        cw, ch, p, u = self.cw, self.ch, self.p, self.u
        if self.transparent:
            return
        if self.preset.gradient or len(self.b.palette) > 1:
            angle = self.rng.choice([(0, 0, 0, 1), (0, 0, 1, 1), (1, 0, 0, 1), (0, 1, 1, 0)])
            self.scene.defs.append(
                '<linearGradient id="bg" x1="{}" y1="{}" x2="{}" y2="{}">'.format(*angle)
                + f'<stop offset="0" stop-color="{p.background}"/>'
                f'<stop offset="1" stop-color="{p.background2}"/></linearGradient>'
            )
            self.scene.add(f'<rect width="{cw}" height="{ch}" fill="url(#bg)"/>')
        else:
            self.scene.add(f'<rect width="{cw}" height="{ch}" fill="{p.background}"/>')
        r = self.rng
        deco = self.decoration
        if deco == "circles":
            for _ in range(3):
                cx, cy = r.uniform(0, cw), r.uniform(0, ch)
                rad = r.uniform(18, 45) * u
                color = r.choice([p.accent, p.accent2])
                self.scene.add(
                    f'<circle cx="{cx:.0f}" cy="{cy:.0f}" r="{rad:.0f}" fill="{color}" fill-opacity="0.12"/>'
                )
        elif deco == "stripes":
            step = r.uniform(6, 10) * u
            color = mix(p.background, p.accent, 0.25)
            d = "".join(f"M{x:.0f},0 l{ch:.0f},{ch:.0f} h{step / 2:.0f} l-{ch:.0f},-{ch:.0f} Z"
                        for x in _frange(-ch, cw, step))  # fmt: skip
            self.scene.add(f'<path d="{d}" fill="{color}" fill-opacity="0.35"/>')
        elif deco == "dots":
            step = r.uniform(5, 8) * u
            color = r.choice([p.accent, p.accent2])
            d = "".join(f"M{x:.0f},{y:.0f} m-{u * 0.6:.1f},0 a{u * 0.6:.1f},{u * 0.6:.1f} 0 1,0 {u * 1.2:.1f},0 a{u * 0.6:.1f},{u * 0.6:.1f} 0 1,0 -{u * 1.2:.1f},0"
                        for x in _frange(step / 2, cw, step) for y in _frange(step / 2, ch, step))  # fmt: skip
            self.scene.add(f'<path d="{d}" fill="{color}" fill-opacity="0.18"/>')
        elif deco == "grid":
            step = r.uniform(7, 11) * u
            color = p.accent
            d = "".join(f"M{x:.0f},0 V{ch}" for x in _frange(0, cw, step))
            d += "".join(f"M0,{y:.0f} H{cw}" for y in _frange(0, ch, step))
            self.scene.add(
                f'<path d="{d}" stroke="{color}" stroke-opacity="0.12" stroke-width="{max(u * 0.15, 1):.1f}" fill="none"/>'
            )
        elif deco == "frame":
            m = 3.2 * u
            self.scene.add(
                f'<rect x="{m:.0f}" y="{m:.0f}" width="{cw - 2 * m:.0f}" height="{ch - 2 * m:.0f}" fill="none" stroke="{p.accent}" stroke-width="{max(u * 0.4, 1):.1f}"/>'
            )
        elif deco == "waves":
            for k in range(3):
                y0 = ch * (0.72 + 0.09 * k)
                amp = r.uniform(2, 5) * u
                d = (
                    f"M0,{y0:.0f} "
                    + " ".join(
                        f"Q{x + cw / 8:.0f},{y0 - amp if i % 2 == 0 else y0 + amp:.0f} {x + cw / 4:.0f},{y0:.0f}"
                        for i, x in enumerate(_frange(0, cw, cw / 4))
                    )
                    + f" V{ch} H0 Z"
                )
                self.scene.add(
                    f'<path d="{d}" fill="{p.accent}" fill-opacity="{0.08 + 0.04 * k:.2f}"/>'
                )
        elif deco == "sunburst":
            cx, cy = cw * r.choice([0.2, 0.5, 0.8]), ch * r.choice([0.2, 0.8])
            rays = []
            for k in range(0, 24, 2):
                a1, a2 = k * math.pi / 12, (k + 1) * math.pi / 12
                reach = max(cw, ch) * 1.5
                rays.append(
                    f"M{cx:.0f},{cy:.0f} L{cx + reach * math.cos(a1):.0f},{cy + reach * math.sin(a1):.0f} L{cx + reach * math.cos(a2):.0f},{cy + reach * math.sin(a2):.0f} Z"
                )
            self.scene.add(f'<path d="{"".join(rays)}" fill="{p.accent}" fill-opacity="0.1"/>')

    def stack(self, items: list[_Item], box: Box, valign: float = 0.5) -> None:
        """Fit texts top to bottom into ``box``, sharing its height by weight."""
        if not items:
            return
        gap = 2.2 * self.u
        total_w = sum(i.weight for i in items)
        avail = box.h - gap * (len(items) - 1)
        blocks: list[tuple[_Item, TextBlock]] = []
        for item in items:
            h = avail * item.weight / total_w
            w = box.w * (0.7 if item.button else 1.0)
            blocks.append((item, self.fit(item, w, h * (0.62 if item.button else 1.0))))
        used = sum(b.height * (1.9 if it.button else 1.0) for it, b in blocks) + gap * (
            len(blocks) - 1
        )
        y = box.y + (box.h - used) * valign
        for item, block in blocks:
            if item.button:
                bw = block.width + 6 * block.size / 2 + 2 * self.u
                bh = block.height * 1.9
                bx = {
                    "center": box.x + (box.w - bw) / 2,
                    "start": box.x,
                    "end": box.x + box.w - bw,
                }[self.align]
                if block.rtl and self.align == "start":
                    bx = box.x + box.w - bw
                self.scene.add(
                    f'<rect x="{bx:.1f}" y="{y:.1f}" width="{bw:.1f}" height="{bh:.1f}" rx="{bh / 2:.1f}" fill="{self.p.accent}"/>'
                )
                self.scene.add(block.svg(bx, y + (bh - block.height) / 2, bw, item.color))
                y += bh + gap
            else:
                self.scene.add(block.svg(box.x, y, box.w, item.color))
                y += block.height + gap

    # -- content ------------------------------------------------------------------------
    def text_items(self, scale: float = 1.0) -> list[_Item]:
        b, p, u = self.b, self.p, self.u
        head_style = TextStyle(self.family, bold=self.preset.headline_bold)
        headline = b.headline
        if headline and self.preset.uppercase and headline.isascii():
            headline = headline.upper()
        items: list[_Item] = []
        if headline:
            # Long headlines may take more lines, so they stay large instead of shrinking.
            lines = 4 if len(headline) <= 40 else 10
            items.append(_Item(headline, head_style, 16 * u * scale, 3.2, lines, p.text))
        if b.subtitle:
            items.append(_Item(b.subtitle, TextStyle(self.family), 6.5 * u * scale, 1.3, 3,
                               mix(p.text, p.accent, 0.25)))  # fmt: skip
        if b.body:
            items.append(
                _Item(b.body, TextStyle(self.body_family), 4.5 * u * scale, 2.0, 6, p.text)
            )
        if b.labels:
            weight = 0.9 if len(b.labels) <= 2 else 0.6
            for label in b.labels:
                items.append(_Item(label, TextStyle(self.body_family, bold=True), 5 * u * scale, weight, 2,
                                   mix(p.text, p.accent2, 0.3)))  # fmt: skip
        if b.attribution:
            items.append(_Item(f"— {b.attribution}", TextStyle(self.family), 4.5 * u * scale,
                               0.8, 1, mix(p.text, p.accent, 0.3)))  # fmt: skip
        if b.cta:
            button_text = readable(p.accent)
            items.append(_Item(b.cta, TextStyle(self.body_family, bold=True), 5 * u * scale, 1.1, 1,
                               button_text, button=True))  # fmt: skip
        return items

    def hero_icons(self, box: Box) -> None:
        chars = [c for c in (self.icons.resolve(i) for i in self.b.icons) if c]
        if not chars:
            return
        main = chars[0]
        s = min(box.w, box.h) * self.rng.uniform(0.78, 0.95)
        cx, cy = box.x + box.w / 2, box.y + box.h / 2
        self.scene.add(
            f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="{s * 0.56:.1f}" fill="{self.p.accent}" fill-opacity="0.16"/>'
        )
        self.icon(main, cx - s * 0.4, cy - s * 0.4, s * 0.8)
        for k, extra in enumerate(chars[1:3]):
            es = s * 0.32
            ex = cx + (s * 0.42 if k == 0 else -s * 0.42 - es)
            ey = cy + (-s * 0.5 if k == 0 else s * 0.18)
            # Companions stay inside the hero box so they never cover the text beside it.
            ex = min(max(ex, box.x), box.x + box.w - es)
            ey = min(max(ey, box.y), box.y + box.h - es)
            self.icon(extra, ex, ey, es)

    def hero_image(self, box: Box) -> None:
        assert self.hero is not None
        fmt = self.hero.format.lower().replace("jpg", "jpeg")
        self.scene.add_image(ImageLayer(
            self.hero.data, f"image/{fmt}", box.x, box.y, box.w, box.h,
            radius=self.preset.radius * min(self.cw, self.ch) * 2, focus=self.focus,
            contain=self.pad_hero,
        ))  # fmt: skip

    def has_hero(self) -> bool:
        return self.hero is not None or self.b.chart is not None or bool(self.b.icons)

    def draw_hero(self, box: Box) -> None:
        if self.b.chart is not None:
            ChartPainter(self.scene, self.fonts, self.p).draw(
                self.b.chart, box.x, box.y, box.w, box.h
            )
        elif self.hero is not None:
            self.hero_image(box)
        else:
            self.hero_icons(box)

    # -- templates ----------------------------------------------------------------------
    def design(self) -> Scene:
        self.background()
        logo_box = self.reserve_logo() if self.logo is not None else None
        kind = self.b.kind
        if self.hero_as_background:
            self.backdrop()
        elif kind == "ui_mockup":
            self.ui_mockup()
        elif kind == "quote_card":
            self.quote_card()
        else:
            self.general(thumbnail=kind == "thumbnail", chart_first=kind == "infographic")
        if logo_box is not None:
            self.draw_logo(logo_box)
        return self.scene

    def reserve_logo(self) -> Box:
        """Place the logo in the bottom-right corner and keep a band for it free of content.

        The logo fits in 30% of the short edge by 8% (40% of the width at most), 4% from the
        edges. The templates then lay out above the band: every template keeps a margin of
        at least 6% of the short edge, so ``ch`` ends 4% below the logo's top and content
        stops at least 2% above it. The background still covers the whole canvas.
        """
        assert self.logo is not None
        u = self.u
        lw, lh = max(self.logo.width, 1), max(self.logo.height, 1)
        scale = min(min(30 * u, self.cw * 0.4) / lw, 8 * u / lh)
        w, h = lw * scale, lh * scale
        box = Box(self.cw - 4 * u - w, self.ch - 4 * u - h, w, h)
        self.ch = math.floor(box.y + 4 * u)
        return box

    def draw_logo(self, box: Box) -> None:
        assert self.logo is not None
        fmt = self.logo.format.lower().replace("jpg", "jpeg")
        self.scene.add_image(ImageLayer(self.logo.data, f"image/{fmt}", box.x, box.y, box.w,
                                        box.h, contain=True))  # fmt: skip

    def general(self, thumbnail: bool = False, chart_first: bool = False) -> None:
        cw, ch, u = self.cw, self.ch, self.u
        m = 7 * u
        ratio = cw / ch
        items = self.text_items(scale=1.25 if thumbnail else 1.0)
        hero = self.has_hero()
        if chart_first and self.b.chart is not None:
            head = [i for i in items if i.text == (self.b.headline or "")]
            rest = [i for i in items if i not in head]
            title_h = (ch - 2 * m) * (0.16 if ratio >= 1 else 0.14)
            self.stack(head, Box(m, m, cw - 2 * m, title_h), valign=0.0)
            foot_h = (ch - 2 * m) * 0.14 if rest else 0
            chart_box = Box(
                m, m + title_h + 3 * u, cw - 2 * m, ch - 2 * m - title_h - foot_h - 6 * u
            )
            self.draw_hero(chart_box)
            if rest:
                self.stack(rest, Box(m, ch - m - foot_h, cw - 2 * m, foot_h), valign=1.0)
            return
        if not hero:
            self.stack(items, Box(m, m, cw - 2 * m, ch - 2 * m))
            return
        if ratio >= 1.3:
            text_frac = 0.62 if ratio < 3 else 0.7
            side = self.b.layout == "right" or (self.b.layout is None and self.rng.random() < 0.3)
            tw = (cw - 2 * m) * text_frac
            hw = cw - 2 * m - tw - 4 * u
            tx = cw - m - tw if side else m
            hx = m if side else cw - m - hw
            self.stack(items, Box(tx, m, tw, ch - 2 * m))
            self.draw_hero(Box(hx, m, hw, ch - 2 * m))
        else:
            hero_frac = 0.42 if ratio > 0.7 else 0.45
            if self.b.layout == "bottom" or (self.b.layout is None and self.rng.random() < 0.25):
                text_box = Box(m, m, cw - 2 * m, (ch - 2 * m) * (1 - hero_frac) - 2 * u)
                hero_box = Box(
                    m, ch - m - (ch - 2 * m) * hero_frac, cw - 2 * m, (ch - 2 * m) * hero_frac
                )
            else:
                hero_box = Box(m, m, cw - 2 * m, (ch - 2 * m) * hero_frac)
                text_box = Box(
                    m, m + hero_box.h + 3 * u, cw - 2 * m, ch - 2 * m - hero_box.h - 3 * u
                )
            self.draw_hero(hero_box)
            self.stack(items, text_box, valign=0.3)

    def backdrop(self) -> None:
        """The input image fills the canvas; a scrim keeps the text readable."""
        assert self.hero is not None
        cw, ch, u = self.cw, self.ch, self.u
        full = self.scene.height  # the image and scrim cover a logo's band too
        fmt = self.hero.format.lower().replace("jpg", "jpeg")
        self.scene.add_image(
            ImageLayer(self.hero.data, f"image/{fmt}", 0, 0, cw, full, focus=self.focus)
        )
        self.scene.defs.append(
            '<linearGradient id="scrim" x1="0" y1="0" x2="0" y2="1">'
            '<stop offset="0" stop-color="#000000" stop-opacity="0.05"/>'
            '<stop offset="1" stop-color="#000000" stop-opacity="0.7"/></linearGradient>'
        )
        self.scene.add(f'<rect width="{cw}" height="{full}" fill="url(#scrim)"/>')
        self.p = Palette("#000000", "#000000", "#ffffff", self.p.accent, self.p.accent2)
        m = 7 * u
        self.stack(self.text_items(), Box(m, ch * 0.45, cw - 2 * m, ch * 0.55 - m), valign=1.0)

    def quote_card(self) -> None:
        cw, ch, u, p = self.cw, self.ch, self.u, self.p
        m = 9 * u
        mark = self.fonts.fit(
            "“", TextStyle("serif", bold=True), cw, 30 * u, max_size=32 * u, max_lines=1
        )
        self.scene.add(mark.svg(m, m * 0.6, mark.width + 1, p.accent, opacity=0.6))
        self.align = "center"
        self.stack(self.text_items(), Box(m, m + 12 * u, cw - 2 * m, ch - 2 * m - 14 * u))

    def ui_mockup(self) -> None:
        cw, ch, u = self.cw, self.ch, self.u
        m = 6 * u
        ratio = cw / ch
        caption = [
            i for i in self.text_items() if not i.button and not any(c.isdigit() for c in i.text)
        ]
        if ratio >= 1.1:
            ph = ch - 2 * m
            pw = min(ph * 0.5, (cw - 2 * m) * 0.5)
            px, py = cw - m - pw, m
            self.stack(caption[:2], Box(m, m, cw - 3 * m - pw, ch - 2 * m))
        else:
            pw = min(cw - 2 * m, (ch - 2 * m) * 0.5)
            ph = min(pw * 2.0, ch - 2 * m)
            px, py = (cw - pw) / 2, (ch - ph) / 2
        self.phone(Box(px, py, pw, ph))

    def phone(self, f: Box) -> None:
        p = self.p
        r = f.w * 0.12
        screen = mix(p.background, "#ffffff", 0.7)
        ink = "#1b1b1f"
        self.scene.add(
            f'<rect x="{f.x:.1f}" y="{f.y:.1f}" width="{f.w:.1f}" height="{f.h:.1f}" rx="{r:.1f}" fill="{ink}"/>'
        )
        bz = f.w * 0.035
        s = Box(f.x + bz, f.y + bz, f.w - 2 * bz, f.h - 2 * bz)
        self.scene.add(
            f'<rect x="{s.x:.1f}" y="{s.y:.1f}" width="{s.w:.1f}" height="{s.h:.1f}" rx="{r * 0.8:.1f}" fill="{screen}"/>'
        )
        pad = s.w * 0.07
        y = s.y + s.h * 0.06
        labels = list(self.b.labels)
        money = next((lab for lab in labels if any(ch.isdigit() for ch in lab)), None)
        title = self.b.headline or "Home"
        if money is None and any(ch.isdigit() for ch in title):
            # The amount is the message (e.g. a balance): it goes on the card, not the title bar.
            money, title = title, "Home"
        elif money is not None:
            labels.remove(money)
        block = self.fonts.fit(
            title,
            TextStyle(self.body_family, bold=True),
            s.w - 2 * pad,
            s.h * 0.06,
            max_size=s.w * 0.08,
            max_lines=1,
            align="start",
        )
        self.scene.add(block.svg(s.x + pad, y, s.w - 2 * pad, ink))
        y += s.h * 0.09
        card_h = s.h * 0.22
        self.scene.add(
            f'<rect x="{s.x + pad:.1f}" y="{y:.1f}" width="{s.w - 2 * pad:.1f}" height="{card_h:.1f}" rx="{s.w * 0.06:.1f}" fill="{p.accent}"/>'
        )
        on_card = readable(p.accent)
        cap = self.fonts.fit(
            self.b.subtitle or "Balance",
            TextStyle(self.body_family),
            s.w - 4 * pad,
            card_h * 0.22,
            max_size=s.w * 0.045,
            max_lines=1,
            align="start",
        )
        self.scene.add(cap.svg(s.x + 2 * pad, y + card_h * 0.18, s.w - 4 * pad, on_card))
        if money:
            big = self.fonts.fit(
                money,
                TextStyle(self.body_family, bold=True),
                s.w - 4 * pad,
                card_h * 0.4,
                max_size=s.w * 0.12,
                max_lines=1,
                align="start",
            )
            self.scene.add(big.svg(s.x + 2 * pad, y + card_h * 0.45, s.w - 4 * pad, on_card))
        y += card_h + s.h * 0.04
        buttons = labels + ([self.b.cta] if self.b.cta else [])
        if buttons:
            n = len(buttons[:4])
            gap = pad * 0.5
            bw = (s.w - 2 * pad - gap * (n - 1)) / n
            bh = s.h * 0.07
            for i, text in enumerate(buttons[:4]):
                bx = s.x + pad + i * (bw + gap)
                self.scene.add(
                    f'<rect x="{bx:.1f}" y="{y:.1f}" width="{bw:.1f}" height="{bh:.1f}" rx="{bh / 2:.1f}" fill="{mix(p.accent2, screen, 0.15)}"/>'
                )
                t = self.fonts.fit(
                    text,
                    TextStyle(self.body_family, bold=True),
                    bw * 0.86,
                    bh * 0.6,
                    max_size=bh * 0.45,
                    max_lines=1,
                )
                self.scene.add(
                    t.svg(
                        bx + bw * 0.07,
                        y + (bh - t.height) / 2,
                        bw * 0.86,
                        readable(mix(p.accent2, screen, 0.15)),
                    )
                )
            y += bh + s.h * 0.05
        row_h = s.h * 0.075
        while y + row_h < s.y + s.h - s.h * 0.05:
            self.scene.add(
                f'<circle cx="{s.x + pad + row_h * 0.4:.1f}" cy="{y + row_h * 0.4:.1f}" r="{row_h * 0.35:.1f}" fill="{mix(p.accent, screen, 0.6)}"/>'
                f'<rect x="{s.x + pad + row_h:.1f}" y="{y + row_h * 0.15:.1f}" width="{(s.w - 2 * pad - row_h) * self.rng.uniform(0.4, 0.9):.1f}" height="{row_h * 0.2:.1f}" rx="{row_h * 0.1:.1f}" fill="{mix(ink, screen, 0.75)}"/>'
                f'<rect x="{s.x + pad + row_h:.1f}" y="{y + row_h * 0.5:.1f}" width="{(s.w - 2 * pad - row_h) * 0.35:.1f}" height="{row_h * 0.14:.1f}" rx="{row_h * 0.07:.1f}" fill="{mix(ink, screen, 0.85)}"/>'
            )
            y += row_h


def readable(background: str) -> str:
    return readable_on(background, "#ffffff", "#111111")


def _frange(start: float, stop: float, step: float) -> list[float]:
    out, x = [], start
    while x < stop:
        out.append(x)
        x += step
    return out
