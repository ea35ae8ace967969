"""``optimize``: rough prompt -> structured prompt, and the optimizer the server and CLI use."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from pixelforge.engines.registry import ModelRegistry
from pixelforge.errors import (
    InvalidRequestError,
    PermissionDeniedError,
    PixelforgeError,
    allowed,
)
from pixelforge.services.optimizer.llm import ChatRewriter, missing_verbatim
from pixelforge.services.optimizer.phrasing import Draft, fill, render
from pixelforge.services.optimizer.records import (
    REWRITES,
    SLOTS,
    STYLES,
    USE_CASES,
    OptimizedPrompt,
    PromptStyle,
    Rewrite,
    UseCase,
)
from pixelforge.services.optimizer.rules import parse

MAX_PROMPT_CHARS = 4_000
"""A rough idea, not a finished prompt: keeps the rules (some quadratic in the text) fast."""
#: Engine -> phrasing: SD-family local models read tags, hosted models read sentences.
ENGINE_STYLES: dict[str, PromptStyle] = {
    "compose": "brief", "diffusers": "keywords", "openai": "sentences", "gemini": "sentences",
}  # fmt: skip
#: Model ids this server may not serve but whose family is known (the CLI has no API keys).
_FAMILIES: tuple[tuple[re.Pattern[str], PromptStyle], ...] = (
    (re.compile(r"^compose$"), "brief"),
    (re.compile(r"^(?:gpt-image|chatgpt-image|dall-e|gemini|imagen)", re.I), "sentences"),
    (re.compile(r"^(?:sd|stable-diffusion|sdxl|flux|sana|pixart|playground|kandinsky)", re.I),
     "keywords"),
)  # fmt: skip


def _choice(value: str, values: Sequence[str], param: str) -> str:
    if value not in values:
        raise InvalidRequestError(
            f"{param}: {value!r} is not allowed; allowed: {allowed(values)}", param=param
        )
    return value


def style_for_model(model: str, registry: ModelRegistry | None = None) -> PromptStyle:
    """The phrasing ``model`` reads best: from its engine when served here, else its family."""
    if registry is not None and model in {m.id for m in registry.models()}:
        _, info = registry.resolve(model)
        return ENGINE_STYLES.get(info.engine, "sentences")
    for pattern, style in _FAMILIES:
        if pattern.search(model):
            return style
    served = sorted(m.id for m in registry.models()) if registry is not None else ["compose"]
    raise InvalidRequestError(
        f"model: {model!r} is neither served here nor of a known family (gpt-image*, "
        f"gemini*, sd*/sdxl*/flux*); served: {allowed(served)}; or give a style "
        f"({allowed(STYLES)})",
        param="model", code="model_not_found",
    )  # fmt: skip


def optimize(
    text: str,
    model: str | None = "compose",
    use_case: str | None = None,
    style: str | None = None,
    *,
    registry: ModelRegistry | None = None,
) -> OptimizedPrompt:
    """The rules' structured prompt for ``text``: pure and deterministic.

    ``style`` wins over ``model``; ``use_case`` wins over detection. Bad values raise
    :class:`InvalidRequestError` naming ``prompt``, ``model``, ``use_case`` or ``style``.
    """
    if not text.strip():
        raise InvalidRequestError("prompt: empty; describe what to make", param="prompt")
    if len(text) > MAX_PROMPT_CHARS:
        raise InvalidRequestError(
            f"prompt: {len(text)} characters; the optimizer takes a rough idea of at most "
            f"{MAX_PROMPT_CHARS}",
            param="prompt",
        )
    chosen_case: UseCase | None = None
    if use_case is not None:
        chosen_case = next(u for u in USE_CASES if u == _choice(use_case, USE_CASES, "use_case"))
    if style is not None:
        phrasing = next(s for s in STYLES if s == _choice(style, STYLES, "style"))
    else:
        phrasing = style_for_model(model or "compose", registry)
    parsed = parse(text)
    final_case: UseCase = chosen_case or parsed.use_case or "general"
    slots, filled = fill(final_case, phrasing, parsed.found)
    phrase = parsed.use_case_phrase if final_case == parsed.use_case else None
    draft = Draft(final_case, phrase, slots, parsed.quoted, parsed.constraints,
                  parsed.quotes_in_constraints)  # fmt: skip
    return OptimizedPrompt(
        original=text,
        optimized=render(draft, phrasing),
        use_case=final_case,
        use_case_detected=chosen_case is None,
        style=phrasing,
        slots=slots,
        found=tuple(s for s in SLOTS if s in parsed.found),
        filled=filled,
        quoted=parsed.quoted,
        constraints=parsed.constraints,
    )


class PromptOptimizer:
    """:func:`optimize` with the served models, plus the optional LLM rewrite."""

    def __init__(self, registry: ModelRegistry | None, rewriter: ChatRewriter | None = None):
        self.registry = registry
        self.rewriter = rewriter

    def optimize(
        self,
        text: str,
        model: str | None = None,
        use_case: str | None = None,
        style: str | None = None,
        rewrite: str = "rules",
    ) -> OptimizedPrompt:
        """The rules' result, or (``rewrite="llm"``) the chat model's rewrite of it when that
        keeps every quoted string and constraint verbatim; otherwise the rules' result with a
        warning saying why."""
        mode: Rewrite = next(r for r in REWRITES if r == _choice(rewrite, REWRITES, "rewrite"))
        if mode == "llm" and self.rewriter is None:
            raise PermissionDeniedError(
                "rewrite: 'llm' is off on this server (no prompt model: set "
                "PIXELFORGE_PROMPT_LLM_BASE_URL and PIXELFORGE_PROMPT_LLM_MODEL); use 'rules'",
                param="rewrite", code="feature_disabled",
            )  # fmt: skip
        result = optimize(text, model, use_case, style, registry=self.registry)
        if mode == "rules" or self.rewriter is None:
            return result
        try:
            answer = self.rewriter.rewrite(result)
        except PixelforgeError as exc:
            return _with_warning(result, f"LLM rewrite failed: {exc.message}; kept the rules")
        missing = missing_verbatim(result, answer.prompt)
        if missing:
            shown = ", ".join(repr(m) for m in missing)
            return _with_warning(result, f"LLM rewrite dropped {shown}; kept the rules")
        warnings: tuple[str, ...] = ()
        slots = answer.slots
        if slots is None:
            slots = dict(result.slots)
            warnings = ("LLM rewrite gave no usable slots; showing the rules' slots",)
        return OptimizedPrompt(
            original=result.original, optimized=answer.prompt, use_case=result.use_case,
            use_case_detected=result.use_case_detected, style=result.style, slots=slots,
            found=result.found, filled=tuple(s for s in slots if s not in result.found),
            quoted=result.quoted, constraints=result.constraints, rewrite="llm",
            warnings=warnings,
        )  # fmt: skip


def _with_warning(result: OptimizedPrompt, warning: str) -> OptimizedPrompt:
    return replace(result, warnings=(*result.warnings, warning))
