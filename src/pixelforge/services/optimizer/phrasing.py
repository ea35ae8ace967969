"""Templates per use case, and the three ways to phrase a filled-in prompt.

* ``keywords`` (SD-family models): comma-separated tags, the subject first.
* ``sentences`` (GPT Image, Gemini): plain sentences, one per slot group.
* ``brief`` (``compose``): the words compose's prompt parser reads: its kind word, the quoted
  texts with explicit role cues (``headline "..."``), one of its style words and a layout word.
  Camera and lighting mean nothing to a design, so no defaults fill them, and the user's own
  phrases for them are left out when they hold digits ("85mm", "f/1.8"): compose prints
  unquoted digits as labels. Aspect ratios ("16:9") stay; compose reads them.

Quoted strings keep their own quote marks and constraints are copied as written, in every
style. A default fills a slot only where the user's text left it empty.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from pixelforge.services.optimizer.records import SLOTS, PromptStyle, Quoted, Slot, UseCase

#: Defaults for keywords and sentences: what a good prompt of each use case says.
DEFAULTS: Mapping[UseCase, Mapping[Slot, str]] = {
    "poster": {
        "subject": "a bold central graphic motif",
        "composition": "bold centered layout, clear text hierarchy, generous margins",
        "lighting": "dramatic high-contrast lighting",
        "style": "modern graphic poster design, flat vector shapes",
        "mood": "energetic",
    },
    "product_shot": {
        "subject": "the product",
        "environment": "on a seamless light-grey background",
        "composition": "three-quarter angle, product centered, sharp focus",
        "lighting": "studio softbox lighting, soft shadows, subtle reflections",
        "style": "photorealistic commercial product photography",
        "mood": "clean and premium",
    },
    "portrait": {
        "subject": "a person",
        "action": "looking at the camera",
        "environment": "against a softly blurred neutral backdrop",
        "composition": "head-and-shoulders framing, 85mm lens, shallow depth of field",
        "lighting": "soft window light from the side",
        "style": "natural photographic portrait, realistic skin texture",
        "mood": "calm and intimate",
    },
    "infographic": {
        "subject": "key facts and figures",
        "composition": "clear grid, title at the top, one labelled chart or icon per data point",
        "style": "flat vector infographic, consistent icons, readable sans-serif type",
        "mood": "clear and informative",
    },
    "ui_mockup": {
        "subject": "a mobile app screen",
        "composition": "single screen, front view, clear hierarchy with one primary button",
        "style": "modern flat UI design, rounded corners, sans-serif type, 8-pt spacing grid",
        "mood": "trustworthy and friendly",
    },
    "thumbnail": {
        "subject": "an expressive presenter",
        "action": "exaggerated reaction, looking at the viewer",
        "environment": "against a simple blurred background",
        "composition": "16:9 frame, face large on one side, big bold text on the other",
        "lighting": "bright punchy lighting with a rim light",
        "style": "bold YouTube thumbnail style, saturated colours, thick outlined text",
        "mood": "high-energy",
    },
    "concept_art": {
        "subject": "an imagined world",
        "environment": "in a vast atmospheric landscape",
        "composition": "wide establishing shot, strong focal point, sense of scale",
        "lighting": "volumetric atmospheric light",
        "style": "digital painting, highly detailed concept art",
        "mood": "epic and awe-inspiring",
    },
    "general": {
        "composition": "balanced composition, clear focal point",
        "lighting": "soft natural light",
        "style": "high-quality, detailed",
    },
}
#: Defaults for compose briefs: one of its style words and one of its layout words.
BRIEF_DEFAULTS: Mapping[UseCase, Mapping[Slot, str]] = {
    "poster": {"style": "bold", "composition": "centered"},
    "product_shot": {"style": "elegant", "composition": "centered"},
    "portrait": {"style": "minimal", "composition": "centered"},
    "infographic": {"style": "corporate"},
    "ui_mockup": {"style": "minimal"},
    "thumbnail": {"style": "bold", "composition": "left-aligned"},
    "concept_art": {"style": "dark", "composition": "centered"},
    "general": {"style": "minimal"},
}
#: How each use case is named: (keywords tag, sentence lead, connector, compose kind word).
NAMES: Mapping[UseCase, tuple[str, str, str, str]] = {
    "poster": ("poster", "poster", "for", "poster"),
    "product_shot": ("product photography", "product shot", "of", "product card"),
    "portrait": ("portrait photo", "portrait", "of", "poster"),
    "infographic": ("infographic", "infographic", "about", "infographic"),
    "ui_mockup": ("UI mockup", "UI mockup", "for", "UI mockup"),
    "thumbnail": ("YouTube thumbnail", "YouTube thumbnail", "showing", "thumbnail"),
    "concept_art": ("concept art", "concept art", "of", "poster"),
    "general": ("", "", "", "poster"),
}
#: The words compose's parser knows (engines/compose/parse.py); anything else it ignores.
COMPOSE_STYLES = re.compile(
    r"\b(?:minimal|minimalist|clean|bold|retro|vintage|pastel|soft|neon|dark|moody|corporate"
    r"|business|professional|playful|fun|kids|elegant|luxury|classy)\b",
    re.I,
)
COMPOSE_LAYOUTS = re.compile(
    r"\b(?:left column|left-aligned|left aligned|right column|right-aligned|top-right|top right"
    r"|top-left|centered|centred|center|grid|split|on the left|on the right|at the bottom)\b",
    re.I,
)
_ASPECT = re.compile(r"^\d{1,2}:\d{1,2}$")
_SCENE: tuple[Slot, ...] = ("action", "environment")
_LOOK: tuple[Slot, ...] = ("composition", "lighting", "style", "mood")
_BRIEF_SLOTS: tuple[Slot, ...] = (*_SCENE, "lighting", "composition", "style", "mood")
_CUE = {"headline": "headline", "subtitle": "subtitle", "cta": "button", "label": "labels"}


@dataclass(frozen=True, slots=True)
class Draft:
    """Everything a phrasing needs: the slots (found and filled) and the verbatim parts."""

    use_case: UseCase
    use_case_phrase: str | None
    slots: Mapping[Slot, str]
    quoted: tuple[Quoted, ...]
    constraints: tuple[str, ...]
    quotes_in_constraints: frozenset[str]


def fill(
    use_case: UseCase, style: PromptStyle, found: Mapping[Slot, str]
) -> tuple[dict[Slot, str], tuple[Slot, ...]]:
    """The found slots plus the template's defaults for the empty ones, and which were filled."""
    defaults = BRIEF_DEFAULTS[use_case] if style == "brief" else DEFAULTS[use_case]
    slots = dict(found)
    filled: list[Slot] = []
    for slot, value in defaults.items():
        if slot not in found:
            slots[slot] = value
            filled.append(slot)
    if style == "brief" and "style" in found and COMPOSE_STYLES.search(found["style"]) is None:
        # The user's style words mean nothing to compose: add one it reads, keep theirs.
        slots["style"] = f"{found['style']}, {BRIEF_DEFAULTS[use_case]['style']}"
        filled.append("style")
    ordered = {s: slots[s] for s in SLOTS if s in slots}
    return ordered, tuple(s for s in SLOTS if s in filled)


