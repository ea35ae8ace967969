"""Settings: one object, read from ``PIXELFORGE_*`` environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
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
    auth: Literal["auto", "required", "off"] = "auto"
    """``auto``: sign-in required as soon as one user exists; ``off``: local use only."""
    rate_limit_per_minute: int = Field(default=120, ge=0)
    """Requests that change state, per user and per API key (0: no limit)."""
    user_concurrency: int = Field(default=4, ge=0)
    """Jobs one user may have running at once (0: no cap)."""
    prices_file: Path | None = None
    local_price_per_image: str | None = None
    """USD per image for local engines (compose, diffusers); default from the price table."""
    session_days: float = Field(default=7.0, gt=0)
    allow_reference_urls: bool = False
    openai_api_key: SecretStr | None = None
    """Enables the ``openai`` engine (GPT Image models)."""
    openai_base_url: str | None = None
    """For gateways and OpenAI-compatible servers."""
    openai_models: str = "gpt-image-1,gpt-image-1-mini,gpt-image-1.5,gpt-image-2"
    gemini_api_key: SecretStr | None = None
    """Enables the ``gemini`` engine (Nano Banana models)."""
    gemini_base_url: str | None = None
    gemini_models: str = (
        "gemini-2.5-flash-image,gemini-3-pro-image-preview,gemini-3.1-flash-image-preview"
    )
    fallbacks: dict[str, list[str]] = Field(default_factory=dict)
    """Fallback chains, as JSON: {"gemini-3-pro-image-preview": ["gemini-2.5-flash-image"]}."""
    breaker_failures: int = Field(default=5, ge=1)
    breaker_cooldown_seconds: float = Field(default=30.0, gt=0)
    provider_timeout_seconds: float = Field(default=120.0, gt=0)
    provider_max_retries: int = Field(default=2, ge=0, le=10)
    models_dir: Path | None = None
    """Local diffusion models (diffusers folders, single-file checkpoints, LoRAs, TAESD);
    default ``$PIXELFORGE_HOME/models``."""
    diffusers_device: str = Field(default="auto", pattern=r"^(auto|cpu|mps|cuda(:\d+)?)$")
    diffusers_dtype: Literal["auto", "float32", "float16", "bfloat16"] = "auto"
    diffusers_memory_budget_mb: int = Field(default=0, ge=0)
    """Memory the warm local models may hold (0: 85% of the GPU, or half the RAM on CPU)."""
    diffusers_channels_last: bool = False
    allow_model_downloads: bool = False
    """Lets ``pixelforge models pull`` reach the model hub; otherwise hub access is off."""
    oidc_issuer: str | None = None
    """OpenID Connect issuer URL; with a client id it enables "Sign in with SSO"."""
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = None
    oidc_redirect_url: str | None = None
    """Where the provider sends users back: https://<server>/auth/oidc/callback."""
    oidc_create_users: bool = False
    """Create a member account on first SSO sign-in (else the email must already exist)."""
    oidc_allowed_domains: str = ""
    """Comma-separated email domains allowed to sign in with SSO (empty: any)."""
    public_url: str | None = None
    """Base URL used in ``url`` responses; default: the request's own base URL."""
    prompt_llm_base_url: str | None = None
    """OpenAI-compatible chat endpoint (e.g. ``http://127.0.0.1:11434/v1``) for the prompt
    optimizer's ``rewrite: "llm"``; with ``prompt_llm_model`` it enables that option."""
    prompt_llm_model: str | None = None
    prompt_llm_api_key: SecretStr | None = None
    batch_max_file_bytes: int = Field(default=200 * 1024 * 1024, gt=0)
    """Largest file ``POST /v1/files`` accepts (a batch's JSONL input)."""
    batch_max_requests: int = Field(default=50_000, ge=1)
    """Most lines one batch may have."""
    batch_poll_seconds: float = Field(default=1.0, gt=0)
    """How often the server looks for batches whose jobs all ended (to write their output)."""
    provenance: bool = True
    """Sign every output with a C2PA manifest (model, AI-generated, the inputs of edits)."""
    c2pa_cert_file: Path | None = None
    """PEM certificate chain (signing certificate first) for C2PA; without it (and
    ``c2pa_key_file``) a development identity is made under ``$PIXELFORGE_HOME/c2pa``."""
    c2pa_key_file: Path | None = None
    c2pa_alg: Literal["es256", "es384", "ps256", "ed25519"] = "es256"
    watermark: bool = True
    """Embed an invisible watermark with a per-image id in every output."""
    prompt_metadata: bool = True
    """Write the prompt into output files' metadata (``parameters``, ``pixelforge`` chunks)."""
    metadata_sidecar: bool = False
    """Write a JSON sidecar (``<name>.json``: settings, digest, a request to run it again) next
    to every image the CLI writes (``--sidecar`` turns it on for one command)."""

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'pixelforge.db'}"

    @property
    def resolved_models_dir(self) -> Path:
        return self.models_dir or self.home / "models"

    @property
    def blob_dir(self) -> Path:
        return self.home / "blobs"
