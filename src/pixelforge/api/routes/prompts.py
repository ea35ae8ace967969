"""The prompt optimizer: ``POST /api/prompts/optimize`` (runs no generation, costs nothing)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from pixelforge.api.auth import CurrentUser
from pixelforge.api.deps import ContainerDep
from pixelforge.bootstrap import prompt_optimizer
from pixelforge.services.optimizer import MAX_PROMPT_CHARS, PromptStyle, Rewrite, Slot, UseCase

router = APIRouter(prefix="/api/prompts", tags=["prompts"])


class OptimizeBody(BaseModel):
    """A rough prompt and, optionally, the model it is for, its use case and phrasing."""

    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(min_length=1, max_length=MAX_PROMPT_CHARS)
    model: str | None = Field(
        default=None, max_length=200, description="Phrase for this model (default: compose)."
    )
    use_case: UseCase | None = Field(default=None, description="Default: detected.")
    style: PromptStyle | None = Field(default=None, description="Default: from the model.")
    rewrite: Rewrite = "rules"


class OptimizedOut(BaseModel):
    original: str
    optimized: str
    use_case: UseCase
    use_case_detected: bool
    style: PromptStyle
    rewrite: Rewrite
    slots: dict[Slot, str]
    found: list[Slot] = Field(description="Slots the prompt itself filled.")
    filled: list[Slot] = Field(description="Slots the optimizer added.")
    quoted: list[str] = Field(description="Quoted text, kept verbatim.")
    constraints: list[str] = Field(description="Constraints, kept verbatim.")
    warnings: list[str]


@router.post("/optimize", summary="Turn a rough prompt into a structured one")
def optimize_prompt(body: OptimizeBody, c: ContainerDep, _: CurrentUser) -> OptimizedOut:
    result = prompt_optimizer(c.settings, c.registry).optimize(
        body.prompt, body.model, body.use_case, body.style, body.rewrite
    )
    return OptimizedOut.model_validate(result.to_dict())