def _texts(draft: Draft, style: PromptStyle) -> list[str]:
    """Each quoted token (with its marks) behind its role cue; those inside a constraint are
    written there instead, so no text appears twice."""
    out: list[str] = []
    in_label_run = False
    for q in draft.quoted:
        if q.token in draft.quotes_in_constraints:
            in_label_run = False
            continue
        cue = _CUE[q.role]
        if q.role == "label" and in_label_run:
            out[-1] = f"{out[-1]}, {q.token}"  # compose reads "labels "A", "B"" as a run
        elif style == "keywords":
            out.append(f"{cue} text {q.token}" if cue != "labels" else f"text {q.token}")
        else:
            out.append(f"{cue} {q.token}")
        in_label_run = q.role == "label"
    return out


def _subject_lead(draft: Draft, style: PromptStyle) -> str:
    tag, lead, connector, kind = NAMES[draft.use_case]
    subject = draft.slots.get("subject", "")
    if draft.use_case == "poster" and draft.use_case_phrase:
        tag = lead = kind = draft.use_case_phrase.lower()
    if style == "keywords":
        subject = re.sub(r"^(?:an?|the)\s+", "", subject, flags=re.I)
        return ", ".join(p for p in (tag, subject) if p)
    if style == "brief":
        if not subject:
            return kind
        # A comma keeps "Finland 12kg" a chart label of its own, not "infographic about Finland".
        return (
            f"{kind}, {subject}"
            if re.search(r"\d", subject)
            else f"{kind} {connector or 'for'} {subject}"
        )
    if not lead:
        return subject[:1].upper() + subject[1:]
    article = "An" if lead[0] in "aeio" else "A"
    lead = f"{article} {lead}" if lead != "concept art" else "Concept art"
    return f"{lead} {connector} {subject}" if subject else lead


def render(draft: Draft, style: PromptStyle) -> str:
    """The prompt in ``style``. Quoted tokens and constraints appear exactly as written."""
    slots = draft.slots
    texts = _texts(draft, style)
    if style == "keywords":
        parts = [_subject_lead(draft, style)]
        parts += [slots[s] for s in _SCENE if s in slots]
        parts += texts
        parts += [slots[s] for s in _LOOK if s in slots]
        return ", ".join([p for p in parts if p] + list(draft.constraints))
    if style == "brief":
        parts = [_subject_lead(draft, style)]
        for slot in _BRIEF_SLOTS:
            # Found phrases hold no commas, so a slot's value splits back into its phrases.
            for phrase in slots.get(slot, "").split(", "):
                camera = slot in ("lighting", "composition") and not _ASPECT.match(phrase)
                if phrase and not (camera and re.search(r"\d", phrase)):
                    parts.append(phrase)
        return ", ".join(parts + texts + list(draft.constraints))
    first = _subject_lead(draft, style)
    for slot in _SCENE:
        value = slots.get(slot)
        if value:
            # "a fisherman looking at the camera", but "a presenter, shocked face"
            joiner = ", " if re.search(r"(?:face|expression|look)$", value) else " "
            first = f"{first}{joiner}{value}" if first else value[:1].upper() + value[1:]
    sentences = [first] if first else []
    if texts:
        sentences.append("Render this text exactly as written: " + ", ".join(texts))
    for slot in _LOOK:
        if slot in slots:
            sentences.append(f"{slot.capitalize()}: {slots[slot]}")
    if draft.constraints:
        sentences.append("Constraints: " + "; ".join(draft.constraints))
    return " ".join(s if s.endswith((".", "!", "?")) else f"{s}." for s in sentences)
