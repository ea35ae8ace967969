"""Rough prompt -> what it says: quoted text, constraints, the use case and the slots it fills.

Everything is rules and vocabularies, so the same text always reads the same way. The text is
read through a *work buffer* of the same length as the prompt: quoted strings are masked first
(their text is never a slot word), and each phrase a rule claims is blanked out, so the next
rule cannot claim it again and every phrase keeps its exact spelling from the prompt. What no
rule claims is the subject: nothing the user wrote is dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pixelforge.engines.compose.palette import COLOR_PHRASES, COLOR_WORDS
from pixelforge.engines.compose.parse import find_quotes
from pixelforge.services.optimizer.records import Quoted, Slot, UseCase

_GAP = "\x00"  # a claimed span: ends phrases, joins nothing
_QUOTE_MASK = "\x01"  # a quoted string: ends slot phrases, but not a constraint's clause

_CLAUSE_END = re.compile(r"[,;!?\n\x00]|\.(?=\s|$)|:(?!\d)|\s[-–—]\s")
_CONSTRAINT = re.compile(
    r"\b(?:keep(?:ing)?|preserve|maintain|retain|don['’]t|do\s+not|never|without|avoid"
    r"|must(?!-)|no(?=\s+[^\W\d])|leave)\b|\b(?:the\s+)?same\b(?=[^,;!?\n]*\bas\b)",
    re.I,
)
_UNCHANGED = re.compile(r"\b(?:unchanged|untouched|intact|as it is|as is)\b", re.I)

#: Use-case names, claimed longest first; a strong phrase scores 3, a telling noun 1.
_USE_CASE_PHRASES: tuple[tuple[UseCase, tuple[str, ...]], ...] = (
    ("poster", ("event poster", "movie poster", "concert poster", "gig poster", "poster",
                "flyer", "flier", "leaflet", "banner", "billboard", "invitation", "book cover",
                "album cover", "cover art", "social media post", "instagram post",
                "advertisement", "advert", "announcement")),
    ("product_shot", ("product shot", "product photo", "product photography", "product image",
                      "product render", "packshot", "pack shot", "e-commerce photo",
                      "ecommerce photo", "catalog photo", "catalogue photo", "product listing",
                      "amazon listing", "packaging mockup", "product mockup")),
    ("portrait", (r"portrait(?!\s+(?:orientation|format|mode|ratio))", "headshot", "head shot",
                  "selfie", "profile picture", "profile photo", "avatar")),
    ("infographic", ("infographic", "info graphic", "data visualization", "data visualisation",
                     "bar chart", "pie chart", "line chart", "chart", "graph", "diagram",
                     "flowchart", "timeline")),
    ("ui_mockup", ("ui mockup", "ux mockup", "app mockup", "website mockup", "web mockup",
                   "ui design", "ux design", "mockup", "mock-up", "wireframe", "app screen",
                   "login screen", "sign-up screen", "signup screen", "onboarding screen",
                   "home screen", "landing page", "web page", "webpage", "dashboard",
                   "user interface", "app ui", "ui")),
    ("thumbnail", ("youtube thumbnail", "video thumbnail", "thumbnail", "youtube cover",
                   "video cover")),
    ("concept_art", ("concept art", "concept artwork", "environment design",
                     "character design", "creature design", "matte painting", "key art",
                     "fantasy art", "sci-fi art")),
)  # fmt: skip
_USE_CASE_NOUNS: tuple[tuple[UseCase, tuple[str, ...]], ...] = (
    ("poster", ("event", "concert", "gig", "festival", "party", "sale", "launch",
                "grand opening", "exhibition", "conference")),
    ("product_shot", ("product", "bottle", "perfume", "sneakers?", "shoes?", "watch",
                      "headphones", "earbuds", "smartphone", "mug", "cosmetics", "lipstick",
                      "serum", "jar", "packaging", "handbag", "backpack", "candle", "skincare",
                      "jewel(?:le)?ry", "necklace", "sunglasses")),
    ("portrait", ("man", "woman", "girl", "boy", "person", "child", "kid", "grandmother",
                  "grandfather", "grandma", "grandpa", "fisherman", "farmer", "chef",
                  "sailor", "soldier", "face", "lady", "gentleman", "bride", "groom",
                  "teenager", "musician", "dancer", "nurse", "doctor")),
    ("infographic", ("statistics", "stats", "data", "percent", "by country", "by year",
                     "facts", "how to", "steps")),
    ("ui_mockup", ("app", "login", "sign up", "signup", "checkout", "onboarding", "navbar",
                   "button", "screen")),
    ("thumbnail", ("youtube", "vlog", "reaction", "video", "episode", "twitch")),
    ("concept_art", ("fantasy", "sci-fi", "science fiction", "dragon", "castle", "alien",
                     "spaceship", "starship", "floating", "kingdom", "ruins", "dystopian",
                     "utopian", "mythical", "creature", "wizard", "knight", "planet", "mech")),
)  # fmt: skip
_USE_CASE_RULES: tuple[tuple[int, UseCase, re.Pattern[str]], ...] = tuple(
    (weight, use_case, re.compile(rf"\b(?:{word})\b", re.I))
    for weight, use_case, word in sorted(
        ((weight, uc, w) for weight, table in ((3, _USE_CASE_PHRASES), (1, _USE_CASE_NOUNS))
         for uc, ws in table for w in ws),
        key=lambda c: len(c[2]), reverse=True,
    )
)  # fmt: skip
_LEADING_ARTICLE = re.compile(r"(?:\b(?:an?|the)\s+)$", re.I)
_ARTICLE_BEFORE = re.compile(r"\b(?:an?|the)\s+$", re.I)
_AFTER_USE_CASE = re.compile(r"^(?:\s+(?:of|for|about|showing|featuring|on)\b)?", re.I)

_LIGHT_MODS = (
    "soft", "hard", "warm", "cool", "cold", "natural", "window", "studio", "dramatic",
    "cinematic", "moody", "diffused", "diffuse", "golden", "ambient", "rim", "back", "side",
    "top", "bright", "dim", "low", "harsh", "gentle", "volumetric", "neon", "candle",
    "morning", "evening", "afternoon", "sun", "day", "moon", "street", "fluorescent",
    "colorful", "colourful", "split", "rembrandt", "butterfly", "key", "fill", "stage", "spot",
    "atmospheric", "even", "flat", "overhead", "high-contrast", "contrasty", "film", "practical",
)  # fmt: skip
_STYLE_WORDS = (
    "photorealistic", "hyperrealistic", "hyper-realistic", "realistic", "photographic",
    "cinematic", "film still", "35mm film", "analog film", "polaroid", "watercolou?r",
    "oil painting", "acrylic painting", "gouache", "pencil sketch", "charcoal drawing", "sketch",
    "line art", "ink drawing", "digital painting", "digital art", "illustration",
    "vector art", "vector illustration", "vector", "flat design", "flat", "anime", "manga",
    "comic book", "comic", "cartoon", "pixel art", "3d render", "3d", "cgi", "octane render",
    "unreal engine", "isometric", "low[- ]poly", "claymation", "papercut", "paper cut",
    "art deco", "art nouveau", "bauhaus", "swiss style", "brutalist", "cyberpunk", "steampunk",
    "solarpunk", "vaporwave", "synthwave", "film noir", "noir", "surrealist", "surreal",
    "impressionist", "baroque", "renaissance", "ukiyo-e", "material design", "glassmorphism",
    "neumorphism", "dark mode", "light mode", "skeuomorphic", "minimalist", "minimal", "clean",
    "bold", "retro", "vintage", "pastel", "neon", "corporate", "professional", "playful",
    "elegant", "luxury", "luxurious", "classy", "grunge", "editorial", "high fashion", "4k",
    "8k", "uhd", "hdr", "highly detailed", "ultra[- ]detailed", "high resolution", "sharp focus",
    "masterpiece", "sans[- ]serif", "serif",
)  # fmt: skip
_MOOD_WORDS = (
    "cozy", "cosy", "serene", "calm", "peaceful", "tranquil", "mysterious", "eerie", "ominous",
    "dramatic", "moody", "joyful", "cheerful", "happy", "uplifting", "hopeful", "melancholic",
    "melancholy", "nostalgic", "romantic", "epic", "energetic", "dreamy", "whimsical", "tense",
    "festive", "gritty", "somber", "sombre", "vibrant", "lively", "intimate", "haunting",
    "majestic", "awe-inspiring", "ethereal", "warm", "dark", "fun", "friendly", "trustworthy",
)  # fmt: skip
_EXPRESSIONS = (
    "shocked", "surprised", "angry", "happy", "sad", "excited", "scared", "confused",
    "serious", "worried", "smiling", "laughing", "crying", "screaming", "thoughtful", "pensive",
    "determined", "stern", "joyful", "amazed", "terrified",
)  # fmt: skip
_ACTION_VERBS = (
    "sitting", "standing", "running", "walking", "jumping", "dancing", "holding", "playing",
    "reading", "smiling", "laughing", "looking", "gazing", "staring", "flying", "swimming",
    "riding", "cooking", "eating", "drinking", "sleeping", "singing", "working", "typing",
    "fishing", "mending", "pointing", "waving", "crying", "screaming", "fighting", "posing",
    "leaning", "kneeling", "lying", "climbing", "driving", "floating", "hovering", "soaring",
    "pouring", "splashing", "melting", "exploding", "spinning", "wearing", "carrying",
    "throwing", "kicking", "hugging", "kissing", "meditating", "stretching", "painting",
    "writing", "drawing", "shouting", "celebrating", "rising", "emerging", "falling",
)  # fmt: skip
_POSES = (
    "mid-jump", "mid-air", "arms crossed", "crossed arms", "hands on hips", "facing the camera",
    "facing the viewer", "eyes closed", "over the shoulder glance", "posing", "pose",
)  # fmt: skip
_ENV_PREPS = (
    "in front of", "surrounded by", "on top of", "on", "in", "inside", "at", "against",
    "under", "beneath", "below", "above", "over", "near", "beside", "among", "amid", "within",
    "across", "along", "by the", "through",
)  # fmt: skip
_STOP = frozenset(
    ("a", "an", "the", "and", "or", "of", "for", "with", "in", "on", "at", "by", "to", "from",
     "about", "featuring", "showing", "some", "very")
)  # fmt: skip


def _words(words: tuple[str, ...]) -> str:
    return "|".join(sorted(words, key=len, reverse=True))


_COLOR = _words(tuple(re.escape(c) for c in (*COLOR_PHRASES, *COLOR_WORDS)))
_SLOT_RULES: tuple[tuple[Slot, re.Pattern[str]], ...] = (
    ("lighting", re.compile(
        r"(?:\b(?:at|during|in the)\s+)?\b(?:golden hour|blue hour|sunset|sunrise|dusk|dawn"
        r"|twilight|midnight|night-?time|noon|midday)\b|\b(?:at|by) night\b"
        r"|\b(?:softbox|soft box|backlit|backlighting|chiaroscuro|high[- ]key|low[- ]key"
        r"|god rays|volumetric (?:light|lighting|fog)|candlelight|candle-lit|moonlight|moonlit"
        r"|sunlit|sunlight|overcast|neon[- ](?:lights?|lighting|glow|lit))\b"
        rf"|\b(?:(?:{_words(_LIGHT_MODS)})[\s-]+){{1,3}}(?:light|lighting|lights|lit|glow)\b"
        r"|\blighting\b", re.I)),
    ("composition", re.compile(
        r"\b(?:extreme close-up|close-up|closeup|close up|macro(?: shot)?"
        r"|wide[- ]angle(?: shot| lens)?|wide shot|medium shot|long shot|establishing shot"
        r"|full[- ]body(?: shot)?|half[- ]body|head[- ]and[- ]shoulders|waist[- ]up"
        r"|aerial(?: view| shot)?|bird'?s[- ]eye view|drone shot|top[- ]down(?: view)?"
        r"|overhead(?: shot| view)?|flat[- ]lay|low[- ]angle(?: shot)?|high[- ]angle(?: shot)?"
        r"|eye[- ]level|dutch angle|three[- ]quarters?(?: view| angle)?|side view|front view"
        r"|profile view|over[- ]the[- ]shoulder|centered|centred|symmetrical|symmetric"
        r"|rule of thirds|negative space|(?:portrait|landscape) (?:orientation|format)"
        r"|vertical|horizontal|shallow depth of field|depth of field|bokeh|tilt[- ]shift"
        r"|fish[- ]?eye(?: lens)?|panoramic|isometric view|left column|right column"
        r"|left-aligned|right-aligned|grid layout|split layout|split screen|top-right|top-left"
        r"|on the left|on the right|at the bottom|grid)\b"
        r"|\b3/4 view\b|\b\d{1,3}\s?mm(?: lens)?\b|\bf/\d+(?:\.\d+)?\b|\b\d{1,2}:\d{1,2}\b",
        re.I)),
    ("action", re.compile(
        rf"\b(?:{_words(_EXPRESSIONS)})\s+(?:face|expression|look)\b", re.I)),
    ("style", re.compile(
        r"\bin the style of [^,;!?\n\x00\x01]+"
        rf"|\b(?:{_words(tuple(re.escape(c) for c in COLOR_PHRASES))})\b"
        rf"|\b(?:{_words(_STYLE_WORDS)})\b"
        rf"|\b(?:{_COLOR})(?:(?:\s*,\s*|\s+(?:and|&)\s+)(?:{_COLOR}))+"
        r"(?:\s+(?:palette|colou?rs?|tones|colou?r scheme|accents?))?\b"
        rf"|\b(?:{_COLOR}|warm|cool|muted|vibrant|earthy|monochrome|neutral)\s+"
        r"(?:palette|colou?rs|tones|colou?r scheme|accents?)\b"
        r"|\b[\w'-]+ style\b", re.I)),
    ("mood", re.compile(
        rf"\b(?:{_words(_MOOD_WORDS)})(?:\s+(?:mood|atmosphere|vibe|feel|feeling|tone))?\b",
        re.I)),
)  # fmt: skip
_ACTION = re.compile(
    rf"\b(?:{_words(_POSES)})\b|\b(?:looking|pointing|staring|gazing) at the (?:camera|viewer)\b"
    rf"|\b(?:{_words(_ACTION_VERBS)})\b",
    re.I,
)
_WHEN = (
    r"(?:(?:mon|tues|wednes|thurs|fri|satur|sun)day|january|february|march|april|may|june|july"
    r"|august|september|october|november|december|the weekend|weekends?|\d)"
)
_ENV_START = re.compile(rf"\b(?:{_words(_ENV_PREPS)})\s+(?=[^\W\d])(?!{_WHEN})", re.I)
_ENV_NOUN = re.compile(
    r"\b(?:[^\W\d][\w-]*\s+){0,2}(?:background|backdrop|setting|scene|surroundings)\b", re.I
)
_CUE = re.compile(
    r"\b(?:headline|heading|title|subtitle|subheading|tagline|cta|call to action|buttons?"
    r"|labels?|prices?|name|role|caption|text|saying|says|reads|that says|with the (?:text|words)"
    r"|the (?:text|words))\s*[:=]?\s*$",
    re.I,
)
_WORD = re.compile(r"\S+")
_PHRASE_STOP = re.compile(r"[\x00\x01,;!?\n]|\.(?=\s|$)|:(?!\d)")


@dataclass(frozen=True, slots=True)
class Parsed:
    """What a rough prompt says. Every string is a verbatim substring of the prompt."""

    quoted: tuple[Quoted, ...]
    constraints: tuple[str, ...]
    use_case: UseCase | None
    use_case_phrase: str | None
    found: dict[Slot, str]
    quotes_in_constraints: frozenset[str]


class _Buffer:
    """The prompt with claimed spans blanked out; claims return the prompt's own spelling."""

    def __init__(self, prompt: str) -> None:
        self.prompt = prompt
        self.text = prompt

    def mask(self, start: int, end: int, char: str = _GAP) -> None:
        self.text = self.text[:start] + char * (end - start) + self.text[end:]

    def claim(self, start: int, end: int) -> str:
        phrase = self.prompt[start:end].strip()
        self.mask(start, end)
        return phrase


