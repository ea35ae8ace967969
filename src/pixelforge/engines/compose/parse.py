"""Free-text prompt -> :class:`Brief`.

Quoted strings become exact text (headline, subtitle, CTA, labels, by cue words and order);
colour, style, layout and use-case words set the look; subject nouns pick icons; runs of
"label number" pairs become a chart whose values are printed exactly as written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pixelforge.domain.sizes import ASPECT_RATIOS
from pixelforge.engines.compose.brief import Brief, Chart, ChartKind, ChartPoint, Kind, Layout
from pixelforge.engines.compose.icons import IconSet
from pixelforge.engines.compose.palette import COLOR_PHRASES, COLOR_WORDS, MOOD_PALETTES

_QUOTES = re.compile(r'"([^"]+)"|“([^”]+)”|„([^“”]+)[“”]|«([^»]+)»|「([^」]+)」|『([^』]+)』')
_ATTRIBUTION = re.compile(r"^\s*[-–—]\s*([^\W\d][\w.' ]{1,60}?)\s*(?:,|$)")
_ASPECT = re.compile(r"\b(\d{1,2}):(\d{1,2})\b")
_NUMBER = r"[$€£¥]?\d(?:[\d,]*\d)?(?:\.\d+)?\s?(?:%|[kKmMbB]\b|trillion\b|billion\b|million\b)?"
_PAIR = re.compile(
    rf"(?P<label>[^\W\d][\w&'/.-]*(?: [^\W\d][\w&'/.-]*){{0,4}}|\d{{4}})\s*:?\s+(?P<value>{_NUMBER})"
)
_YEAR_EVENT = re.compile(r"\b(?P<year>(?:19|20)\d{2})\s+(?P<event>[^\W\d][^,;]{1,60})")
_LIST_AFTER_COLON = re.compile(r"\b(ingredients|items|features|agenda|includes?)\s*:\s*(.+)$", re.I)

_KIND_WORDS: tuple[tuple[Kind, tuple[str, ...]], ...] = (
    ("ui_mockup", ("ui mockup", "mockup", "app screen", "home screen", "dashboard", "app ui")),
    ("infographic", ("infographic", "chart", "graph", "timeline", "statistics", "comparison table")),
    ("quote_card", ("quote card", "quote")),
    ("thumbnail", ("thumbnail", "youtube")),
    ("product_card", ("product card", "product shot", "product photo")),
    ("banner", ("banner", "header", "hero", "billboard", "cover photo", "linkedin", "sign")),
    ("social", ("instagram", "social post", "story", "pinterest", "pin", "tiktok", "post")),
    ("poster", ("poster", "flyer", "invitation", "invite", "certificate", "menu", "badge", "cover")),
)  # fmt: skip
_STYLE_WORDS: dict[str, str] = {
    "minimal": "minimal", "minimalist": "minimal", "clean": "minimal", "bold": "bold",
    "retro": "retro", "vintage": "retro", "pastel": "pastel", "soft": "pastel", "neon": "neon",
    "dark": "dark", "moody": "dark", "corporate": "corporate", "business": "corporate",
    "professional": "corporate", "playful": "playful", "fun": "playful", "kids": "playful",
    "elegant": "elegant", "luxury": "elegant", "classy": "elegant",
}  # fmt: skip
_LAYOUT_WORDS: tuple[tuple[str, Layout], ...] = (
    ("left column", "left"), ("left-aligned", "left"), ("left aligned", "left"),
    ("right column", "right"), ("right-aligned", "right"), ("top-right", "top"),
    ("top right", "top"), ("top-left", "top"), ("centered", "centered"), ("centred", "centered"),
    ("center", "centered"), ("grid", "grid"), ("split", "split"), ("on the left", "left"),
    ("on the right", "right"), ("at the bottom", "bottom"),
)  # fmt: skip
_ROLE_CUES: tuple[tuple[str, str], ...] = (
    ("headline", "headline"), ("heading", "headline"), ("title", "headline"),
    ("subtitle", "subtitle"), ("subheading", "subtitle"), ("tagline", "subtitle"),
    ("cta", "cta"), ("buttons", "label"), ("button", "cta"), ("call to action", "cta"), ("role", "subtitle"),
    ("name", "headline"), ("awarded to", "subtitle"),
    ("balance", "label"), ("prices", "label"), ("price", "label"), ("labels", "label"),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Quote:
    """One quoted string: its text (inside the marks), its span in the prompt (marks included)
    and the role its cue word gives it (``headline``, ``subtitle``, ``cta``, ``label``), if any."""

    text: str
    start: int
    end: int
    role: str | None


def find_quotes(prompt: str) -> list[Quote]:
    """Every quoted string (straight, curly, „“, «», 「」, 『』) in order, with its cue role."""
    out: list[Quote] = []
    for m in _QUOTES.finditer(prompt):
        text = next(g for g in m.groups() if g is not None).strip()
        if not text:
            continue
        before = prompt[max(0, m.start() - 24) : m.start()].lower()
        role = None
        best = -1
        for cue, cue_role in _ROLE_CUES:
            pos = before.rfind(cue)
            if pos > best and not re.search(r'["”»」]', before[pos:]):
                best, role = pos, cue_role
        if role is None and out and out[-1].role == "label":
            between = prompt[out[-1].end : m.start()].strip().lower()
            if between in ("", ",", "and", ", and", "&", "/"):
                role = "label"
        out.append(Quote(text, m.start(), m.end(), role))
    return out


def _unquoted(prompt: str, quotes: list[Quote]) -> str:
    parts, last = [], 0
    for q in quotes:
        parts.append(prompt[last : q.start])
        parts.append(" , ")
        last = q.end
    parts.append(prompt[last:])
    return "".join(parts)


def _find_chart(text: str, lowered: str) -> tuple[Chart | None, str]:
    """A chart from "label value" runs; returns it and the text with those runs removed."""
    if re.search(r"\btimeline\b|\bhistory\b", lowered):
        events = list(_YEAR_EVENT.finditer(text))
        if len(events) >= 2:
            points = [
                ChartPoint(label=m["event"].strip(), value=float(m["year"]), display=m["year"])
                for m in events
            ]
            return Chart(kind="timeline", points=points), _YEAR_EVENT.sub(" ", text)
    pairs = [m for m in _PAIR.finditer(text) if not _ASPECT.fullmatch(m.group(0).strip())]
    if len(pairs) < 2:
        return None, text
    points = []
    for m in pairs:
        raw = m["value"].strip()
        number = float(re.sub(r"[^\d.]", "", raw) or 0)
        label = re.sub(r"^(?:and|vs|with|include|including)\s+", "", m["label"].strip(), flags=re.I)
        points.append(ChartPoint(label=label, value=number, display=raw))
    kind: ChartKind = "bar"
    if re.search(r"\bpie\b|\bdonut\b|\bshare\b", lowered):
        kind = "pie"
    elif re.search(r"\bline\b|\btrend\b|\bgrowth\b", lowered):
        kind = "line"
    elif re.search(r"\btable\b|\bplans?\b|\bpricing\b|\bcomparison\b", lowered):
        kind = "table"
    units = {
        ("%" if p.text.endswith("%") else "$" if p.text.startswith("$") else "") for p in points
    }
    unit = units.pop() or None if len(units) == 1 else None
    return Chart(kind=kind, points=points[:24], unit=unit), _PAIR.sub(" ", text)


def _kind(lowered: str, has_chart: bool) -> Kind:
    for kind, words in _KIND_WORDS:
        if any(re.search(rf"\b{re.escape(w)}\b", lowered) for w in words):
            if kind == "infographic" and not has_chart and "infographic" not in lowered:
                continue
            return kind
    return "infographic" if has_chart else "poster"


def _colors(lowered: str) -> list[str]:
    found: list[tuple[int, str]] = []
    rest = lowered
    for phrase, hex_color in COLOR_PHRASES.items():
        for m in re.finditer(rf"\b{phrase}\b", rest):
            found.append((m.start(), hex_color))
        rest = re.sub(rf"\b{phrase}\b", " " * len(phrase), rest)
    for word, hex_color in COLOR_WORDS.items():
        for m in re.finditer(rf"\b{word}\b", rest):
            found.append((m.start(), hex_color))
    ordered = [c for _, c in sorted(found)]
    return list(dict.fromkeys(ordered))[:6]


def suggest_aspect_ratio(prompt: str) -> str | None:
    """An aspect ratio written in the prompt ("16:9", "square", "story"), if any."""
    lowered = prompt.lower()
    for m in _ASPECT.finditer(lowered):
        name = f"{int(m.group(1))}:{int(m.group(2))}"
        if name in ASPECT_RATIOS:
            return name
    for words, ratio in (
        (("square", "instagram post", "podcast cover", "album cover"), "1:1"),
        (("story", "reel", "tiktok"), "9:16"),
        (("youtube thumbnail", "thumbnail", "landing page", "hero", "slide"), "16:9"),
        (("linkedin banner", "twitter header"), "4:1"),
        (("pinterest", "pin"), "2:3"),
        (("poster", "flyer", "certificate", "invitation", "book cover", "menu"), "4:5"),
    ):
        if any(re.search(rf"\b{re.escape(w.strip())}\b", lowered) for w in words):
            return ratio
    return None


def parse_prompt(prompt: str, icons: IconSet) -> Brief:
    """Turn a free-text prompt into a brief. Quoted text is kept exactly as written."""
    quotes = find_quotes(prompt)
    attribution = None
    for q in quotes:
        m = _ATTRIBUTION.match(prompt[q.end :])
        if m:
            attribution = m.group(1).strip()
            break
    unquoted = _unquoted(prompt, quotes)
    if attribution:
        unquoted = unquoted.replace(attribution, " ")
    lowered = unquoted.lower()
    list_items: list[str] = []
    m = _LIST_AFTER_COLON.search(unquoted)
    if m:
        list_items = [s.strip(" .") for s in m.group(2).split(",") if s.strip(" .")]
        unquoted = unquoted[: m.start()]
    chart, rest = (None, unquoted) if list_items else _find_chart(unquoted, lowered)

    roles: dict[str, str] = {}
    labels: list[str] = []
    for q in quotes:
        if q.role == "label":
            labels.append(q.text)
        elif q.role and q.role not in roles:
            roles[q.role] = q.text
        elif "headline" not in roles:
            roles["headline"] = q.text
        elif "subtitle" not in roles and not chart:
            roles["subtitle"] = q.text
        else:
            labels.append(q.text)
    # Unquoted facts with digits (times, dates, prices) are part of the message too.
    for segment in re.split(r"[,;]", _ASPECT.sub(" ", rest)):
        seg = segment.strip(" .")
        if re.search(r"\d", seg) and len(seg) <= 40 and not re.fullmatch(r"[\d\s]+", seg):
            labels.append(seg)
    labels += list_items
    if "headline" not in roles:
        promoted = roles.pop("subtitle", None) or (labels.pop(0) if labels else None)
        if promoted:
            roles["headline"] = promoted

    named = [w for w in _STYLE_WORDS if re.search(rf"\b{w}\b", lowered)]
    # A style named outright ("corporate") beats a synonym ("clean").
    named.sort(key=lambda w: (_STYLE_WORDS[w] != w, lowered.find(w)))
    style = _STYLE_WORDS[named[0]] if named else None
    font = None
    if re.search(r"\bsans[- ]serif\b", lowered):
        font = "sans"
    elif re.search(r"\bserif\b", lowered):
        font = "serif"
    layout = next((lay for w, lay in _LAYOUT_WORDS if w in lowered), None)
    colors = _colors(lowered)
    mood = next((w for w in MOOD_PALETTES if re.search(rf"\b{w}\b", lowered)), None)
    if not colors and mood:
        p = MOOD_PALETTES[mood]
        colors = [p.background, p.accent, p.accent2]
    kind = _kind(lowered, chart is not None)
    return Brief(
        kind=kind,
        headline=roles.get("headline"),
        subtitle=roles.get("subtitle"),
        cta=roles.get("cta"),
        labels=labels[:12],
        attribution=attribution,
        style=style,
        palette=colors,
        layout=layout,
        font=font,
        icons=icons.match(rest),
        chart=chart,
    )
