"""Changes to Sites, DNSZones and DNSRecords, made through the Kubernetes API as the caller.

The API has no write power of its own: each change is sent with the caller's own token, so RBAC,
the CRD schema with its CEL rules and the admission webhook decide it exactly as they decide the
caller's kubectl, and their refusal comes back unchanged in meaning (kube/changes.py says how the
object is written). The API never writes its database; it only reads it, to refuse changes in
namespaces Git owns before anything is sent.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

from siteplane.api.kinds import DNSRECORD, DNSZONE, SITE, Kind
from siteplane.dashboard import problems
from siteplane.dashboard.auth import Caller
from siteplane.dashboard.change_models import (
    Deleted,
    RecordCreate,
    RecordUpdate,
    SiteCreate,
    SiteUpdate,
    Written,
    ZoneCreate,
    ZoneUpdate,
)
from siteplane.dashboard.context import CallerDep, Dashboard, DashboardDep, only, seen
from siteplane.dashboard.params import NamespaceName, ObjectName
from siteplane.dashboard.problems import ProblemError
from siteplane.errors import DatabaseUnavailable, KubeUnavailable
from siteplane.kube.changes import CallerChanges
from siteplane.kube.client import ApiError, bearer
from siteplane.kube.objects import Body
from siteplane.reconcile.operator import GITOPS_ANNOTATION
from siteplane.store.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

GITOPS_PROBLEM = "https://siteplane.io/problems/managed-by-gitops"
_SHOWN = 40  # characters of a caller-typed body key shown in an error


class _BodyProblems(APIRoute):
    """A request body the spec models refuse is a 422 naming each field, in the field paths the
    API server uses (``spec.serving.ipv4[0]``); not JSON at all is a 400. Query and path errors
    keep the app's own answer (400)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def answer(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as error:
                found = list(error.errors())
                if not found or any(tuple(e.get("loc", ()))[:1] != ("body",) for e in found):
                    raise
                if any(e.get("type") == "json_invalid" for e in found):
                    raise ProblemError(400, "the request body is not valid JSON") from None
                errors = [{"location": _location(e.get("loc", ())), "message": _message(e)} for e in found]
                raise ProblemError(422, "the request body is not valid", errors=errors) from None

        return answer


def _location(loc: Any) -> str:
    text = ""
    for part in tuple(loc)[1:]:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            shown = "".join(c if c.isprintable() else "?" for c in str(part)[:_SHOWN])
            text += f".{shown}" if text else shown
    return text or "body"


def _message(error: Mapping[str, Any]) -> str:
    return str(error.get("msg", "")).removeprefix("Value error, ")


WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    403: problems.described("The Kubernetes API refused the caller (RBAC or the admission webhook)"),
    404: problems.described("No such object (or namespace)"),
    409: problems.described(
        "Git owns the namespace (type managed-by-gitops); or the object exists, changed since the "
        "given resourceVersion, or another field manager holds a field (errors name each)"
    ),
    422: problems.described("The body, or the API server's schema and CEL rules, refuse a field"),
}
router = APIRouter(prefix="/api/v1", tags=["changes"], route_class=_BodyProblems, responses=WRITE_ERRORS)

NamespacePath = Annotated[str, Path(pattern=NamespaceName.pattern, max_length=63)]
NamePath = Annotated[str, Path(pattern=ObjectName.pattern, max_length=253)]
DryRun = Annotated[bool, Query(alias="dryRun", description="Validate and admit, store nothing (dryRun=All)")]
Force = Annotated[bool, Query(description="Take over fields another field manager holds, instead of a 409 naming them")]

# -- the steps every write shares --------------------------------------------------------------