def _quoted(prompt: str) -> list[tuple[Quoted, int, int]]:
    """Quotes with the role compose gives them: a cue word's, else by order (headline,
    subtitle, then labels), as :func:`~pixelforge.engines.compose.parse.parse_prompt` does."""
    out = []
    taken: set[str] = set()
    for q in find_quotes(prompt):
        role = q.role
        if role is None or (role != "label" and role in taken):
            role = next((r for r in ("headline", "subtitle") if r not in taken), "label")
        taken.add(role)
        out.append((Quoted(prompt[q.start : q.end], q.text, role), q.start, q.end))
    return out


def _clause_end(text: str, start: int) -> int:
    m = _CLAUSE_END.search(text, start)
    return m.start() if m else len(text)


def _constraints(buf: _Buffer) -> list[tuple[str, int, int]]:
    """Constraint clauses ("keep the face", "no text", "same layout as the logo"), verbatim."""
    out: list[tuple[str, int, int]] = []
    text = buf.text
    pos = 0
    while pos < len(text):
        end = _clause_end(text, pos)
        clause = text[pos:end]
        trigger = _CONSTRAINT.search(clause)
        start = pos + trigger.start() if trigger else None
        if start is None and _UNCHANGED.search(clause):
            start = pos + len(clause) - len(clause.lstrip())
        if start is not None:
            stop = start + len(text[start:end].rstrip(" .\t"))
            out.append((buf.prompt[start:stop], start, stop))
        pos = end + 1
    for _, start, stop in out:
        buf.mask(start, stop)
    return out


