"""Text shaping and layout for the ``compose`` engine.

Text is shaped with HarfBuzz (uharfbuzz), ordered with the Unicode bidi algorithm
(python-bidi's pure-python implementation) and emitted as SVG glyph outline paths,
so the SVG is self-contained and what we measure is exactly what gets drawn.

Contracts:

* :meth:`FontLibrary.fit` never returns a block that overflows its box: it shrinks
  below ``min_size`` (down to 1 px) and breaks inside words as a last resort.
* Widths are advance widths widened by any ink overhang, heights include the
  ascent of the tallest glyph and the descent of the deepest one.
* Nothing is loaded at import time; fonts, shaping results and glyph outlines are
  cached per :class:`FontLibrary` behind one lock.
"""

from __future__ import annotations

import threading
import unicodedata
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any, Literal

import uharfbuzz as hb
from bidi.algorithm import (
    explicit_embed_and_overrides,
    get_base_level,
    get_embedding_levels,
    get_empty_storage,
    resolve_implicit_levels,
    resolve_neutral_types,
    resolve_weak_types,
)

Family = Literal["sans", "serif", "display", "mono"]
Align = Literal["start", "center", "end"]

DEFAULT_FONT_DIRS: tuple[Path, ...] = (
    Path("/usr/share/fonts/truetype/noto"),
    Path("/usr/share/fonts/opentype/noto"),
    Path("/usr/share/fonts/truetype/dejavu"),
)

# Font slots: name -> candidate (regular, bold) file names, first found wins.
_SLOTS: dict[str, tuple[tuple[str, str], ...]] = {
    "sans": (("NotoSans-Regular.ttf", "NotoSans-Bold.ttf"),),
    "serif": (("NotoSerif-Regular.ttf", "NotoSerif-Bold.ttf"),),
    "display": (("NotoSansDisplay-Regular.ttf", "NotoSansDisplay-Bold.ttf"),),
    "mono": (
        ("NotoSansMono-Regular.ttf", "NotoSansMono-Bold.ttf"),
        ("DejaVuSansMono.ttf", "DejaVuSansMono-Bold.ttf"),
    ),
    "arabic": (("NotoSansArabic-Regular.ttf", "NotoSansArabic-Bold.ttf"),),
    "arabic-serif": (("NotoNaskhArabic-Regular.ttf", "NotoNaskhArabic-Bold.ttf"),),
    "hebrew": (("NotoSansHebrew-Regular.ttf", "NotoSansHebrew-Bold.ttf"),),
    "hebrew-serif": (("NotoSerifHebrew-Regular.ttf", "NotoSerifHebrew-Bold.ttf"),),
    "deva": (("NotoSansDevanagari-Regular.ttf", "NotoSansDevanagari-Bold.ttf"),),
    "deva-serif": (("NotoSerifDevanagari-Regular.ttf", "NotoSerifDevanagari-Bold.ttf"),),
    "cjk": (("NotoSansCJK-Regular.ttc", "NotoSansCJK-Bold.ttc"),),
    "cjk-serif": (("NotoSerifCJK-Regular.ttc", "NotoSerifCJK-Bold.ttc"),),
    "symbols": (("DejaVuSans.ttf", "DejaVuSans-Bold.ttf"),),
}
# Slots whose absence is tolerated silently because a sibling slot covers them.
_OPTIONAL_SLOTS = frozenset({"mono", "deva-serif", "symbols"})
_CJK_FACE = {"jp": 0, "kr": 1, "sc": 2, "tc": 3}
# Closing punctuation may not start a line; opening punctuation may not end one.
_NO_BREAK_BEFORE = frozenset(")]}.,;:!?%。、，．！？：；」』）〕】〉》｝〙〗ー々〜・…‼⁇")
_NO_BREAK_AFTER = frozenset("([{「『（〔【〈《｛〘〖$£¥€")
_BREAK_AFTER = frozenset("-/—–‐")
_SHAPE_CACHE_SIZE = 4096
_PARA_CACHE_SIZE = 512

