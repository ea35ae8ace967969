"""The optimizer's value sets and its result record."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, get_args

UseCase = Literal[
    "poster", "product_shot", "portrait", "infographic", "ui_mockup", "thumbnail", "concept_art",
    "general",
]  # fmt: skip
"""``general`` is what a prompt gets when it names none of the seven and its nouns say nothing."""
PromptStyle = Literal["keywords", "sentences", "brief"]
Slot = Literal[
    "subject", "action", "environment", "composition", "lighting", "style", "mood", "text",
    "constraints",
]  # fmt: skip
Rewrite = Literal["rules", "llm"]

USE_CASES: tuple[UseCase, ...] = get_args(UseCase)
STYLES: tuple[PromptStyle, ...] = get_args(PromptStyle)
SLOTS: tuple[Slot, ...] = get_args(Slot)
REWRITES: tuple[Rewrite, ...] = get_args(Rewrite)


@dataclass(frozen=True, slots=True)
class Quoted:
    """A quoted string: ``token`` as written (marks included), ``text`` inside the marks, and
    the role compose gives it (``headline``, ``subtitle``, ``cta``, ``label``)."""

    token: str
    text: str
    role: str


@dataclass(frozen=True, slots=True)
class OptimizedPrompt:
    """The original beside its rewrite, with the slots found in the original and those filled.

    ``quoted`` and ``constraints`` are verbatim substrings of ``original`` and appear verbatim
    in ``optimized``. ``rewrite`` says what produced ``optimized``; ``warnings`` say why an
    asked-for LLM rewrite was not used.
    """

    original: str
    optimized: str
    use_case: UseCase
    use_case_detected: bool
    style: PromptStyle
    slots: Mapping[Slot, str]
    found: tuple[Slot, ...]
    filled: tuple[Slot, ...]
    quoted: tuple[Quoted, ...]
    constraints: tuple[str, ...]
    rewrite: Rewrite = "rules"
    warnings: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, object]:
        """The JSON shape of ``POST /api/prompts/optimize`` and ``prompt optimize --json``."""
        return {
            "original": self.original,
            "optimized": self.optimized,
            "use_case": self.use_case,
            "use_case_detected": self.use_case_detected,
            "style": self.style,
            "rewrite": self.rewrite,
            "slots": dict(self.slots),
            "found": list(self.found),
            "filled": list(self.filled),
            "quoted": [q.text for q in self.quoted],
            "constraints": list(self.constraints),
            "warnings": list(self.warnings),
        }
