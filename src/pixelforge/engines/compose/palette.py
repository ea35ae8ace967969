"""Style presets and colour words: how a design should feel, as data."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pixelforge.engines.compose.brief import FontFamily, Style

Decoration = Literal["none", "circles", "stripes", "dots", "frame", "waves", "grid", "sunburst"]


@dataclass(frozen=True, slots=True)
class Palette:
    background: str
    background2: str
    text: str
    accent: str
    accent2: str


@dataclass(frozen=True, slots=True)
class StylePreset:
    palettes: tuple[Palette, ...]
    font: FontFamily
    headline_bold: bool
    gradient: bool
    decorations: tuple[Decoration, ...]
    radius: float  # corner radius as a fraction of the short edge
    uppercase: bool = False


def _p(bg: str, bg2: str, text: str, accent: str, accent2: str) -> Palette:
    return Palette(bg, bg2, text, accent, accent2)


STYLES: dict[Style, StylePreset] = {
    "minimal": StylePreset(
        (
            _p("#f7f5f0", "#ece8df", "#1d1d1f", "#c8553d", "#2d6a4f"),
            _p("#ffffff", "#f1f1f1", "#111111", "#3a86ff", "#8d99ae"),
            _p("#eef1f4", "#dde3ea", "#1b263b", "#e07a5f", "#3d405b"),
        ),
        "sans",
        True,
        False,
        ("none", "frame", "circles"),
        0.02,
    ),
    "bold": StylePreset(
        (
            _p("#ffbe0b", "#fb5607", "#111111", "#ff006e", "#3a0ca3"),
            _p("#e63946", "#9d0208", "#ffffff", "#ffd60a", "#1d3557"),
            _p("#3a0ca3", "#7209b7", "#ffffff", "#f72585", "#4cc9f0"),
        ),
        "display",
        True,
        True,
        ("stripes", "sunburst", "circles"),
        0.03,
        uppercase=True,
    ),
    "retro": StylePreset(
        (
            _p("#f4e1c1", "#e9c46a", "#3d2c29", "#e76f51", "#2a9d8f"),
            _p("#264653", "#2a9d8f", "#f4e1c1", "#e9c46a", "#e76f51"),
            _p("#5f0f40", "#9a031e", "#fbf0d9", "#fb8b24", "#e36414"),
        ),
        "serif",
        True,
        True,
        ("sunburst", "stripes", "waves"),
        0.04,
    ),
    "pastel": StylePreset(
        (
            _p("#fde2e4", "#e2ece9", "#4a4e69", "#9a8c98", "#f4acb7"),
            _p("#e0f2f1", "#fce4ec", "#37474f", "#80cbc4", "#f48fb1"),
            _p("#f1e7fe", "#e4f5ff", "#3c3c5a", "#b39ddb", "#81d4fa"),
        ),
        "sans",
        False,
        True,
        ("circles", "waves", "dots"),
        0.05,
    ),
    "neon": StylePreset(
        (
            _p("#0b0221", "#1a0b3d", "#ffffff", "#00f5d4", "#f15bb5"),
            _p("#050510", "#101035", "#f8f8ff", "#39ff14", "#ff00ff"),
            _p("#10002b", "#240046", "#ffffff", "#ff4d6d", "#4cc9f0"),
        ),
        "display",
        True,
        True,
        ("grid", "circles", "waves"),
        0.03,
        uppercase=True,
    ),
    "dark": StylePreset(
        (
            _p("#121212", "#1e1e24", "#f5f5f5", "#bb86fc", "#03dac6"),
            _p("#0d1b2a", "#1b263b", "#e0e1dd", "#778da9", "#ffb703"),
            _p("#1a1a1a", "#2b2b2b", "#fafafa", "#e63946", "#a8dadc"),
        ),
        "sans",
        True,
        True,
        ("circles", "dots", "none"),
        0.03,
    ),
    "corporate": StylePreset(
        (
            _p("#ffffff", "#eaf1fb", "#0b2545", "#1d4ed8", "#0ea5e9"),
            _p("#0b2545", "#13315c", "#ffffff", "#38bdf8", "#8da9c4"),
            _p("#f8fafc", "#e2e8f0", "#0f172a", "#2563eb", "#64748b"),
        ),
        "sans",
        True,
        False,
        ("grid", "frame", "none"),
        0.015,
    ),
    "playful": StylePreset(
        (
            _p("#fff3b0", "#ffd6a5", "#2b2d42", "#ef476f", "#118ab2"),
            _p("#caffbf", "#9bf6ff", "#22223b", "#ff595e", "#6a4c93"),
            _p("#ffc6ff", "#bdb2ff", "#1b1b3a", "#ff9f1c", "#2ec4b6"),
        ),
        "display",
        True,
        True,
        ("dots", "circles", "waves"),
        0.06,
    ),
    "elegant": StylePreset(
        (
            _p("#f8f4ec", "#efe6d5", "#2b2118", "#b08d57", "#6b705c"),
            _p("#1c1c1c", "#2a2622", "#f3e9dc", "#c9a227", "#8d7b68"),
            _p("#fbf7f2", "#f0e6dc", "#3e2f2f", "#a26769", "#6d597a"),
        ),
        "serif",
        False,
        False,
        ("frame", "none", "waves"),
        0.01,
    ),
}

#: Colour words a prompt may use, to hex.
COLOR_WORDS: dict[str, str] = {
    "red": "#d62828", "crimson": "#b00020", "orange": "#f77f00", "yellow": "#fcbf49",
    "gold": "#c9a227", "golden": "#c9a227", "green": "#2a9d3f", "lime": "#a7c957",
    "mint": "#98f5e1", "teal": "#2a9d8f", "turquoise": "#40e0d0", "cyan": "#00b4d8",
    "blue": "#1d4ed8", "navy": "#14213d", "indigo": "#3a0ca3", "purple": "#7b2cbf",
    "violet": "#8f5cf6", "lavender": "#c8b6ff", "pink": "#ff70a6", "magenta": "#d81b60",
    "black": "#111111", "white": "#ffffff", "cream": "#f6efe0", "beige": "#e9dcc3",
    "ivory": "#fffff0", "brown": "#7f5539", "gray": "#6c757d",
    "grey": "#6c757d", "silver": "#c0c0c0", "charcoal": "#264653", "maroon": "#800f2f",
}  # fmt: skip

#: Two-word colours checked before single words.
COLOR_PHRASES: dict[str, str] = {
    "deep blue": "#0b2a6f", "dark blue": "#0b2545", "light blue": "#a2d2ff",
    "sky blue": "#8ecae6", "royal blue": "#2743d6", "dark green": "#1b4332",
    "forest green": "#2d6a4f", "bright green": "#38b000", "hot pink": "#ff1f8f",
    "off white": "#faf7f0", "corporate blue": "#1d4ed8", "deep red": "#8b0000",
}  # fmt: skip

#: Palette moods that are not a single colour.
MOOD_PALETTES: dict[str, Palette] = {
    "warm": _p("#fff1e6", "#fcd5b5", "#4a2511", "#e76f51", "#f4a261"),
    "cool": _p("#e8f1f8", "#cfe3f1", "#0b2545", "#3a86ff", "#48cae4"),
    "earthy": _p("#ede0d4", "#ddb892", "#3e2723", "#7f5539", "#588157"),
    "monochrome": _p("#f2f2f2", "#dcdcdc", "#111111", "#444444", "#888888"),
}


def luminance(hex_color: str) -> float:
    """Relative luminance (WCAG) of ``#rrggbb``."""
    channels = [int(hex_color[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(a: str, b: str) -> float:
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def readable_on(background: str, *candidates: str) -> str:
    """The first candidate with a contrast of 4.5 on ``background``, else black or white."""
    for c in candidates:
        if contrast(c, background) >= 4.5:
            return c
    return (
        "#111111"
        if contrast("#111111", background) >= contrast("#ffffff", background)
        else "#ffffff"
    )


def mix(a: str, b: str, t: float) -> str:
    """Blend two colours; ``t`` = 0 gives ``a``, 1 gives ``b``."""
    ca = [int(a[i : i + 2], 16) for i in (1, 3, 5)]
    cb = [int(b[i : i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(x + (y - x) * t):02x}" for x, y in zip(ca, cb, strict=True))


def palette_from_colors(colors: list[str], base: Palette) -> Palette:
    """A palette led by the user's colours, keeping text readable."""
    if not colors:
        return base
    first = colors[0]
    second = colors[1] if len(colors) > 1 else base.accent
    if luminance(first) > 0.75:
        # A light colour (cream, white) reads as a background, the next as the accent.
        bg, accent = first, second if len(colors) > 1 else base.accent
    elif len(colors) > 1 and luminance(second) > 0.75:
        bg, accent = second, first
    else:
        bg, accent = first, second
    bg2 = mix(bg, "#000000", 0.18) if luminance(bg) > 0.2 else mix(bg, "#ffffff", 0.12)
    text = readable_on(bg, base.text, "#ffffff", "#111111")
    accent2 = colors[2] if len(colors) > 2 else mix(accent, text, 0.35)
    if contrast(accent, bg) < 1.6:
        accent = mix(accent, text, 0.5)
    return Palette(bg, bg2, text, accent, accent2)
