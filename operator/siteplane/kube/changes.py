"""Changing siteplane objects as the person asking: create and update by server-side apply, one
field by a merge patch, delete; each optionally as a dry run.

``CallerChanges`` holds no power of its own: it is given a client that authenticates with the
caller's own token (``KubeClient.speaking_as(bearer(token))``), so RBAC, the CRD schema with its
CEL rules and the admission webhook decide every request exactly as they decide the caller's
kubectl. What the API server refuses comes back as its ``ApiError`` (status and Status body)
untouched; nothing here second-guesses it.

Field manager, and why no force unless asked
--------------------------------------------
Specs are written by server-side apply under the field manager ``siteplane-dashboard``. The
dashboard then owns the fields it sets: an update that leaves out a field it set before removes
it, and fields another manager set (a person's ``kubectl apply``, a script) stay that manager's.

``force`` is off unless the caller asks for it. A conflict means another manager declared this
field with another value. A controller forces, because nobody would read its conflicts; here a
person reads them: the API server's 409 names the field and who holds it (``conflict with
"kubectl-client-side-apply" ...: .spec.plan``), and taking the field over is then that person's
explicit choice (``force=True``, what ``kubectl apply --server-side --force-conflicts`` does).
Forcing silently would let the dashboard and the other manager overwrite each other, neither
knowing. A create never forces: there is nothing of the caller's to take over from.

Apply creates what is missing and updates what exists, so create and update add what it lacks:

- an update first reads the object (as the caller) and applies with its ``uid``: an object deleted
  meanwhile is not made again, the API server answers 409 (a uid mismatch), and a missing one is
  a 404 before anything is sent;
- a create first reads the object and refuses one that exists (409 AlreadyExists, worded as the
  API server words it). Between the read and the apply, another manager's object of the same
  name could appear; the apply, without force, then conflicts on every field it would change.

Suspend and resume are not applies. An apply by ``siteplane-dashboard`` holding only
``spec.suspended`` would tell the API server the dashboard no longer wants the other fields it
applied, and they would be removed. They are a merge patch of that one field under the same field
manager (an update operation: it takes the field whoever set it before, which is what suspending a
site means).

Dry runs pass ``dryRun=All``: the API server runs authorization, the schema, CEL and admission
(the webhook is told it is a dry run) and stores nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from siteplane.api.common import API_GROUP
from siteplane.api.kinds import Kind
from siteplane.domain.objects import ObjectRef
from siteplane.kube.client import APPLY_PATCH, MERGE_PATCH, ApiError, KubeClient
from siteplane.kube.objects import Body, object_path

FIELD_MANAGER = "siteplane-dashboard"


class CallerChanges:
    """Writes to siteplane's custom objects through ``client``, which speaks as the caller."""

    def __init__(self, client: KubeClient) -> None:
        self.client = client

    async def get(self, kind: Kind, namespace: str, name: str) -> Body | None:
        """The object as the caller may read it; None when it does not exist."""
        try:
            body: Body = await self.client.request("GET", _path(kind, namespace, name))
        except ApiError as error:
            if error.status == 404:
                return None
            raise
        return body

    async def create(
        self, kind: Kind, namespace: str, name: str, spec: Mapping[str, Any], *, dry_run: bool = False
    ) -> Body:
        """A new object of ``kind``; 409 AlreadyExists when one of that name exists (being deleted too).

        A caller who may not read the kind cannot be told first; the apply then decides alone.
        """
        try:
            found = await self.get(kind, namespace, name)
        except ApiError as error:
            if error.status != 403:
                raise
            found = None
        if found is not None:
            message = f'{kind.crd_name} "{name}" already exists'
            raise ApiError(409, "AlreadyExists", message, _status(409, "AlreadyExists", message, kind, name))
        return await self._apply(kind, namespace, name, spec, {}, force=False, dry_run=dry_run)

    async def update(
        self,
        kind: Kind,
        namespace: str,
        name: str,
        spec: Mapping[str, Any],
        *,
        resource_version: str | None = None,
        force: bool = False,
        dry_run: bool = False,
    ) -> Body:
        """Apply ``spec`` to the existing object: 404 when there is none; 409 when it changed since
        ``resource_version`` (if given), was deleted meanwhile, or another manager holds a field
        with another value (unless ``force``)."""
        found = await self.get(kind, namespace, name)
        if found is None:
            message = f'{kind.crd_name} "{name}" not found'
            raise ApiError(404, "NotFound", message, _status(404, "NotFound", message, kind, name))
        preconditions: dict[str, str] = {"uid": str((found.get("metadata") or {}).get("uid") or "")}
        if resource_version:
            preconditions["resourceVersion"] = resource_version
        return await self._apply(kind, namespace, name, spec, preconditions, force=force, dry_run=dry_run)

    async def set_spec_field(
        self, kind: Kind, namespace: str, name: str, field: str, value: Any, *, dry_run: bool = False
    ) -> Body:
        """Set one top-level spec field by a merge patch (see the module's note on suspend/resume)."""
        body: Body = await self.client.request(
            "PATCH",
            _path(kind, namespace, name),
            body={"spec": {field: value}},
            params=_params(dry_run),
            content_type=MERGE_PATCH,
        )
        return body

    async def delete(self, kind: Kind, namespace: str, name: str, *, dry_run: bool = False) -> Body:
        """Delete the object: the answer is the object still held by its finalizers (with its
        deletionTimestamp), or a Status when it went at once."""
        params = {"dryRun": "All"} if dry_run else None
        body: Body = await self.client.request("DELETE", _path(kind, namespace, name), params=params)
        return body

    async def _apply(
        self,
        kind: Kind,
        namespace: str,
        name: str,
        spec: Mapping[str, Any],
        preconditions: Mapping[str, str],
        *,
        force: bool,
        dry_run: bool,
    ) -> Body:
        configuration = {
            "apiVersion": kind.api_version,
            "kind": kind.kind,
            "metadata": {"name": name, "namespace": namespace, **preconditions},
            "spec": dict(spec),
        }
        params = _params(dry_run)
        if force:
            params["force"] = "true"
        body: Body = await self.client.request(
            "PATCH", _path(kind, namespace, name), body=configuration, params=params, content_type=APPLY_PATCH
        )
        return body


def _path(kind: Kind, namespace: str, name: str) -> str:
    return object_path(ObjectRef(kind.kind, namespace, name))


def _params(dry_run: bool) -> dict[str, str]:
    params = {"fieldManager": FIELD_MANAGER}
    if dry_run:
        params["dryRun"] = "All"
    return params


def _status(code: int, reason: str, message: str, kind: Kind, name: str) -> Body:
    """A Status as the API server would have answered, for the refusals decided here."""
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "message": message,
        "reason": reason,
        "details": {"name": name, "group": API_GROUP, "kind": kind.plural},
        "code": code,
    }