FontKey = tuple[str, int]
Glyph = tuple[str, float, float, float]  # (path d, x px, baseline-relative y px, scale)


@dataclass(frozen=True, slots=True)
class TextStyle:
    """Font family and weight of a text block."""

    family: Family = "sans"
    bold: bool = False


@dataclass(frozen=True, slots=True)
class _Line:
    width: float  # advance width, px
    ink_left: float  # leftmost ink relative to the line origin (<= 0 when overhanging)
    ink_right: float  # rightmost ink extent, >= width when overhanging
    top: float  # ink above the baseline, px
    bottom: float  # ink below the baseline, px
    glyphs: tuple[Glyph, ...]


@dataclass(frozen=True)
class TextBlock:
    """A laid-out, size-fitted block of text; :meth:`svg` draws it as glyph paths."""

    lines: tuple[str, ...]
    size: float
    width: float
    height: float
    rtl: bool
    align: Align = "center"
    ascent: float = 0.0  # px from the block top to the first baseline
    line_height: float = 1.2
    _layout: tuple[_Line, ...] = field(default=(), repr=False, compare=False)

    def svg(
        self,
        x: float,
        y: float,
        box_width: float,
        fill: str,
        *,
        opacity: float = 1.0,
        stroke: str | None = None,
        stroke_width: float = 0.0,
    ) -> str:
        """Return a ``<g>`` drawing the block with the box's top-left at ``(x, y)``.

        Lines are aligned inside ``box_width`` (``start`` means right for RTL blocks)
        and clamped so their ink stays within the box.
        """
        label = escape(" ".join(self.lines), quote=True)
        attrs = f' aria-label="{label}" fill="{escape(fill, quote=True)}"'
        if opacity < 1.0:
            attrs += f' opacity="{_num(opacity)}"'
        if stroke:
            attrs += f' stroke="{escape(stroke, quote=True)}" stroke-linejoin="round"'
        side = {
            "start": "right" if self.rtl else "left",
            "center": "center",
            "end": "left" if self.rtl else "right",
        }[self.align]
        parts = [f"<g{attrs}>"]
        step = self.size * self.line_height
        for i, line in enumerate(self._layout):
            if side == "left":
                ox = 0.0
            elif side == "right":
                ox = box_width - line.width
            else:
                ox = (box_width - line.width) / 2
            # Keep overhanging ink (italic swashes, negative bearings) inside the box.
            ox = min(max(ox, -line.ink_left), box_width - line.ink_right)
            ox = max(ox, -line.ink_left)
            bx = x + ox
            by = y + self.ascent + i * step
            for d, gx, gy, scale in line.glyphs:
                sw = ""
                if stroke and stroke_width > 0:
                    sw = f' stroke-width="{_num(stroke_width / scale)}"'
                parts.append(
                    f'<path transform="translate({_num(bx + gx)} {_num(by + gy)}) '
                    f'scale({_num(scale, 5)} {_num(-scale, 5)})"{sw} d="{d}"/>'
                )
        parts.append("</g>")
        return "".join(parts)


def _num(v: float, digits: int = 2) -> str:
    r = round(v, digits)
    if r == int(r):
        return str(int(r))
    return repr(r)


class _PathPen:
    """fontTools-style pen that accumulates SVG path data in font units."""

    def __init__(self) -> None:
        self.out: list[str] = []

    def moveTo(self, p: tuple[float, float]) -> None:  # noqa: N802 - pen protocol
        self.out.append(f"M{_num(p[0])} {_num(p[1])}")

    def lineTo(self, p: tuple[float, float]) -> None:  # noqa: N802
        self.out.append(f"L{_num(p[0])} {_num(p[1])}")

    def qCurveTo(self, *pts: tuple[float, float]) -> None:  # noqa: N802
        self.out.append("Q" + " ".join(f"{_num(a)} {_num(b)}" for a, b in pts))

    def curveTo(self, *pts: tuple[float, float]) -> None:  # noqa: N802
        self.out.append("C" + " ".join(f"{_num(a)} {_num(b)}" for a, b in pts))

    def closePath(self) -> None:  # noqa: N802
        self.out.append("Z")