def _use_case(buf: _Buffer) -> tuple[UseCase | None, str | None]:
    """The use case its words name (phrases outweigh telling nouns); claims its phrase."""
    text = buf.text
    claimed: list[tuple[int, int, UseCase, int]] = []
    taken = bytearray(len(text))
    # Longest phrases claim their words first, so "packaging mockup" is not also a "mockup".
    for weight, use_case, pattern in _USE_CASE_RULES:
        for m in pattern.finditer(text):
            if not any(taken[m.start() : m.end()]):
                taken[m.start() : m.end()] = b"\x01" * (m.end() - m.start())
                claimed.append((m.start(), m.end(), use_case, weight))
    if not claimed:
        return None, None
    scores: dict[UseCase, int] = {}
    first: dict[UseCase, int] = {}
    for start, _, use_case, weight in claimed:
        scores[use_case] = scores.get(use_case, 0) + weight
        first[use_case] = min(first.get(use_case, start), start)
    best = max(scores, key=lambda uc: (scores[uc], -first[uc]))
    strong = sorted((s, e) for s, e, uc, w in claimed if uc == best and w == 3)
    if not strong:
        return best, None
    start, end = strong[0]
    for s, e in strong[1:]:  # "dashboard UI": one name in two phrases
        if s >= end and not text[end:s].strip():
            end = e
    before = _LEADING_ARTICLE.search(text, max(0, start - 8), start)
    after = _AFTER_USE_CASE.match(text[end:])
    phrase = buf.prompt[start:end]
    buf.mask(before.start() if before else start, end + (after.end() if after else 0))
    return best, phrase


