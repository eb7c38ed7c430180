"""The dashboard API as an ASGI app: ``create_app(config)``; ``siteplane serve`` runs it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from siteplane import __version__, metrics
from siteplane.config import Config
from siteplane.dashboard import openapi, problems
from siteplane.dashboard.answer_cache import AnswerCache
from siteplane.dashboard.auth import TokenReviewer
from siteplane.dashboard.context import Dashboard, DashboardDep
from siteplane.dashboard.live import LiveFeed
from siteplane.dashboard.models import Health
from siteplane.dashboard.routes import events, history, me, records, search, sites, writes, zones
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
The page at `/` is a client of this API like any other.
"""

# The page: plain HTML, CSS and JavaScript shipped in the package, served as they are.
PAGE_DIR = Path(__file__).parent / "page"
# Its scripts and styles come from this server only, and it calls only this server: nothing
# inline, nothing from elsewhere, never framed, and no form may submit anywhere (a token typed
# into a page whose script failed to load must not end up in a URL).
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}


def _feed_position(scope: Scope) -> int | None:
    live: LiveFeed | None = getattr(scope["app"].state, "live", None)
    return None if live is None else live.known_position


METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class Measured:
    """Counts and times every request by its route's template (``/api/v1/sites/{namespace}/{name}``,
    never the names in it), its method and its status: labels bounded whatever clients send."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.monotonic(), 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = getattr(scope.get("route"), "path", None)
            if route is None:
                route = "/static" if str(scope.get("path", "")).startswith("/static/") else "other"
            method = scope.get("method", "") if scope.get("method") in METHODS else "other"
            metrics.api_request(route, method, status, time.monotonic() - started)


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
        store = Store(engine)
        app.state.dashboard = Dashboard(config, store, client, reviewer)
        app.state.live = live = LiveFeed(store, reviewer, config)
        metrics.api_live_clients(lambda: len(live.clients))
        try:
            await live.start()
            yield
        finally:
            await live.stop()
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
    app.add_middleware(
        AnswerCache, seconds=config.api_cache_seconds, entries=config.api_cache_entries, position=_feed_position
    )

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

    # Not in the OpenAPI document: it is for Prometheus, in Prometheus's format (docs/operations.md).
    @app.get("/metrics", include_in_schema=False)
    async def scrape() -> Response:
        """Prometheus's text format: requests by route template and status, live updates clients."""
        return Response(metrics.exposition(metrics.API), media_type=metrics.CONTENT_TYPE)

    for module in (me, sites, zones, records, search, history, events):
        app.include_router(module.router, responses=problems.documented(404))
    app.include_router(writes.router)

    @app.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
    async def page() -> FileResponse:
        """The dashboard page; it signs in with a token and reads this API."""
        return FileResponse(PAGE_DIR / "index.html", headers=PAGE_HEADERS)

    app.mount("/static", StaticFiles(directory=PAGE_DIR), name="static")
    openapi.install(app)
    app.add_middleware(Measured)
    return app
