"""The prompt optimizer: a rough idea -> a structured prompt with explicit slots.

Offline and deterministic by default (``rules``: vocabularies and templates per use case);
optionally rewritten by an OpenAI-compatible chat model (``llm``), checked to keep every quoted
string and constraint verbatim. The original always travels beside the rewrite; the caller
chooses which one runs. See docs/workflows.md.
"""

from pixelforge.services.optimizer.llm import ChatRewriter
from pixelforge.services.optimizer.records import (
    REWRITES,
    SLOTS,
    STYLES,
    USE_CASES,
    OptimizedPrompt,
    PromptStyle,
    Quoted,
    Rewrite,
    Slot,
    UseCase,
)
from pixelforge.services.optimizer.service import (
    MAX_PROMPT_CHARS,
    PromptOptimizer,
    optimize,
    style_for_model,
)

__all__ = [
    "MAX_PROMPT_CHARS",
    "REWRITES",
    "SLOTS",
    "STYLES",
    "USE_CASES",
    "ChatRewriter",
    "OptimizedPrompt",
    "PromptOptimizer",
    "PromptStyle",
    "Quoted",
    "Rewrite",
    "Slot",
    "UseCase",
    "optimize",
    "style_for_model",
]
