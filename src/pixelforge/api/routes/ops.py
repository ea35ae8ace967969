"""Operations: liveness, readiness, Prometheus metrics, the model list."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from sqlalchemy import text

from pixelforge.api.auth import AdminUser, CurrentUser
from pixelforge.api.deps import ContainerDep
from pixelforge.errors import NotFoundError

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="Liveness")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: database reachable, workers running")
def readyz(c: ContainerDep) -> JSONResponse:
    checks: dict[str, Any] = {}
    try:
        with c.db.read() as s:
            s.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception:
        checks["database"] = "unavailable"
    checks["workers"] = f"{c.pool.alive}/{c.pool.size}"
    ready = checks["database"] == "ok" and c.pool.alive == c.pool.size
    return JSONResponse({"status": "ready" if ready else "unavailable", **checks},
                        status_code=200 if ready else 503)  # fmt: skip


@router.get("/metrics", summary="Prometheus metrics (admin)", response_class=PlainTextResponse)
def metrics(c: ContainerDep, _: AdminUser) -> Response:
    return Response(c.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")


def _model(info: Any) -> dict[str, Any]:
    caps = info.capabilities
    return {
        "id": info.id, "object": "model", "created": 0, "owned_by": f"pixelforge:{info.engine}",
        "description": info.description,
        "capabilities": {
            "modes": sorted(m.value for m in caps.modes), "max_references": caps.max_references,
            "mask": caps.mask, "aspect_ratios": sorted(caps.aspect_ratios),
            "resolutions": sorted(t.value for t in caps.tiers),
            "explicit_sizes": caps.explicit_sizes, "max_edge": caps.max_edge, "n_max": caps.n_max,
            "seed": caps.deterministic_seed, "negative_prompt": caps.negative_prompt,
            "transparent_background": caps.transparent_background,
            "formats": sorted(f.value for f in caps.formats), "speed_class": caps.speed_class,
        },
    }  # fmt: skip


@router.get("/v1/models", summary="List models (OpenAI-compatible)")
def list_models(c: ContainerDep, _: CurrentUser) -> dict[str, Any]:
    return {"object": "list", "data": [_model(m) for m in c.registry.models()]}


@router.get("/v1/models/{model_id}", summary="Read a model")
def get_model(model_id: str, c: ContainerDep, _: CurrentUser) -> dict[str, Any]:
    for info in c.registry.models():
        if info.id == model_id:
            return _model(info)
    raise NotFoundError(f"model {model_id!r} not found", param="model", code="model_not_found")
