"""AccessGrant: check who wrote it, then make (or take away) the RoleBinding and Role that carry it.

Order of trust, on every reconcile:
1. the spec is valid;
2. the admission webhook admitted exactly this generation of the spec, and recorded its author
   (a grant that reached the cluster around the webhook is not applied);
3. the author still holds everything the grant hands out (SubjectAccessReview, now);
4. only then are the RBAC objects written, and only objects this grant owns are ever changed.
When 2 or 3 fail, objects from an earlier generation are removed: the grant never stays half-true.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import ValidationError

from siteplane.api.accessgrant import AccessGrantSpec
from siteplane.api.conditions import ConditionChange
from siteplane.rbac.accessgrants import GrantObjects, generated_name, plan_grant_objects
from siteplane.reconcile.authorization import (
    Author,
    AuthorizationUnavailable,
    Authorizer,
    describe_escalation,
    missing_permissions,
    spec_digest,
)
from siteplane.reconcile.common import database_unavailable, invalid_spec, render
from siteplane.reconcile.inputs import ObjectInput, Outcome, backoff
from siteplane.reconcile.status import READY, StatusReport
from siteplane.store.unit_of_work import Store

log = logging.getLogger(__name__)


class RbacUnavailable(Exception):
    """Reading or writing an RBAC object failed in a way a retry may fix."""


class RbacObjects(Protocol):
    """Roles and RoleBindings through the API server (the handlers provide it)."""

    def read(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None: ...
    def create(self, body: Mapping[str, Any]) -> None: ...
    def replace(self, body: Mapping[str, Any]) -> None: ...
    def delete(self, kind: str, namespace: str, name: str) -> None: ...


class NotOurs(Exception):
    """An object with the generated name exists and belongs to someone else: never touched."""


def owned_by(body: Mapping[str, Any], grant_uid: str) -> bool:
    refs = (body.get("metadata") or {}).get("ownerReferences") or []
    return any(ref.get("uid") == grant_uid and ref.get("kind") == "AccessGrant" for ref in refs)


@dataclass(frozen=True)
class Admission:
    author: Author


class AccessGrantService:
    def __init__(self, store: Store, authorizer: Authorizer, objects: RbacObjects) -> None:
        self.store = store
        self.authorizer = authorizer
        self.objects = objects

    # -- admission (called by the validating webhook) ----------------------------------------

    def admit(
        self, namespace: str, uid: str, generation: int, spec: Mapping[str, Any], author: Author, dry_run: bool
    ) -> str | None:
        """The reason to refuse this grant, or None; an admitted (not dry-run) spec is recorded."""
        try:
            model = AccessGrantSpec.model_validate(dict(spec))
        except ValidationError:
            return None  # the schema answers with the field; the operator reports it as a condition
        missing = missing_permissions(self.authorizer, author, model, namespace)
        if missing:
            return describe_escalation(author, missing, namespace)
        if not dry_run:
            with self.store.unit_of_work() as uow:
                uow.grant_admissions.record(uid, generation, spec_digest(spec), author.username, list(author.groups))
                uow.commit()
        return None

    # -- reconcile ---------------------------------------------------------------------------

    async def reconcile(self, obj: ObjectInput, retry: int) -> Outcome:
        return await asyncio.to_thread(self._reconcile, obj, retry)

    def _reconcile(self, obj: ObjectInput, retry: int) -> Outcome:
        try:
            spec = AccessGrantSpec.model_validate(dict(obj.spec))
        except ValidationError as error:
            return invalid_spec(obj, error)
        try:
            admission = self._admission(obj)
        except Exception as error:  # the database: no URL in status
            return database_unavailable(obj, error)
        try:
            if admission is None:
                self._withdraw(obj)
                return self._refused(
                    obj,
                    "NotAdmitted",
                    f"generation {obj.generation} of this grant was not admitted by the siteplane admission "
                    "webhook (bypassed, or down when it was written), so nothing is granted; apply it again "
                    "while the operator runs",
                )
            missing = missing_permissions(self.authorizer, admission.author, spec, obj.ref.namespace)
            if missing:
                self._withdraw(obj)
                return self._refused(
                    obj, "Escalation", describe_escalation(admission.author, missing, obj.ref.namespace)
                )
            planned = plan_grant_objects(obj.ref.name, obj.ref.uid, obj.ref.namespace, spec)
            self._apply(planned, obj.ref.uid)
        except NotOurs as error:
            return self._refused(obj, "NameConflict", str(error))
        except (AuthorizationUnavailable, RbacUnavailable) as error:
            delay = backoff(retry)
            report = StatusReport([ConditionChange(READY, "False", "ApiUnavailable", str(error))])
            return Outcome(render(obj, report), retry_after=delay, retry_reason=str(error))
        fields = {
            "roleBinding": planned.role_binding["metadata"]["name"],
            "role": f"{planned.role_ref['kind']}/{planned.role_ref['name']}",
            "grantedBy": admission.author.username,
        }
        subjects = ", ".join(f"{s.kind} {s.name}" for s in spec.subjects)
        names = f" named {', '.join(spec.resource_names)}" if spec.resource_names else ""
        message = (
            f"{spec.access} on {', '.join(spec.resources)}{names} in {obj.ref.namespace} for {subjects}, "
            f"through {planned.describe()}"
        )
        return Outcome(render(obj, StatusReport([ConditionChange(READY, "True", "Granted", message)], fields)))

    def _admission(self, obj: ObjectInput) -> Admission | None:
        with self.store.unit_of_work() as uow:
            row = uow.grant_admissions.find(obj.ref.uid, obj.generation)
            if row is None or row.spec_digest != spec_digest(obj.spec):
                return None
            return Admission(Author(row.username, tuple(row.groups or ())))

    def _refused(self, obj: ObjectInput, reason: str, message: str) -> Outcome:
        fields = {"roleBinding": None, "role": None, "grantedBy": None}
        return Outcome(render(obj, StatusReport([ConditionChange(READY, "False", reason, message)], fields)))

    # -- the RBAC objects --------------------------------------------------------------------

    def _apply(self, planned: GrantObjects, grant_uid: str) -> None:
        binding = planned.role_binding
        namespace, name = binding["metadata"]["namespace"], binding["metadata"]["name"]
        # The Role first, so the binding never points at a Role that is not there yet.
        if planned.role is not None:
            self._ensure(planned.role, grant_uid, ("rules",), self.objects.read("Role", namespace, name))
        current = self.objects.read("RoleBinding", namespace, name)
        if current is not None and owned_by(current, grant_uid) and current.get("roleRef") != binding["roleRef"]:
            # roleRef is immutable: take the old binding away before the new one exists, so the
            # change never grants the old and the new role at once.
            self.objects.delete("RoleBinding", namespace, name)
            current = None
        self._ensure(binding, grant_uid, ("subjects",), current)
        if planned.role is None:
            self._remove_owned("Role", namespace, name, grant_uid)

    def _ensure(
        self, desired: dict[str, Any], grant_uid: str, fields: tuple[str, ...], current: dict[str, Any] | None
    ) -> None:
        """Make ``desired`` exist as given (``fields``, labels, owner), ``current`` being what is there now."""
        meta = desired["metadata"]
        if current is None:
            self.objects.create(desired)
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
            body = {**desired, "metadata": {**meta, "resourceVersion": current_meta.get("resourceVersion")}}
            self.objects.replace(body)

    def _remove_owned(self, kind: str, namespace: str, name: str, grant_uid: str) -> None:
        current = self.objects.read(kind, namespace, name)
        if current is not None and owned_by(current, grant_uid):
            self.objects.delete(kind, namespace, name)

    def _withdraw(self, obj: ObjectInput) -> None:
        name = generated_name(obj.ref.name)
        self._remove_owned("RoleBinding", obj.ref.namespace, name, obj.ref.uid)
        self._remove_owned("Role", obj.ref.namespace, name, obj.ref.uid)

    def forget(self, uid: str) -> None:
        """A deleted grant: its admission records go (its RBAC objects go with it, by ownership)."""
        with self.store.unit_of_work() as uow:
            uow.grant_admissions.forget(uid)
            uow.commit()