async def _refuse_in_gitops_namespace(parts: Dashboard, who: Caller, kind: Kind, namespace: str) -> None:
    """A namespace Git owns takes no change here: Git would undo it. Refused before anything is sent.

    Who may not see the namespace's objects learns nothing about it: a plain 403, as the API server
    would answer them. When the database does not answer, nothing is sent either (503).
    """

    def read(uow: UnitOfWork) -> tuple[bool, bool]:
        if not uow.namespaces.gitops(namespace):
            return False, False
        visible = seen(uow, who, kind.plural)
        return True, (
            visible.everything
            or namespace in visible.namespaces
            or any(ns in (namespace, None) for ns, _ in visible.named)
        )

    try:
        gitops, visible = await asyncio.to_thread(parts.store.read, read)
    except DatabaseUnavailable:
        raise ProblemError(503, "the application database does not answer; nothing was changed, try again") from None
    if not gitops:
        return
    if not visible:
        raise ProblemError(403, f"{who.username} may not change {kind.plural} in namespace {namespace} here")
    raise ProblemError(
        409,
        f"namespace {namespace} is managed by GitOps (annotation {GITOPS_ANNOTATION}): Git would undo a change "
        f"made here. Change the {kind.kind} in the Git repository the namespace is synced from.",
        type_=GITOPS_PROBLEM,
    )


Work = Callable[[CallerChanges], Awaitable[Body]]


async def _send(parts: Dashboard, who: Caller, kind: Kind, namespace: str, what: str, work: Work) -> Body:
    """Run ``work`` as the caller, after the GitOps check; the API server's refusal as a problem."""
    await _refuse_in_gitops_namespace(parts, who, kind, namespace)
    changes = CallerChanges(parts.kube.speaking_as(bearer(who.token)))
    try:
        body = await work(changes)
    except ApiError as error:
        log.info(
            "%s: %s %s in %s refused (%d %s)",
            who.username,
            what,
            kind.plural,
            namespace,
            error.status,
            error.api_reason,
        )
        raise _problem(error) from None
    except KubeUnavailable:
        raise ProblemError(
            503,
            "the Kubernetes API did not answer; the change may or may not have been made: read the object again",
        ) from None
    log.info("%s: %s %s in %s", who.username, what, kind.plural, namespace)
    return body


def _problem(error: ApiError) -> ProblemError:
    """The API server's answer as a problem of the same meaning: its status, its message, and each
    cause (the field and why) in ``errors``."""
    details = error.body.get("details")
    causes = (details.get("causes") if isinstance(details, Mapping) else None) or []
    errors = [
        {
            "location": str(cause.get("field") or "").removeprefix("."),
            "message": str(cause.get("message") or ""),
            "reason": str(cause.get("reason") or ""),
        }
        for cause in causes
        if isinstance(cause, Mapping)
    ] or None
    message = error.api_message or error.api_reason
    if error.status == 401:
        return ProblemError(401, "the token is not accepted by the cluster")
    if error.status >= 500 or error.status == 429:
        return ProblemError(503, f"the Kubernetes API could not take the change now ({message}); try again")
    return ProblemError(error.status, message, errors=errors)


def _written(body: Body, dry_run: bool) -> Written:
    meta = body.get("metadata") or {}
    return Written(
        kind=str(body.get("kind") or ""),
        namespace=str(meta.get("namespace") or ""),
        name=str(meta.get("name") or ""),
        uid=str(meta.get("uid") or ""),
        resource_version=str(meta.get("resourceVersion") or ""),
        generation=int(meta.get("generation") or 0),
        spec=dict(body.get("spec") or {}),
        dry_run=dry_run,
        deleting=bool(meta.get("deletionTimestamp")),
    )


async def _raw_spec(request: Request) -> dict[str, Any]:
    """The spec exactly as the caller wrote it (the models have checked it): the API server decides
    on what the caller sent, not on the models' normalised reading of it (2001:DB8::1, 300.0)."""
    body = await request.json()
    return dict(body["spec"])


async def _create(
    parts: Dashboard,
    who: Caller,
    kind: Kind,
    segment: str,
    namespace: str,
    name: str,
    request: Request,
    response: Response,
    dry_run: bool,
) -> Written:
    spec = await _raw_spec(request)
    body = await _send(
        parts, who, kind, namespace, "create", lambda c: c.create(kind, namespace, name, spec, dry_run=dry_run)
    )
    if dry_run:
        response.status_code = 200
    else:
        response.headers["Location"] = f"/api/v1/{segment}/{namespace}/{name}"
    return _written(body, dry_run)


