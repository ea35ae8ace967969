"""Every API route needs credentials unless it is on the short, documented public list."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from pixelforge.api import auth
from pixelforge.api.app import create_app
from pixelforge.api.auth import PUBLIC_PATHS, current_principal
from pixelforge.config import Settings

API_DIR = Path(auth.__file__).resolve().parent
DOCUMENTED_PUBLIC = {
    "/healthz",
    "/readyz",
    "/auth/login",
    "/auth/oidc/login",
    "/auth/oidc/callback",
    "/docs",
    "/docs/oauth2-redirect",
    "/openapi.json",
    "/redoc",
}


def _calls(dependant: Dependant) -> Iterator[object]:
    for dependency in dependant.dependencies:
        yield dependency.call
        yield from _calls(dependency)


def _flatten(routes: Iterable[BaseRoute], prefix: str = "") -> Iterator[tuple[str, APIRoute]]:
    """(full path, route) for every APIRoute, looking inside included routers.

    FastAPI >= 0.16x keeps included routers as one ``_IncludedRouter`` entry in ``app.routes``
    instead of copying their routes, so a flat ``isinstance`` scan would audit nothing.
    """
    for route in routes:
        if isinstance(route, APIRoute):
            yield prefix + route.path, route
            continue
        included = getattr(route, "original_router", None)
        if included is not None:
            context = route.include_context  # type: ignore[attr-defined]
            # Dependencies added at include time would protect every route below; there are
            # none today, and routes relying on them would fail the audit (never pass it).
            assert not context.dependencies
            yield from _flatten(included.routes, prefix + context.prefix)


def _app(tmp_path: Path) -> FastAPI:
    return create_app(Settings(home=tmp_path))


def _api_routes(tmp_path: Path) -> list[tuple[str, APIRoute]]:
    return list(_flatten(_app(tmp_path).routes))


def test_routes_require_current_principal_when_not_public(tmp_path: Path) -> None:
    unprotected = [
        f"{sorted(route.methods)} {path}"
        for path, route in _api_routes(tmp_path)
        if path not in PUBLIC_PATHS and current_principal not in set(_calls(route.dependant))
    ]
    assert unprotected == []


def test_audit_covers_every_openapi_operation_when_app_is_built(tmp_path: Path) -> None:
    app = _app(tmp_path)
    audited = {
        (method.lower(), path) for path, route in _flatten(app.routes) for method in route.methods
    }
    documented = {
        (method, path) for path, item in app.openapi()["paths"].items() for method in item
    }
    assert documented <= audited


def test_audit_sees_the_protected_routes_when_app_is_built(tmp_path: Path) -> None:
    paths = {path for path, _ in _api_routes(tmp_path)}
    expected = {"/api/jobs/{job_id}", "/api/admin/users", "/metrics", "/api/keys", "/auth/me"}
    assert expected <= paths


def test_public_paths_equal_documented_set_when_imported() -> None:
    assert set(PUBLIC_PATHS) == DOCUMENTED_PUBLIC


def test_public_api_routes_are_only_health_and_login_when_app_is_built(tmp_path: Path) -> None:
    public = {path for path, _ in _api_routes(tmp_path) if path in PUBLIC_PATHS}
    assert public == {
        "/healthz", "/readyz", "/auth/login", "/auth/oidc/login", "/auth/oidc/callback",
    }  # fmt: skip


def test_api_code_never_reads_url_path_for_authorization_when_grepped() -> None:
    offenders = []
    for path in sorted(API_DIR.rglob("*.py")):
        if path.name == "middleware.py":
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            # Logging the path is fine; deciding on it is not.
            if re.search(r"url\.path|scope\[\"path\"\]", line) and "log." not in line:
                offenders.append(f"{path.relative_to(API_DIR)}:{number}: {line.strip()}")
    assert offenders == []


def test_audit_flags_route_when_it_lacks_current_principal(tmp_path: Path) -> None:
    app = _app(tmp_path)
    stray = APIRouter(prefix="/api/stray")

    @stray.get("/open")
    def open_route() -> dict[str, str]:
        return {}

    app.include_router(stray)
    flagged = [
        path
        for path, route in _flatten(app.routes)
        if path not in PUBLIC_PATHS and current_principal not in set(_calls(route.dependant))
    ]
    assert flagged == ["/api/stray/open"]
