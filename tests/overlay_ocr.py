"""The text overlay's OCR suite: 100 cases, shared by the test and the benchmark.

Cases = 10 text sets (Latin x4: words, numbers and prices, mixed case with punctuation,
capitals; Korean, Japanese, Chinese, Arabic, Hebrew, Devanagari x1 each) x 2 canvas sizes
(640x480 and 1280x960: the text sizes scale with the canvas, and each case draws four sizes:
headline, subtitle, a label and the call-to-action pill) x 5 backgrounds made here with fixed
seeds (plain light, plain dark, a two-colour gradient, busy multi-scale colour noise, and a
photo-like scene: smooth sky over a cluttered ground). The small canvases place the text
automatically; the large ones use each fixed position once (see :data:`POSITIONS`).

Measure: **character accuracy** = 1 - (edit distance / length) of each drawn text against
what tesseract reads back, after Unicode NFKC normalisation and with all whitespace removed
(word spaces are not counted, so CJK spacing choices do not matter), summed over every text
as 1 - total edits / total characters.

How tesseract is helped (fairly: nothing about the text's content is given): each text is
read on its own, from its box in the overlay's layout (where it was drawn), cropped with a
side margin of half its font size (at most 2% of the short edge: inside the overlay's area),
scaled so the font is ~48 px, and binarized to black on white
at the midpoint between the text colour (from the layout) and the median of the crop's side
margins (what is behind the text; for the call to action, the pill's colour, with what lies
outside the pill's rounded ends painted in it); each script uses its own language pack, page
mode 7 (one line) for a text drawn on one line, 6 (a block) for a wrapped one. All texts of one language go through one tesseract process (a list of images), so the
suite costs a process start per language and page mode, not three hundred.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import unicodedata
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from pixelforge.domain import TextOverlay
from pixelforge.postprocess.overlay import OverlayLayout, Placed, TextOverlayer

#: Script -> (tesseract language, text sets (headline, subtitle, label, cta)).
SCRIPTS: dict[str, tuple[str, list[tuple[str, str, str, str]]]] = {
    "latin": ("eng", [
        ("Summer Sale", "Fresh espresso until midnight", "Limited edition", "Order now"),
        ("50% OFF", "From $19.99 to $9.49, 3 days only", "Code: SAVE50", "Call 555-0142"),
        ("Grand Opening!", "Saturday 14 June, 10:30 AM", "12 Baker Street", "Book a table"),
        ("OPEN LATE", "FREE DELIVERY OVER $25", "NEW MENU", "JOIN US"),
    ]),
    "korean": ("kor", [("진짜 맛있는 라면", "오늘만 특별 할인", "한정 수량", "지금 주문")]),
    "japanese": ("jpn", [("本日のおすすめ", "新鮮な魚と野菜", "期間限定", "今すぐ予約")]),
    "chinese": ("chi_sim", [("新年快乐", "全场商品八折优惠", "限时特惠", "立即购买")]),
    "arabic": ("ara", [("رمضان كريم", "عروض خاصة كل يوم", "عرض محدود", "اطلب الآن")]),
    "hebrew": ("heb", [("ברוכים הבאים", "מבצע מיוחד לחג", "מחיר מיוחד", "הזמינו עכשיו")]),
    "devanagari": ("hin", [("शुभ दीपावली", "सभी उत्पादों पर छूट", "सीमित समय", "अभी खरीदें")]),
}  # fmt: skip
SIZES = {"small": (640, 480), "large": (1280, 960)}
BACKGROUNDS = ("plain-light", "plain-dark", "gradient", "busy-noise", "photo-like")
#: Position per canvas size and background: the small canvases place the text automatically,
#: the large ones also try every fixed position (RTL text in a left or right column, too).
POSITIONS = {
    "small": dict.fromkeys(BACKGROUNDS, "auto"),
    "large": {"plain-light": "left", "plain-dark": "right", "gradient": "center",
              "busy-noise": "top", "photo-like": "auto"},
}  # fmt: skip
#: Font size (px) a text is scaled to before tesseract reads it.
READ_SIZE = 48.0


@dataclass(frozen=True, slots=True)
class Case:
    id: str
    script: str
    lang: str
    overlay: TextOverlay
    size: tuple[int, int]
    background: str


@dataclass(frozen=True, slots=True)
class Reading:
    case: Case
    role: str
    expected: str
    read: str
    chars: int
    errors: int


def cases() -> list[Case]:
    """The 100 cases, in a fixed order."""
    out: list[Case] = []
    for script, (lang, sets) in SCRIPTS.items():
        for i, (headline, subtitle, label, cta) in enumerate(sets):
            for size_name, size in SIZES.items():
                for bg in BACKGROUNDS:
                    overlay = TextOverlay(headline=headline, subtitle=subtitle, labels=(label,),
                                          cta=cta, position=POSITIONS[size_name][bg])  # fmt: skip
                    case_id = f"{script}{i + 1 if len(sets) > 1 else ''}-{size_name}-{bg}"
                    out.append(Case(case_id, script, lang, overlay, size, bg))
    return out


# -- backgrounds ---------------------------------------------------------------------------


def _noise(rng: np.random.Generator, w: int, h: int, octaves: Sequence[int]) -> np.ndarray:
    """Multi-scale colour value noise in 0..1, shape (h, w, 3)."""
    acc = np.zeros((h, w, 3), np.float32)
    for cells in octaves:
        grid = rng.random((cells + 1, max(2, cells * h // w) + 1, 3), dtype=np.float32)
        layer = Image.fromarray((grid * 255).astype(np.uint8), "RGB").resize(
            (w, h), Image.Resampling.BICUBIC
        )
        acc += np.asarray(layer, np.float32) / 255 / len(octaves)
    return acc


def background(name: str, size: tuple[int, int], seed: int = 7) -> Image.Image:
    """One of :data:`BACKGROUNDS` at ``size``, the same pixels for the same arguments."""
    w, h = size
    rng = np.random.default_rng(seed)
    if name == "plain-light":
        return Image.new("RGB", size, (244, 239, 230))
    if name == "plain-dark":
        return Image.new("RGB", size, (29, 43, 58))
    if name == "gradient":
        t = (np.add.outer(np.arange(h) / h, np.arange(w) / w) / 2)[..., None]
        a, b = np.array([255, 140, 60]), np.array([70, 30, 140])
        return Image.fromarray((a * (1 - t) + b * t).astype(np.uint8), "RGB")
    if name == "busy-noise":
        noise = _noise(rng, w, h, (4, 16, 64, 160))
        fine = rng.normal(0, 0.08, (h, w, 3))
        return Image.fromarray((np.clip(noise * 1.6 - 0.3 + fine, 0, 1) * 255).astype(np.uint8))
    # photo-like: a smooth sky over a cluttered ground of shapes and texture.
    sky_h = int(h * 0.45)
    t = (np.arange(h) / h)[:, None, None]
    sky = np.array([120, 170, 230]) * (1 - t) + np.array([225, 235, 250]) * t
    image = np.broadcast_to(sky, (h, w, 3)).astype(np.float32).copy()
    ground = _noise(rng, w, h - sky_h, (6, 30, 120)) * np.array([170, 150, 90]) + 20
    image[sky_h:] = ground + rng.normal(0, 18, ground.shape)
    picture = Image.fromarray(np.clip(image, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(picture)
    for _ in range(60):
        x, y = int(rng.integers(0, w)), int(rng.integers(sky_h, h))
        r = int(rng.integers(max(4, w // 80), max(8, w // 14)))
        color = tuple(int(c) for c in rng.integers(0, 256, 3))
        draw.ellipse((x - r, y - r, x + r, y + r), fill=color)
    return picture


# -- reading -------------------------------------------------------------------------------


def normalise(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).split())


def edit_distance(a: str, b: str) -> int:
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


def _grey(rgb: tuple[int, int, int] | np.ndarray) -> np.ndarray:
    return np.asarray(rgb, np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)


def _grey_of(color: str) -> float:
    return float(_grey(tuple(int(color[i : i + 2], 16) for i in (1, 3, 5))))


def crop_for_ocr(image: Image.Image, item: Placed) -> Image.Image:
    """The text's box (with a side margin of half its font size; for the pill, the pill with
    what is outside its rounded ends painted in its colour), scaled to :data:`READ_SIZE` and
    binarized to black text on white at the midpoint between the text colour and what is
    behind it."""
    x0, y0, x1, y1 = item.box
    # The side margin stays within the overlay's own area (its scrim reaches 2.2 u out).
    pad = 0.0 if item.fill is not None else min(0.5 * item.size, 2.0 * min(image.size) / 100)
    box = (max(0, int(x0 - pad)), max(0, int(y0)),
           min(image.width, int(np.ceil(x1 + pad))), min(image.height, int(np.ceil(y1))))  # fmt: skip
    crop = image.crop(box).convert("RGB")
    ink = _grey_of(item.color)
    if item.fill is not None:
        outside = Image.new("L", crop.size, 255)
        ImageDraw.Draw(outside).rounded_rectangle(
            (x0 - box[0] + 3, y0 - box[1] + 3, x1 - box[0] - 3, y1 - box[1] - 3),
            radius=(y1 - y0) / 2 - 3, fill=0,
        )  # fmt: skip
        crop.paste(Image.new("RGB", crop.size, item.fill), mask=outside)
        behind = _grey_of(item.fill)
    scale = READ_SIZE / item.size
    if abs(scale - 1) > 0.05:
        size = (max(1, round(crop.width * scale)), max(1, round(crop.height * scale)))
        crop = crop.resize(size, Image.Resampling.LANCZOS)
    grey = _grey(np.asarray(crop))
    if item.fill is None:  # the side margins hold no text: what is behind it
        margin = max(1, int(pad * scale / 2))
        behind = float(np.median(np.concatenate([grey[:, :margin], grey[:, -margin:]], axis=1)))
    mid = (ink + behind) / 2
    text = grey > mid if ink > behind else grey < mid
    out = np.where(text, 0, 255).astype(np.uint8)
    return Image.fromarray(np.pad(out, 24, constant_values=255), "L")


def tesseract_many(images: Sequence[Image.Image], lang: str, psm: int = 6) -> list[str]:
    """Read every image with one tesseract process (a list of images, one page each)."""
    binary = shutil.which("tesseract")
    if binary is None:
        raise RuntimeError("tesseract is not installed (make system-deps)")
    with tempfile.TemporaryDirectory(prefix="pf-ocr-") as tmp:
        paths = []
        for i, image in enumerate(images):
            path = Path(tmp) / f"{i:04d}.png"
            image.save(path)
            paths.append(str(path))
        listing = Path(tmp) / "list.txt"
        listing.write_text("\n".join(paths) + "\n")
        env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
        done = subprocess.run(
            [binary, str(listing), "stdout", "-l", lang, "--psm", str(psm)],
            capture_output=True, check=True, env=env, timeout=600,
        )  # fmt: skip
    pages = done.stdout.decode("utf-8", "replace").split("\f")
    return (pages + [""] * len(images))[: len(images)]


def render(case: Case, overlayer: TextOverlayer) -> tuple[Image.Image, OverlayLayout]:
    drawn = overlayer.apply(background(case.background, case.size), case.overlay)
    return drawn.image, drawn.layout


def run(suite: Iterable[Case], overlayer: TextOverlayer, workers: int = 2) -> list[Reading]:
    """Draw every case and read every text back."""
    pending: dict[tuple[str, int], list[tuple[Case, Placed, Image.Image]]] = {}
    for case in suite:
        image, layout = render(case, overlayer)
        for item in layout.items:
            psm = 7 if len(item.lines) == 1 else 6
            pending.setdefault((case.lang, psm), []).append((case, item, crop_for_ocr(image, item)))

    def read(batch: tuple[str, int]) -> list[Reading]:
        items = pending[batch]
        texts = tesseract_many([crop for _, _, crop in items], *batch)
        out = []
        for (case, item, _), got in zip(items, texts, strict=True):
            want, read_back = normalise(item.text), normalise(got)
            errors = min(len(want), edit_distance(want, read_back))
            out.append(Reading(case, item.role, item.text, got.strip(), len(want), errors))
        return out

    with ThreadPoolExecutor(workers) as pool:
        return [r for batch in pool.map(read, sorted(pending)) for r in batch]


def accuracy(readings: Iterable[Reading]) -> tuple[int, int, float]:
    """(characters, edits, character accuracy) over ``readings``."""
    chars = errors = 0
    for r in readings:
        chars, errors = chars + r.chars, errors + r.errors
    return chars, errors, 1.0 - errors / chars if chars else 1.0


def by_script(readings: Sequence[Reading]) -> dict[str, tuple[int, int, int, float]]:
    """Script -> (cases, characters, edits, accuracy)."""
    out = {}
    for script in SCRIPTS:
        mine = [r for r in readings if r.case.script == script]
        chars, errors, acc = accuracy(mine)
        out[script] = (len({r.case.id for r in mine}), chars, errors, acc)
    return out
