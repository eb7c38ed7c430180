"""AccessGrant: check who wrote it, then make (or take away) the RoleBinding and Role that carry it.

Order of trust, on every reconcile:
1. the spec is valid;
2. the admission webhook admitted exactly this generation of the spec, and recorded its author
   (a grant that reached the cluster around the webhook is not applied);
3. the author still holds everything the grant hands out (SubjectAccessReview, now);
4. only then are the RBAC objects written, and only objects this grant owns are ever changed.
When 2 or 3 fail, objects from an earlier generation are removed: the grant never stays half-true.
A grant's status lives only on the object: the database holds who admitted it, nothing more.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from siteplane.api.accessgrant import AccessGrantSpec
from siteplane.api.conditions import ConditionChange
from siteplane.domain.access import Author
from siteplane.domain.objects import ObjectRef
from siteplane.errors import InvalidSpec, SiteplaneError
from siteplane.rbac.accessgrants import GrantObjects, generated_name, plan_grant_objects
from siteplane.reconcile.authorization import Authorizer, describe_escalation, missing_permissions, spec_digest
from siteplane.reconcile.observed import Observed
from siteplane.reconcile.outcome import Outcome, parse
from siteplane.reconcile.status import ESCALATION, NOT_ADMITTED, READY, StatusReport
from siteplane.store.unit_of_work import Store, UnitOfWork


class RbacObjects(Protocol):
    """Roles and RoleBindings through the API server (kube/rbac_objects.py)."""

    async def read(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None: ...
    async def create(self, body: Mapping[str, Any]) -> None: ...
    async def replace(self, body: Mapping[str, Any]) -> None: ...
    async def delete(self, kind: str, namespace: str, name: str) -> None: ...


class NotOurs(SiteplaneError):
    """An object with the generated name exists and belongs to someone else: never touched."""

    reason = "NameConflict"
    default_retryable = False


def owned_by(body: Mapping[str, Any], grant_uid: str) -> bool:
    refs = (body.get("metadata") or {}).get("ownerReferences") or []
    return any(ref.get("uid") == grant_uid and ref.get("kind") == "AccessGrant" for ref in refs)


def _admitted_author(uow: UnitOfWork, obj: Observed) -> Author | None:
    row = uow.grant_admissions.find(obj.ref.uid, obj.generation)
    if row is None or row.spec_digest != spec_digest(obj.spec):
        return None
    return Author(row.username, tuple(row.groups or ()))


def _refused(reason: str, message: str) -> StatusReport:
    fields = {"roleBinding": None, "role": None, "grantedBy": None}
    return StatusReport([ConditionChange(READY, "False", reason, message)], fields)


@dataclass
class AccessGrants:
    store: Store
    authorizer: Authorizer
    objects: RbacObjects
    kind: str = "AccessGrant"
    finalizer: bool = False  # the garbage collector takes its RBAC objects away with it

    # -- admission (called by the validating webhook) ----------------------------------------

    async def admit(
        self, namespace: str, uid: str, generation: int, spec: Mapping[str, Any], author: Author, dry_run: bool
    ) -> str | None:
        """The reason to refuse this grant, or None; an admitted (not dry-run) spec is recorded."""
        try:
            model = AccessGrantSpec.model_validate(dict(spec))
        except ValueError:
            return None  # the schema answers with the field; the operator reports it as a condition
        missing = await missing_permissions(self.authorizer, author, model, namespace)
        if missing:
            return describe_escalation(author, missing, namespace)
        if not dry_run:
            digest = spec_digest(spec)
            await asyncio.to_thread(
                self.store.transaction,
                lambda uow: uow.grant_admissions.record(uid, generation, digest, author.username, list(author.groups)),
            )
        return None

    # -- reconcile ---------------------------------------------------------------------------

    async def reconcile(self, obj: Observed) -> Outcome:
        try:
            spec = parse(AccessGrantSpec, obj)
        except InvalidSpec:
            await self._withdraw(obj)
            raise
        author = await asyncio.to_thread(self.store.read, lambda uow: _admitted_author(uow, obj))
        if author is None:
            await self._withdraw(obj)
            return Outcome(
                report=_refused(
                    NOT_ADMITTED,
                    f"generation {obj.generation} of this grant was not admitted by the siteplane admission "
                    "webhook (bypassed, or down when it was written), so nothing is granted; apply it again "
                    "while the operator runs",
                )
            )
        missing = await missing_permissions(self.authorizer, author, spec, obj.ref.namespace)
        if missing:
            await self._withdraw(obj)
            return Outcome(report=_refused(ESCALATION, describe_escalation(author, missing, obj.ref.namespace)))
        planned = plan_grant_objects(obj.ref.name, obj.ref.uid, obj.ref.namespace, spec)
        try:
            await self._apply(planned, obj.ref.uid)
        except NotOurs as error:
            return Outcome(report=_refused(error.reason, str(error)))
        fields = {
            "roleBinding": planned.role_binding["metadata"]["name"],
            "role": f"{planned.role_ref['kind']}/{planned.role_ref['name']}",
            "grantedBy": author.username,
        }
        subjects = ", ".join(f"{s.kind} {s.name}" for s in spec.subjects)
        names = f" named {', '.join(spec.resource_names)}" if spec.resource_names else ""
        message = (
            f"{spec.access} on {', '.join(spec.resources)}{names} in {obj.ref.namespace} for {subjects}, "
            f"through {planned.describe()}"
        )
        return Outcome(report=StatusReport([ConditionChange(READY, "True", "Granted", message)], fields))

    async def finalize(self, obj: Observed) -> Outcome:
        return Outcome()

    async def forget(self, ref: ObjectRef) -> None:
        """A deleted grant: its admission records go (its RBAC objects go with it, by ownership)."""
        await asyncio.to_thread(self.store.transaction, lambda uow: uow.grant_admissions.forget(ref.uid))

    # -- the RBAC objects --------------------------------------------------------------------

    async def _apply(self, planned: GrantObjects, grant_uid: str) -> None:
        binding = planned.role_binding
        namespace, name = binding["metadata"]["namespace"], binding["metadata"]["name"]
        # The Role first, so the binding never points at a Role that is not there yet.
        if planned.role is not None:
            await self._ensure(planned.role, grant_uid, ("rules",), await self.objects.read("Role", namespace, name))
        current = await self.objects.read("RoleBinding", namespace, name)
        if current is not None and owned_by(current, grant_uid) and current.get("roleRef") != binding["roleRef"]:
            # roleRef is immutable: take the old binding away before the new one exists, so the
            # change never grants the old and the new role at once.
            await self.objects.delete("RoleBinding", namespace, name)
            current = None
        await self._ensure(binding, grant_uid, ("subjects",), current)
        if planned.role is None:
            await self._remove_owned("Role", namespace, name, grant_uid)

    async def _ensure(
        self, desired: dict[str, Any], grant_uid: str, fields: tuple[str, ...], current: dict[str, Any] | None
    ) -> None:
        """Make ``desired`` exist as given (``fields``, labels, owner), ``current`` being what is there now."""
        meta = desired["metadata"]
        if current is None:
            await self.objects.create(desired)
            return
        if not owned_by(current, grant_uid):
            raise NotOurs(
                f"{desired['kind']} {meta['namespace']}/{meta['name']} already exists and is not this grant's; "
                "rename the grant"
            )
        current_meta = current.get("metadata") or {}
        differs = any(current.get(f) != desired[f] for f in fields) or any(
            current_meta.get(k) != meta[k] for k in ("labels", "ownerReferences")
        )
        if differs:
            await self.objects.replace(
                {**desired, "metadata": {**meta, "resourceVersion": current_meta.get("resourceVersion")}}
            )

    async def _remove_owned(self, kind: str, namespace: str, name: str, grant_uid: str) -> None:
        current = await self.objects.read(kind, namespace, name)
        if current is not None and owned_by(current, grant_uid):
            await self.objects.delete(kind, namespace, name)

    async def _withdraw(self, obj: Observed) -> None:
        name = generated_name(obj.ref.name)
        await self._remove_owned("RoleBinding", obj.ref.namespace, name, obj.ref.uid)
        await self._remove_owned("Role", obj.ref.namespace, name, obj.ref.uid)