def _phrase_end(text: str, start: int, max_words: int) -> int:
    """Where a phrase starting at ``start`` ends: its clause's end, or after ``max_words``."""
    stop = _PHRASE_STOP.search(text, start)
    last = start
    for i, word in enumerate(_WORD.finditer(text, start, stop.start() if stop else len(text))):
        if i == max_words:
            break
        last = word.end()
    return last


def _actions(buf: _Buffer) -> list[str]:
    out = []
    for m in _ACTION.finditer(buf.text):
        text = buf.text
        if text[m.start() : m.end()] != buf.prompt[m.start() : m.end()]:
            continue  # claimed meanwhile
        if _ARTICLE_BEFORE.search(text, max(0, m.start() - 8), m.start()):
            continue  # "a floating city": an adjective, not what someone does
        end = _phrase_end(text, m.end(), 6)
        env = _ENV_START.search(text, m.end(), end)
        if env is not None:
            end = max(m.end(), len(text[: env.start()].rstrip()))
        out.append(buf.claim(m.start(), end))
    return out


def _environments(buf: _Buffer) -> list[str]:
    out = []
    for pattern in (_ENV_START, _ENV_NOUN):
        for m in pattern.finditer(buf.text):
            text = buf.text
            if _GAP in text[m.start() : m.end()]:
                continue
            end = _phrase_end(text, m.end(), 10) if pattern is _ENV_START else m.end()
            if end > m.end() or pattern is _ENV_NOUN:
                out.append(buf.claim(m.start(), end))
    return out