@dataclass
class _Font:
    hb_font: Any
    upem: int
    cmap: dict[int, bool] = field(default_factory=dict)

    def has(self, cp: int) -> bool:
        got = self.cmap.get(cp)
        if got is None:
            got = self.cmap[cp] = self.hb_font.get_nominal_glyph(cp) is not None
        return got


@dataclass(frozen=True)
class _Para:
    """Logical analysis of one paragraph (one ``\\n``-separated piece), size-free."""

    text: str
    base: int
    levels: tuple[int, ...]
    fonts: tuple[FontKey, ...]
    adv: tuple[float, ...]  # per char advance in em (cluster advance on its first char)
    words: tuple[tuple[int, int, int, float, float], ...]  # start, end, end+spaces, w, sp
    char_breaks: frozenset[int]  # grapheme-safe positions for last-resort breaks
    ink_top: float  # em
    ink_bottom: float  # em, positive downwards


def _script(ch: str) -> str:
    """Coarse script class used for font choice and line breaking."""
    cp = ord(ch)
    if cp in (0x200C, 0x200D) or 0xFE00 <= cp <= 0xFE0F or unicodedata.category(ch)[0] == "M":
        return "mark"
    if 0x0590 <= cp <= 0x05FF or 0xFB1D <= cp <= 0xFB4F:
        return "hebrew"
    if (0x0600 <= cp <= 0x08FF and not 0x0700 <= cp <= 0x074F) or 0xFB50 <= cp <= 0xFEFF:
        return "arabic"
    if 0x0900 <= cp <= 0x097F or 0xA8E0 <= cp <= 0xA8FF:
        return "deva"
    if 0xAC00 <= cp <= 0xD7FF or 0x1100 <= cp <= 0x11FF or 0x3130 <= cp <= 0x318F:
        return "hangul"
    if 0x3040 <= cp <= 0x30FF or 0x31F0 <= cp <= 0x31FF or 0xFF66 <= cp <= 0xFF9F:
        return "kana"
    if 0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x3FFFF:
        return "han"
    if 0xF900 <= cp <= 0xFAFF or 0x2E80 <= cp <= 0x2FDF:
        return "han"
    if 0x3000 <= cp <= 0x303F or 0xFF00 <= cp <= 0xFFEF or 0x3200 <= cp <= 0x33FF:
        return "cjkpunct"
    if unicodedata.category(ch)[0] in "ZPSNC":
        return "neutral"
    return "latin"


_CJK_SCRIPTS = frozenset({"hangul", "kana", "han", "cjkpunct"})


def _levels(text: str, base: int) -> list[int]:
    """Resolved bidi embedding levels per char (rules up to I2), as get_display does."""
    storage = get_empty_storage()
    storage["base_level"] = base
    storage["base_dir"] = ("L", "R")[base]
    get_embedding_levels(text, storage)
    for i, ch in enumerate(storage["chars"]):
        ch["i"] = i
    explicit_embed_and_overrides(storage)  # drops X9 chars (ZWJ, controls) from storage
    resolve_weak_types(storage, False)
    resolve_neutral_types(storage, False)
    resolve_implicit_levels(storage, False)
    levels: list[int | None] = [None] * len(text)
    for ch in storage["chars"]:
        levels[ch["i"]] = ch["level"]
    out: list[int] = []
    for i, lv in enumerate(levels):
        # Removed chars (ZWJ etc.) inherit the level of their predecessor.
        out.append(lv if lv is not None else (out[i - 1] if i else base))
    return out


