"""The FastAPI application. Its lifespan is the server's composition root."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI

from pixelforge import __version__
from pixelforge.api import errors, studio
from pixelforge.api.container import Container
from pixelforge.api.metrics import Metrics
from pixelforge.api.middleware import RequestContext
from pixelforge.api.routes import account, admin, assets, compare, images, jobs, oidc, ops
from pixelforge.api.routes import batches as batch_routes
from pixelforge.api.routes import files as file_routes
from pixelforge.api.routes import metadata as metadata_routes
from pixelforge.api.routes import prompts as prompt_routes
from pixelforge.api.routes import quote as quote_routes
from pixelforge.api.routes import references as reference_routes
from pixelforge.api.routes import text_overlay as text_overlay_routes
from pixelforge.api.routes import threads as thread_routes
from pixelforge.api.routes import upscale as upscale_routes
from pixelforge.api.routes import variations as variation_routes
from pixelforge.api.routes import verify as verify_routes
from pixelforge.bootstrap import default_engines
from pixelforge.config import Settings
from pixelforge.engines.base import Engine


def create_app(
    settings: Settings | None = None, engines: Sequence[Engine] | None = None
) -> FastAPI:
    """Build the app; storage, engines and workers start in its lifespan."""
    settings = settings or Settings()
    container_holder: dict[str, Container] = {}
    metrics = Metrics(lambda: container_holder["c"].queue.depth() if container_holder else 0)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Sync routes wait on jobs in threads; allow many waiting requests at once.
        anyio.to_thread.current_default_thread_limiter().total_tokens = 256
        container = await anyio.to_thread.run_sync(
            Container.build,
            settings,
            list(engines) if engines is not None else default_engines(settings),
            metrics,
        )
        container_holder["c"] = container
        app.state.container = container
        container.start()
        try:
            yield
        finally:
            await anyio.to_thread.run_sync(container.stop)

    app = FastAPI(
        title="Pixelforge",
        version=__version__,
        summary="Self-hosted image generation: OpenAI-compatible images API, jobs and assets.",
        lifespan=lifespan,
    )
    errors.install(app)
    routers = (
        images.router, jobs.router, assets.router, ops.router, account.router, admin.router,
        oidc.router, compare.router,
    )  # fmt: skip
    for router in routers:
        app.include_router(router)
    app.include_router(prompt_routes.router)
    app.include_router(reference_routes.router)
    app.include_router(thread_routes.router)
    app.include_router(variation_routes.router)
    app.include_router(upscale_routes.router)
    app.include_router(text_overlay_routes.router)
    app.include_router(file_routes.router)
    app.include_router(batch_routes.router)
    app.include_router(verify_routes.router)
    app.include_router(metadata_routes.router)
    app.include_router(quote_routes.router)
    studio.install(app)
    app.add_middleware(RequestContext, metrics=metrics, max_body=settings.max_request_bytes)
    return app