def _subject(buf: _Buffer) -> str | None:
    parts = []
    for fragment in re.split(r"[\x00\x01,;!?\n]|\.(?=\s|$)|:(?!\d)|\s[-–—]\s", buf.text):
        words = fragment.split()
        while words and words[0].lower() in _STOP - {"a", "an", "the", "some"}:
            words.pop(0)
        while words and words[-1].lower() in _STOP:
            words.pop()
        if any(w.lower() not in _STOP for w in words):
            parts.append(" ".join(words))
    return ", ".join(parts) or None


def parse(prompt: str) -> Parsed:
    """Read a rough prompt into quotes, constraints, its use case and the slots it fills."""
    buf = _Buffer(prompt)
    quotes = _quoted(prompt)
    for _, start, end in quotes:
        buf.mask(start, end, _QUOTE_MASK)
    constraints = _constraints(buf)
    for _, start, _ in quotes:
        cue = _CUE.search(buf.text, max(0, start - 40), start)
        if cue is not None:
            buf.mask(cue.start(), cue.end())  # re-rendered beside its text
    in_constraints = frozenset(
        q.token for q, qs, qe in quotes for _, cs, ce in constraints if cs <= qs and qe <= ce
    )
    use_case, use_case_phrase = _use_case(buf)
    found: dict[Slot, list[str]] = {}
    for slot, pattern in _SLOT_RULES:
        for m in pattern.finditer(buf.text):
            if _GAP not in buf.text[m.start() : m.end()]:
                found.setdefault(slot, []).append(buf.claim(m.start(), m.end()))
    actions = _actions(buf)
    if actions:
        found.setdefault("action", []).extend(actions)
    if use_case not in ("infographic", "ui_mockup"):
        environments = _environments(buf)
        if environments:
            found["environment"] = environments
    slots: dict[Slot, str] = {}
    subject = _subject(buf)
    if subject:
        slots["subject"] = subject
    for slot, phrases in found.items():
        slots[slot] = ", ".join(p for p in phrases if p)
    if quotes:
        slots["text"] = ", ".join(q.token for q, _, _ in quotes)
    if constraints:
        slots["constraints"] = "; ".join(c for c, _, _ in constraints)
    return Parsed(
        quoted=tuple(q for q, _, _ in quotes),
        constraints=tuple(c for c, _, _ in constraints),
        use_case=use_case,
        use_case_phrase=use_case_phrase,
        found={s: v for s, v in slots.items() if v},
        quotes_in_constraints=in_constraints,
    )