async def _update(
    parts: Dashboard,
    who: Caller,
    kind: Kind,
    namespace: str,
    name: str,
    resource_version: str | None,
    request: Request,
    force: bool,
    dry_run: bool,
) -> Written:
    spec = await _raw_spec(request)

    def work(changes: CallerChanges) -> Awaitable[Body]:
        return changes.update(
            kind, namespace, name, spec, resource_version=resource_version, force=force, dry_run=dry_run
        )

    return _written(await _send(parts, who, kind, namespace, "update", work), dry_run)


async def _delete(parts: Dashboard, who: Caller, kind: Kind, namespace: str, name: str, dry_run: bool) -> Deleted:
    body = await _send(
        parts, who, kind, namespace, "delete", lambda c: c.delete(kind, namespace, name, dry_run=dry_run)
    )
    # Gone at once, the answer is a Status; held by a finalizer, it is the object, being deleted.
    meta = body.get("metadata") or {}
    finalizing = body.get("kind") != "Status" and bool(meta.get("deletionTimestamp") and meta.get("finalizers"))
    return Deleted(kind=kind.kind, namespace=namespace, name=name, dry_run=dry_run, finalizing=finalizing)


async def _suspend(parts: Dashboard, who: Caller, namespace: str, name: str, suspended: bool, dry_run: bool) -> Written:
    what = "suspend" if suspended else "resume"

    def work(changes: CallerChanges) -> Awaitable[Body]:
        return changes.set_spec_field(SITE, namespace, name, "suspended", suspended, dry_run=dry_run)

    return _written(await _send(parts, who, SITE, namespace, what, work), dry_run)


# -- Sites ------------------------------------------------------------------------------------------


@router.post("/sites/{namespace}", status_code=201, response_model=Written, dependencies=[Depends(only("dryRun"))])
async def create_site(
    who: CallerDep,
    parts: DashboardDep,
    namespace: NamespacePath,
    body: SiteCreate,
    request: Request,
    response: Response,
    dry_run: DryRun = False,
) -> Written:
    """Create a Site as the caller (server-side apply, field manager siteplane-dashboard): 201, or
    200 on a dry run; 409 when one of that name exists."""
    return await _create(parts, who, SITE, "sites", namespace, body.name, request, response, dry_run)


@router.put("/sites/{namespace}/{name}", response_model=Written, dependencies=[Depends(only("dryRun", "force"))])
async def update_site(
    who: CallerDep,
    parts: DashboardDep,
    namespace: NamespacePath,
    name: NamePath,
    body: SiteUpdate,
    request: Request,
    dry_run: DryRun = False,
    force: Force = False,
) -> Written:
    """Apply this spec to the Site as the caller (server-side apply, field manager
    siteplane-dashboard): 404 when it does not exist, 409 on a conflict."""
    return await _update(parts, who, SITE, namespace, name, body.resource_version, request, force, dry_run)


@router.delete("/sites/{namespace}/{name}", response_model=Deleted, dependencies=[Depends(only("dryRun"))])
async def delete_site(
    who: CallerDep, parts: DashboardDep, namespace: NamespacePath, name: NamePath, dry_run: DryRun = False
) -> Deleted:
    """Delete the Site as the caller; the operator's finalizer holds it until what it published is withdrawn."""
    return await _delete(parts, who, SITE, namespace, name, dry_run)


@router.post("/sites/{namespace}/{name}/suspend", response_model=Written, dependencies=[Depends(only("dryRun"))])
async def suspend_site(
    who: CallerDep, parts: DashboardDep, namespace: NamespacePath, name: NamePath, dry_run: DryRun = False
) -> Written:
    """Suspend the Site (spec.suspended: true, as the caller): it keeps its data and publishes nothing."""
    return await _suspend(parts, who, namespace, name, True, dry_run)


