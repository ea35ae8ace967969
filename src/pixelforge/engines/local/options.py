"""Options of local diffusion models (torch-free, so the API and CLI validate them anywhere)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from pixelforge.domain.request import EngineOptions


class LoraWeight(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=128)
    weight: float = Field(default=1.0, ge=-4.0, le=4.0)


class LocalOptions(EngineOptions):
    """Options of local diffusion models (all optional; defaults come from the model family)."""

    steps: int | None = Field(default=None, ge=1, le=150)
    guidance: float | None = Field(default=None, ge=0.0, le=30.0)
    scheduler: str = Field(default="default", max_length=32)
    strength: float | None = Field(default=None, gt=0.0, le=1.0)
    """Image-to-image: how far from the input image (1.0: ignore it)."""
    loras: tuple[LoraWeight, ...] = Field(default=(), max_length=8)
    fast_decode: bool = False
    """Decode with the family's tiny autoencoder (TAESD): much faster, slightly softer."""
    previews: bool = True
    generate_at: Literal["native", "requested"] = "native"
