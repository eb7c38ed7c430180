"""What every request of the API needs: who calls, what they may see, and the app's parts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from siteplane.config import Config
from siteplane.dashboard.auth import Caller, TokenReviewer
from siteplane.dashboard.problems import ProblemError
from siteplane.domain.access import Visibility
from siteplane.errors import KubeUnavailable
from siteplane.kube.client import KubeClient
from siteplane.rbac.visibility import visibility
from siteplane.store.listings import Visibilities
from siteplane.store.unit_of_work import Store, UnitOfWork

BEARER = "bearer "
MAX_TOKEN = 16384  # a JWT with many groups stays far below this


@dataclass
class Dashboard:
    """The API's parts, made once at start-up and kept on the app."""

    config: Config
    store: Store
    kube: KubeClient
    reviewer: TokenReviewer


def dashboard(request: Request) -> Dashboard:
    found: Dashboard = request.app.state.dashboard
    return found


async def caller(request: Request, parts: Annotated[Dashboard, Depends(dashboard)]) -> Caller:
    """The authenticated caller, from ``Authorization: Bearer <token>``; 401 otherwise."""
    header = request.headers.get("authorization") or ""
    if not header:
        raise ProblemError(401, "an Authorization: Bearer <token> header is required")
    if not header[: len(BEARER)].lower() == BEARER or len(header) > MAX_TOKEN:
        raise ProblemError(401, "the Authorization header must be Bearer <token>")
    token = header[len(BEARER) :].strip()
    if not token or any(c.isspace() or not c.isprintable() for c in token):
        raise ProblemError(401, "the Authorization header must be Bearer <token>")
    try:
        author = await parts.reviewer.review(token)
    except KubeUnavailable:
        raise ProblemError(503, "the Kubernetes API cannot check the token now; try again") from None
    if author is None:
        raise ProblemError(401, "the token is not accepted by the cluster")
    return Caller(author, token)


CallerDep = Annotated[Caller, Depends(caller)]
DashboardDep = Annotated[Dashboard, Depends(dashboard)]


def seen(uow: UnitOfWork, who: Caller, resource_type: str) -> Visibility:
    """What ``who`` may get of ``resource_type``, from the grants table (the mirror of RBAC)."""
    grants = uow.grants.live_for(who.username, who.groups, resource_type)
    return visibility(grants, who.username, who.groups, resource_type)


def seen_all(uow: UnitOfWork, who: Caller) -> Visibilities:
    """What ``who`` may get of every kind a view can mix (a zone's record sets, search, history)."""
    return Visibilities(seen(uow, who, "sites"), seen(uow, who, "dnszones"), seen(uow, who, "dnsrecords"))


def only(*names: str) -> Callable[[Request], None]:
    """A dependency refusing query parameters other than ``names`` (a typo must not widen a list)."""
    allowed = frozenset(names)

    def check(request: Request) -> None:
        unknown = sorted(set(request.query_params) - allowed)
        if unknown:
            raise ProblemError(
                400,
                f"unknown query parameter(s): {', '.join(_shown(unknown))}; this endpoint takes: "
                f"{', '.join(sorted(allowed)) or 'none'}",
            )
        counts = Counter(key for key, _ in request.query_params.multi_items())
        repeated = sorted(key for key, count in counts.items() if count > 1)
        if repeated:
            # Which of two values would count is a guess; the caller says which they mean.
            raise ProblemError(400, f"query parameter(s) given more than once: {', '.join(_shown(repeated))}")

    return check


def _shown(names: Iterable[str]) -> list[str]:
    """Names as the caller sent them, but cut and made printable: an error echoes no payload."""
    return [repr(name[:40]) for name in names][:10]
