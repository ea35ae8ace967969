"""Settings: one object, read from ``PIXELFORGE_*`` environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything configurable. Built once by the composition root and passed down."""

    model_config = SettingsConfigDict(env_prefix="PIXELFORGE_", extra="ignore")

    home: Path = Field(default_factory=lambda: Path.home() / ".pixelforge")
    database_url: str | None = None
    """SQLAlchemy URL; default: SQLite in WAL mode at ``$PIXELFORGE_HOME/pixelforge.db``."""
    workers: int = Field(default=2, ge=0, le=64)
    """Worker threads in the server process (0: accept jobs, run none)."""
    lease_seconds: float = Field(default=30.0, gt=0)
    max_attempts: int = Field(default=3, ge=1, le=20)
    poll_seconds: float = Field(default=0.2, gt=0)
    sync_timeout_seconds: float = Field(default=300.0, gt=0)
    """How long the OpenAI-compatible endpoints wait for a job before answering 504."""
    max_upload_bytes: int = Field(default=50 * 1024 * 1024, gt=0)
    max_request_bytes: int = Field(default=200 * 1024 * 1024, gt=0)
    max_image_pixels: int = Field(default=40_000_000, gt=0)
    idempotency_retention_hours: float = Field(default=24.0, gt=0)
    public_url: str | None = None
    """Base URL used in ``url`` responses; default: the request's own base URL."""

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'pixelforge.db'}"

    @property
    def blob_dir(self) -> Path:
        return self.home / "blobs"