class FontLibrary:
    """Loads fonts lazily and lays text out with them; safe to share between threads."""

    def __init__(self, font_dirs: Sequence[Path] = DEFAULT_FONT_DIRS) -> None:
        self._dirs = tuple(Path(d) for d in font_dirs)
        self._lock = threading.RLock()
        self._files: dict[str, Path] | None = None
        self._fonts: dict[FontKey, _Font] = {}
        self._paths: dict[tuple[FontKey, int], str] = {}
        self._ink: dict[tuple[FontKey, int], tuple[float, float, float, float]] = {}
        self._shapes: OrderedDict[tuple[str, FontKey, bool], tuple[Any, ...]] = OrderedDict()
        self._paras: OrderedDict[tuple[str, TextStyle, int, str], _Para] = OrderedDict()

    # -- font discovery -------------------------------------------------------------
    def _file_index(self) -> dict[str, Path]:
        if self._files is None:
            files: dict[str, Path] = {}
            for d in self._dirs:
                if d.is_dir():
                    for p in sorted(d.rglob("*")):
                        if p.suffix.lower() in (".ttf", ".otf", ".ttc"):
                            files.setdefault(p.name, p)
            self._files = files
        return self._files

    def _slot(self, slot: str, bold: bool) -> Path | None:
        files = self._file_index()
        for pair in _SLOTS[slot]:
            p = files.get(pair[1] if bold else pair[0])
            if p is not None:
                return p
        return None

    def missing_fonts(self) -> list[str]:
        """Required font files (by preferred name) for which no candidate was found."""
        with self._lock:
            return [
                _SLOTS[slot][0][bold]
                for slot in _SLOTS
                if slot not in _OPTIONAL_SLOTS
                for bold in (0, 1)
                if self._slot(slot, bool(bold)) is None
            ]

    def _font(self, key: FontKey) -> _Font:
        font = self._fonts.get(key)
        if font is None:
            face = hb.Face(hb.Blob.from_file_path(key[0]), key[1])
            hb_font = hb.Font(face)
            upem = int(face.upem)
            hb_font.scale = (upem, upem)  # work in font units; scale at emit time
            font = self._fonts[key] = _Font(hb_font, upem)
        return font

    def _chain(self, style: TextStyle, cjk_face: int) -> dict[str, list[FontKey]]:
        """Font preference lists per script class for ``style``."""
        serif = style.family == "serif"
        b = style.bold

        def pick(*slots: str) -> list[FontKey]:
            out: list[FontKey] = []
            for s in slots:
                p = self._slot(s, b)
                if p is not None:
                    key = (str(p), cjk_face if p.suffix.lower() == ".ttc" else 0)
                    if key not in out:
                        out.append(key)
            return out

        latin = pick(style.family, "sans")
        arabic = pick("arabic-serif", "arabic") if serif else pick("arabic", "arabic-serif")
        hebrew = pick("hebrew-serif", "hebrew") if serif else pick("hebrew", "hebrew-serif")
        deva = pick("deva-serif", "deva") if serif else pick("deva", "deva-serif")
        cjk = pick("cjk-serif", "cjk") if serif else pick("cjk", "cjk-serif")
        rest = latin + arabic + hebrew + deva + cjk + pick("symbols")

        def chain(first: list[FontKey]) -> list[FontKey]:
            return first + [k for k in rest if k not in first]

        chains = {
            "latin": chain(latin),
            "neutral": chain(latin),
            "arabic": chain(arabic),
            "hebrew": chain(hebrew),
            "deva": chain(deva),
        }
        for s in _CJK_SCRIPTS:
            chains[s] = chain(cjk)
        return chains

    # -- shaping --------------------------------------------------------------------
    def _shape(self, text: str, key: FontKey, rtl: bool) -> tuple[Any, ...]:
        """Shape one run; returns ((gid, cluster, x_adv, x_off, y_off), ...) in font units."""
        ck = (text, key, rtl)
        hit = self._shapes.get(ck)
        if hit is not None:
            self._shapes.move_to_end(ck)
            return hit
        buf = hb.Buffer()
        buf.add_str(text)
        buf.direction = "rtl" if rtl else "ltr"
        buf.guess_segment_properties()
        hb.shape(self._font(key).hb_font, buf, {})
        res = tuple(
            (info.codepoint, info.cluster, pos.x_advance, pos.x_offset, pos.y_offset)
            for info, pos in zip(buf.glyph_infos, buf.glyph_positions, strict=True)
        )
        self._shapes[ck] = res
        if len(self._shapes) > _SHAPE_CACHE_SIZE:
            self._shapes.popitem(last=False)
        return res

    def _glyph_path(self, key: FontKey, gid: int) -> str:
        gk = (key, gid)
        d = self._paths.get(gk)
        if d is None:
            pen = _PathPen()
            self._font(key).hb_font.draw_glyph_with_pen(gid, pen)
            d = self._paths[gk] = "".join(pen.out)
        return d

    def _glyph_ink(self, key: FontKey, gid: int) -> tuple[float, float, float, float]:
        """Ink box (x_min, x_max, y_top, y_bottom) in em, y up."""
        gk = (key, gid)
        ink = self._ink.get(gk)
        if ink is None:
            font = self._font(key)
            e = font.hb_font.get_glyph_extents(gid)
            u = font.upem
            if e is None or e.width == 0:
                ink = (0.0, 0.0, 0.0, 0.0)
            else:
                ink = (
                    e.x_bearing / u,
                    (e.x_bearing + e.width) / u,
                    e.y_bearing / u,
                    (e.y_bearing + e.height) / u,
                )
            self._ink[gk] = ink
        return ink

    @staticmethod
    def _runs(levels: Sequence[int], fonts: Sequence[FontKey]) -> list[tuple[int, int]]:
        runs: list[tuple[int, int]] = []
        start = 0
        for i in range(1, len(levels) + 1):
            if i == len(levels) or levels[i] != levels[start] or fonts[i] != fonts[start]:
                runs.append((start, i))
                start = i
        return runs

    # -- paragraph analysis ---------------------------------------------------------
    def _para(self, text: str, style: TextStyle, base: int, cjk: str) -> _Para:
        ck = (text, style, base, cjk)
        hit = self._paras.get(ck)
        if hit is not None:
            return hit
        chains = self._chain(style, _CJK_FACE[cjk])
        scripts = [_script(ch) for ch in text]
        fonts: list[FontKey | None] = [None] * len(text)
        for i, (ch, sc) in enumerate(zip(text, scripts, strict=True)):
            if sc not in ("mark", "neutral"):
                chain = chains[sc]
                fonts[i] = next((k for k in chain if self._font(k).has(ord(ch))), chain[0])
        for i, (ch, sc) in enumerate(zip(text, scripts, strict=True)):
            if sc == "mark":
                # Marks, ZWJ and selectors must be shaped with their base character.
                fonts[i] = fonts[i - 1] if i else None
            if fonts[i] is None:
                prev = fonts[i - 1] if i else None
                nxt = next((f for f in fonts[i + 1 :] if f is not None), None)
                cands = [k for k in (prev, nxt) if k is not None] + chains["neutral"]
                fonts[i] = next((k for k in cands if self._font(k).has(ord(ch))), cands[0])
        fkeys: list[FontKey] = [f for f in fonts if f is not None]
        levels = _levels(text, base)
        adv = [0.0] * len(text)
        top, bottom = 0.0, 0.0
        for s, e in self._runs(levels, fkeys):
            upem = self._font(fkeys[s]).upem
            for gid, cl, xa, _xo, yo in self._shape(text[s:e], fkeys[s], levels[s] % 2 == 1):
                adv[s + cl] += xa / upem
                ink = self._glyph_ink(fkeys[s], gid)
                top = max(top, ink[2] + yo / upem)
                bottom = max(bottom, -(ink[3] + yo / upem))
        # Break opportunities: index where a new line may begin.
        no_space = " " not in text
        breaks: list[int] = []
        for i in range(1, len(text)):
            a, b = text[i - 1], text[i]
            sa, sb = scripts[i - 1], scripts[i]
            if b == " " or b in _NO_BREAK_BEFORE or a in _NO_BREAK_AFTER or sb == "mark":
                continue
            after_space_or_dash = a == " " or (a in _BREAK_AFTER and i > 1 and text[i - 2] != " ")
            # Hangul breaks between syllables only when the text has no spaces.
            cjk_break = (sa in _CJK_SCRIPTS or sb in _CJK_SCRIPTS) and (
                no_space or (sa != "hangul" and sb != "hangul")
            )
            if after_space_or_dash or cjk_break:
                breaks.append(i)
        words: list[tuple[int, int, int, float, float]] = []
        for s, e in zip([0, *breaks], [*breaks, len(text)], strict=True):
            c = e
            while c > s and text[c - 1] == " ":
                c -= 1
            words.append((s, c, e, sum(adv[s:c]), sum(adv[c:e])))
        char_breaks = frozenset(
            i
            for i in range(1, len(text))
            if scripts[i] != "mark"
            and text[i - 1] != "\u200d"
            and unicodedata.combining(text[i - 1]) != 9  # keep virama conjuncts whole
        )
        para = _Para(
            text,
            base,
            tuple(levels),
            tuple(fkeys),
            tuple(adv),
            tuple(words),
            char_breaks,
            top,
            bottom,
        )
        self._paras[ck] = para
        if len(self._paras) > _PARA_CACHE_SIZE:
            self._paras.popitem(last=False)
        return para

    def _analyse(self, text: str, style: TextStyle) -> tuple[int, list[_Para]]:
        base = get_base_level(text)
        cjk = "sc"
        if any(_script(c) == "hangul" for c in text):
            cjk = "kr"
        elif any(_script(c) == "kana" for c in text):
            cjk = "jp"
        return base, [self._para(p, style, base, cjk) for p in text.split("\n")]

    @staticmethod
    def _wrap(para: _Para, max_em: float) -> list[tuple[int, int]]:
        """Greedy line breaking in em units; returns (start, end) char ranges."""
        lines: list[tuple[int, int]] = []
        cur_start, cur_end, cur_w = -1, -1, 0.0
        adv = para.adv
        for s, c, _e, w, sp in para.words:
            if cur_start >= 0 and cur_w + w <= max_em:
                cur_end, cur_w = c, cur_w + w + sp
                continue
            if cur_start >= 0:
                lines.append((cur_start, cur_end))
            if w > max_em:  # last resort: break the word between grapheme clusters
                ls, lw = s, 0.0
                for i in range(s, c):
                    if i > ls and i in para.char_breaks and lw + adv[i] > max_em:
                        lines.append((ls, i))
                        ls, lw = i, 0.0
                    lw += adv[i]
                cur_start, cur_end, cur_w = ls, c, lw + sp
            else:
                cur_start, cur_end, cur_w = s, c, w + sp
        lines.append((max(cur_start, 0), max(cur_end, 0)))
        return lines

    def _layout_line(self, para: _Para, s: int, e: int, size: float) -> _Line:
        """Shape a line's runs in logical order, then place them visually (rule L2)."""
        if e <= s:
            return _Line(0.0, 0.0, 0.0, 0.0, 0.0, ())
        levels = list(para.levels[s:e])
        runs = self._runs(levels, para.fonts[s:e])
        order = list(range(len(runs)))
        run_lv = [levels[r[0]] for r in runs]
        hi = max(run_lv)
        lo_odd = min((lv for lv in run_lv if lv % 2), default=hi + 1)
        for lv in range(hi, lo_odd - 1, -1):
            i = 0
            while i < len(order):
                if run_lv[order[i]] >= lv:
                    j = i
                    while j < len(order) and run_lv[order[j]] >= lv:
                        j += 1
                    order[i:j] = order[i:j][::-1]
                    i = j
                else:
                    i += 1
        glyphs: list[Glyph] = []
        x, ink_l, ink_r, top, bottom = 0.0, 0.0, 0.0, 0.0, 0.0
        for ri in order:
            rs, re_ = runs[ri]
            key = para.fonts[s + rs]
            scale = size / self._font(key).upem
            for gid, _cl, xa, xo, yo in self._shape(
                para.text[s + rs : s + re_], key, run_lv[ri] % 2 == 1
            ):
                gx = x + xo * scale
                d = self._glyph_path(key, gid)
                if d:
                    ink = self._glyph_ink(key, gid)
                    ink_l = min(ink_l, gx + ink[0] * size)
                    ink_r = max(ink_r, gx + ink[1] * size)
                    top = max(top, ink[2] * size + yo * scale)
                    bottom = max(bottom, -ink[3] * size - yo * scale)
                    glyphs.append((d, gx, -yo * scale, scale))
                x += xa * scale
        return _Line(x, ink_l, max(ink_r, x), top, bottom, tuple(glyphs))

    # -- public API -----------------------------------------------------------------
    def measure(self, text: str, style: TextStyle, size: float) -> float:
        """Advance width in px of ``text`` set on one line (widest piece if it has \\n)."""
        with self._lock:
            _, paras = self._analyse(text, style)
            return max(sum(p.adv) for p in paras) * size

    def fit(
        self,
        text: str,
        style: TextStyle,
        box_width: float,
        box_height: float,
        *,
        max_size: float,
        min_size: float = 6.0,
        max_lines: int = 6,
        line_height: float = 1.2,
        align: Align = "center",
    ) -> TextBlock:
        """Largest size <= ``max_size`` at which the wrapped text fits the box.

        Below ``min_size`` it keeps shrinking to 1 px rather than overflow; at 1 px
        the result is returned even if it still does not fit (degenerate boxes).
        """
        if not text.strip():
            return TextBlock((), max_size, 0.0, 0.0, False, align, 0.0, line_height)
        text = text.strip()
        with self._lock:
            base, paras = self._analyse(text, style)
            asc = max(max(p.ink_top for p in paras), 0.8)
            desc = max(max(p.ink_bottom for p in paras), 0.25)

            longest_word = max((w[3] for p in paras for w in p.words), default=0.0)
            allow_breaks = False

            def wrap(size: float) -> list[tuple[_Para, int, int]] | None:
                max_em = box_width / size
                if not allow_breaks and longest_word > max_em:
                    return None  # a smaller size beats breaking inside a word
                out = [(p, s, e) for p in paras for s, e in self._wrap(p, max_em)]
                n = len(out)
                if n > max_lines or (asc + desc + (n - 1) * line_height) * size > box_height:
                    return None
                return out

            def search(lo: float, hi: float) -> float | None:
                if wrap(hi) is not None:
                    return hi
                if wrap(lo) is None:
                    return None
                for _ in range(14):  # about 1e-4 of the range
                    mid = (lo + hi) / 2
                    lo, hi = (mid, hi) if wrap(mid) is not None else (lo, mid)
                return lo

            low = min(min_size, max_size)
            size = search(low, max_size)
            if size is None:
                allow_breaks = True
                size = search(low, max_size) or search(1.0, low)
            if size is None:
                allow_breaks = False
                size = search(1.0, low)
            if size is None:
                allow_breaks = True
                size = search(1.0, low) or 1.0
            for _ in range(40):
                # Whole-paragraph shaping approximates line widths; verify real lines.
                lines = wrap(size) or [
                    (p, s, e) for p in paras for s, e in self._wrap(p, box_width / size)
                ]
                layout = [self._layout_line(p, s, e, size) for p, s, e in lines]
                a = max(asc * size, *(ln.top for ln in layout))
                d = max(desc * size, layout[-1].bottom)
                height = a + d + (len(lines) - 1) * line_height * size
                widest = max(ln.ink_right - ln.ink_left for ln in layout)
                if (widest <= box_width and height <= box_height) or size <= 1.0:
                    break
                size = max(1.0, size * 0.97)
            return TextBlock(
                tuple(p.text[s:e] for p, s, e in lines),
                size,
                max(ln.width for ln in layout),
                height,
                base == 1,
                align,
                a,
                line_height,
                tuple(layout),
            )
