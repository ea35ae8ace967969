"""The one error tree. Every layer raises these; the CLI and the HTTP layer map them.

Each error carries an OpenAI-style ``type`` and ``code`` plus the offending ``param``, so the
API can answer ``{"error": {"message", "type", "param", "code"}}`` and the CLI can name the
option. Messages always say the field, the bad value and what is allowed.
"""

from __future__ import annotations

from collections.abc import Iterable


class PixelforgeError(Exception):
    """Base of all errors we raise on purpose."""

    status: int = 500
    type: str = "server_error"
    code: str = "internal_error"

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            self.code = code

    def to_body(self) -> dict[str, dict[str, str | None]]:
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }


class InvalidRequestError(PixelforgeError):
    """The caller sent something we will not run (bad value, bad combination)."""

    status = 400
    type = "invalid_request_error"
    code = "invalid_value"


class CapabilityError(InvalidRequestError):
    """The request is well formed but the chosen model cannot honour it."""

    code = "unsupported_by_model"


class UnsupportedImageError(InvalidRequestError):
    status = 415
    code = "unsupported_image_format"


class ImageTooLargeError(InvalidRequestError):
    status = 413
    code = "image_too_large"


class FileTooLargeError(InvalidRequestError):
    """An uploaded file (``POST /v1/files``) is over the size limit."""

    status = 413
    code = "file_too_large"


class NotFoundError(PixelforgeError):
    status = 404
    type = "not_found_error"
    code = "not_found"


class CancelledError(PixelforgeError):
    """The job was cancelled; engines raise it from their cancellation checkpoints."""

    status = 409
    type = "conflict_error"
    code = "job_cancelled"


class EngineError(PixelforgeError):
    """The engine failed for a reason that is not the caller's fault."""

    status = 500
    type = "server_error"
    code = "engine_error"


class IdempotencyConflictError(PixelforgeError):
    status = 409
    type = "conflict_error"
    code = "idempotency_key_in_use"


class IdempotencyReusedError(PixelforgeError):
    status = 422
    type = "idempotency_error"
    code = "idempotency_key_reused"


class JobStateError(PixelforgeError):
    status = 409
    type = "conflict_error"
    code = "job_state_conflict"


class WaitTimeoutError(PixelforgeError):
    status = 504
    type = "upstream_error"
    code = "job_timeout"


class AuthenticationError(PixelforgeError):
    """No valid credentials (missing, wrong, revoked or expired)."""

    status = 401
    type = "authentication_error"
    code = "invalid_api_key"


class PermissionDeniedError(PixelforgeError):
    status = 403
    type = "permission_error"
    code = "admin_required"


class InsufficientCreditsError(PixelforgeError):
    """Not enough credits (or quota, or key budget): 402, and clients must not retry."""

    status = 402
    type = "insufficient_quota"
    code = "insufficient_credits"


class RateLimitedError(PixelforgeError):
    status = 429
    type = "rate_limit_error"
    code = "rate_limit_exceeded"

    def __init__(self, message: str, *, retry_after: float, headers: dict[str, str]) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.headers = headers


class OidcProviderError(PixelforgeError):
    """The identity provider could not be reached or answered nonsense."""

    status = 502
    type = "upstream_error"
    code = "oidc_unavailable"


class SafetyBlockedError(PixelforgeError):
    """The provider's (or our) safety system refused the request; the job is refunded."""

    status = 400
    type = "image_generation_user_error"
    code = "content_policy_violation"


class UpstreamError(PixelforgeError):
    """A hosted provider failed or answered something we cannot use."""

    status = 502
    type = "upstream_error"
    code = "provider_bad_response"


class UpstreamTimeoutError(UpstreamError):
    status = 504
    code = "provider_timeout"


class ProviderRejectedError(InvalidRequestError):
    """The provider refused the request as invalid (a 4xx other than moderation)."""

    code = "provider_rejected_request"


class ProviderUnavailableError(UpstreamError):
    status = 503
    type = "service_unavailable"
    code = "provider_unavailable"


def allowed(values: Iterable[object]) -> str:
    """Render a list of allowed values for an error message."""
    return ", ".join(str(v) for v in values)