@router.post("/sites/{namespace}/{name}/resume", response_model=Written, dependencies=[Depends(only("dryRun"))])
async def resume_site(
    who: CallerDep, parts: DashboardDep, namespace: NamespacePath, name: NamePath, dry_run: DryRun = False
) -> Written:
    """Resume the Site (spec.suspended: false, as the caller): it publishes its records again."""
    return await _suspend(parts, who, namespace, name, False, dry_run)


# -- DNSZones ---------------------------------------------------------------------------------------


@router.post("/zones/{namespace}", status_code=201, response_model=Written, dependencies=[Depends(only("dryRun"))])
async def create_zone(
    who: CallerDep,
    parts: DashboardDep,
    namespace: NamespacePath,
    body: ZoneCreate,
    request: Request,
    response: Response,
    dry_run: DryRun = False,
) -> Written:
    """Create a DNSZone as the caller (server-side apply, field manager siteplane-dashboard): 201, or
    200 on a dry run; 409 when one of that name exists."""
    return await _create(parts, who, DNSZONE, "zones", namespace, body.name, request, response, dry_run)


@router.put("/zones/{namespace}/{name}", response_model=Written, dependencies=[Depends(only("dryRun", "force"))])
async def update_zone(
    who: CallerDep,
    parts: DashboardDep,
    namespace: NamespacePath,
    name: NamePath,
    body: ZoneUpdate,
    request: Request,
    dry_run: DryRun = False,
    force: Force = False,
) -> Written:
    """Apply this spec to the DNSZone as the caller (server-side apply, field manager
    siteplane-dashboard): 404 when it does not exist, 409 on a conflict."""
    return await _update(parts, who, DNSZONE, namespace, name, body.resource_version, request, force, dry_run)


@router.delete("/zones/{namespace}/{name}", response_model=Deleted, dependencies=[Depends(only("dryRun"))])
async def delete_zone(
    who: CallerDep, parts: DashboardDep, namespace: NamespacePath, name: NamePath, dry_run: DryRun = False
) -> Deleted:
    """Delete the DNSZone as the caller; the operator's finalizer holds it until what it published is withdrawn."""
    return await _delete(parts, who, DNSZONE, namespace, name, dry_run)


# -- DNSRecords -------------------------------------------------------------------------------------


@router.post("/records/{namespace}", status_code=201, response_model=Written, dependencies=[Depends(only("dryRun"))])
async def create_record(
    who: CallerDep,
    parts: DashboardDep,
    namespace: NamespacePath,
    body: RecordCreate,
    request: Request,
    response: Response,
    dry_run: DryRun = False,
) -> Written:
    """Create a DNSRecord as the caller (server-side apply, field manager siteplane-dashboard): 201, or
    200 on a dry run; 409 when one of that name exists."""
    return await _create(parts, who, DNSRECORD, "records", namespace, body.name, request, response, dry_run)


@router.put("/records/{namespace}/{name}", response_model=Written, dependencies=[Depends(only("dryRun", "force"))])
async def update_record(
    who: CallerDep,
    parts: DashboardDep,
    namespace: NamespacePath,
    name: NamePath,
    body: RecordUpdate,
    request: Request,
    dry_run: DryRun = False,
    force: Force = False,
) -> Written:
    """Apply this spec to the DNSRecord as the caller (server-side apply, field manager
    siteplane-dashboard): 404 when it does not exist, 409 on a conflict."""
    return await _update(parts, who, DNSRECORD, namespace, name, body.resource_version, request, force, dry_run)


@router.delete("/records/{namespace}/{name}", response_model=Deleted, dependencies=[Depends(only("dryRun"))])
async def delete_record(
    who: CallerDep, parts: DashboardDep, namespace: NamespacePath, name: NamePath, dry_run: DryRun = False
) -> Deleted:
    """Delete the DNSRecord as the caller; the operator's finalizer holds it until what it published is withdrawn."""
    return await _delete(parts, who, DNSRECORD, namespace, name, dry_run)
