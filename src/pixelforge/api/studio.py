"""The browser studio: one HTML shell at ``/`` and its static files under ``/static``.

Nothing here reads data: the shell and its scripts are the same for everyone and need no
credentials (like a sign-in page); every piece of data the studio shows comes from the API
routes, which check the caller. There is no build step: plain ES modules and CSS, all served
from the package, so the page makes no request to another origin (the CSP says so too).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.staticfiles import StaticFiles

WEB_DIR = Path(str(resources.files("pixelforge") / "web"))
#: The paths the studio answers without credentials; they serve files only.
STUDIO_PATHS = ("/", "/static")


async def _shell(_: Request) -> Response:
    # The shell is small and changes with every release: always revalidate it.
    return FileResponse(WEB_DIR / "index.html", headers={"Cache-Control": "no-cache"})


def install(app: FastAPI) -> None:
    """Serve the studio from ``app``: ``/`` (the shell) and ``/static/*`` (its files)."""
    app.mount("/static", StaticFiles(directory=WEB_DIR / "static"), name="static")
    app.add_route("/", _shell, methods=["GET", "HEAD"], include_in_schema=False)
