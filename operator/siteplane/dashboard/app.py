"""The dashboard API as an ASGI app: ``create_app(config)``; ``siteplane serve`` runs it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from siteplane import __version__
from siteplane.config import Config
from siteplane.dashboard import openapi, problems
from siteplane.dashboard.auth import TokenReviewer
from siteplane.dashboard.context import Dashboard, DashboardDep
from siteplane.dashboard.models import Health
from siteplane.dashboard.routes import history, me, records, search, sites, zones
from siteplane.errors import SiteplaneError
from siteplane.kube.client import KubeClient, load_credentials
from siteplane.store.database import make_engine
from siteplane.store.migrate import ensure_current
from siteplane.store.unit_of_work import Store

DESCRIPTION = """\
The application database siteplane keeps, served to people as their Kubernetes RBAC permissions
allow: every list, detail and search shows exactly what the caller may `get`, and nothing of the
rest; changes go through the Kubernetes API with the caller's own token. Authenticate with
`Authorization: Bearer <token>`, any token the cluster accepts. Errors are RFC 9457 problem details.
"""


def create_app(config: Config, kube: KubeClient | None = None) -> FastAPI:
    """The app; its database and API client are made when it starts (in its event loop)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(config.database_url)
        ensure_current(engine)
        client = kube or KubeClient.connect(
            load_credentials(), timeout=config.kube_timeout, concurrency=config.api_concurrency
        )
        reviewer = TokenReviewer(
            client, config.api_audiences, config.api_token_cache_seconds, config.api_token_cache_size
        )
        app.state.dashboard = Dashboard(config, Store(engine), client, reviewer)
        try:
            yield
        finally:
            if kube is None:
                await client.close()
            engine.dispose()

    app = FastAPI(
        title="siteplane dashboard API",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
        responses=problems.documented(400, 401, 503),
    )
    problems.install(app)

    @app.get("/healthz", response_model=Health, tags=["health"])
    async def healthz() -> Health:
        """The process answers."""
        return Health(status="ok")

    @app.get(
        "/readyz",
        response_model=Health,
        tags=["health"],
        responses=problems.documented(503),
    )
    async def readyz(parts: DashboardDep) -> Health | JSONResponse:
        """Ready only when the database answers."""
        try:
            await asyncio.to_thread(parts.store.read, lambda uow: uow.changes.latest_id())
        except SiteplaneError:
            return problems.problem_response(503, "the application database does not answer")
        return Health(status="ok")

    for module in (me, sites, zones, records, search, history):
        app.include_router(module.router, responses=problems.documented(404))
    openapi.install(app)
    return app
