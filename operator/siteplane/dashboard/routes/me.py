"""GET /api/v1/me: who the caller is, and what they may do where (so a page hides the buttons it
would only see refused)."""

from __future__ import annotations

import asyncio
from collections import defaultdict

from fastapi import APIRouter, Depends

from siteplane.dashboard.context import CallerDep, DashboardDep, only
from siteplane.dashboard.models import Me, NamedVerbs, NamespaceVerbs, ResourcePermissions
from siteplane.rbac.evaluator import subject_matches
from siteplane.rbac.rules import EDIT_VERBS, RESOURCE_TYPES, WILDCARD
from siteplane.store.unit_of_work import UnitOfWork

router = APIRouter(prefix="/api/v1", tags=["me"])


def _verbs(granted: set[str]) -> list[str]:
    return list(EDIT_VERBS) if WILDCARD in granted else [v for v in EDIT_VERBS if v in granted]


@router.get("/me", response_model=Me, dependencies=[Depends(only())])
async def me(who: CallerDep, parts: DashboardDep) -> Me:
    def read(uow: UnitOfWork) -> Me:
        permissions: dict[str, ResourcePermissions] = {}
        namespaces_seen: set[str] = set()
        for resource in RESOURCE_TYPES:
            everywhere: set[str] = set()
            by_namespace: dict[str, set[str]] = defaultdict(set)
            by_name: dict[tuple[str | None, str], set[str]] = defaultdict(set)
            for grant in uow.grants.live_for(who.username, who.groups, resource):
                if not subject_matches(grant, who.username, who.groups):
                    continue
                verbs = set(grant.verbs or ())
                if grant.resource_names:
                    for name in grant.resource_names:
                        by_name[(grant.namespace, name)] |= verbs
                elif grant.namespace is None:
                    everywhere |= verbs
                else:
                    by_namespace[grant.namespace] |= verbs
            namespaces_seen |= set(by_namespace) | {ns for ns, _ in by_name if ns}
            permissions[resource] = ResourcePermissions(
                everywhere=_verbs(everywhere),
                namespaces=[NamespaceVerbs(namespace=ns, verbs=_verbs(v)) for ns, v in sorted(by_namespace.items())],
                names=[
                    NamedVerbs(namespace=ns, name=name, verbs=_verbs(v))
                    for (ns, name), v in sorted(by_name.items(), key=lambda item: (item[0][0] or "", item[0][1]))
                ],
            )
        gitops = sorted(ns for ns in namespaces_seen if uow.namespaces.gitops(ns))
        return Me(user=who.username, groups=list(who.groups), permissions=permissions, gitops_namespaces=gitops)

    return await asyncio.to_thread(parts.store.read, read)
