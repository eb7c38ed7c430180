"""Keep the grants table equal to what RBAC grants on siteplane resources.

The handlers keep an in-memory picture of every Role, ClusterRole and binding; after any change
the whole desired set of rows is recomputed from it (cheap: pure code over memory) and only the
difference is written, in one unit of work. Rows that disappear are soft-deleted, so the
dashboard can show who had access until when.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from siteplane.rbac.evaluator import can
from siteplane.rbac.mirror import GrantRow, row_key
from siteplane.store.models import Grant
from siteplane.store.unit_of_work import Store


@dataclass(frozen=True)
class MirrorResult:
    added: int = 0
    changed: int = 0
    removed: int = 0

    @property
    def wrote(self) -> bool:
        return bool(self.added or self.changed or self.removed)


class RbacMirror:
    def __init__(self, store: Store) -> None:
        self.store = store

    def sync(self, desired: Iterable[GrantRow]) -> MirrorResult:
        wanted = {row.key: row for row in desired}
        added = changed = 0
        with self.store.unit_of_work() as uow:
            stale: list[Grant] = []
            for row in uow.grants.live():
                want = wanted.pop(row_key(row), None)
                if want is None:
                    stale.append(row)
                elif tuple(row.verbs or ()) != want.verbs or row.namespace != want.namespace:
                    row.verbs, row.access, row.namespace = list(want.verbs), want.access, want.namespace
                    changed += 1
            for want in wanted.values():
                uow.grants.add(
                    Grant(
                        subject_kind=want.subject_kind,
                        subject_name=want.subject_name,
                        namespace=want.namespace,
                        resource_type=want.resource_type,
                        access=want.access,
                        verbs=list(want.verbs),
                        resource_names=list(want.resource_names),
                        source_kind=want.source_kind,
                        source_namespace=want.source_namespace,
                        source_name=want.source_name,
                    )
                )
                added += 1
            uow.grants.withdraw(stale)
            uow.commit()
        return MirrorResult(added, changed, len(stale))


class PermissionEvaluator:
    """The dashboard's question, answered from the database: may this person do this?"""

    def __init__(self, store: Store) -> None:
        self.store = store

    def can(
        self,
        user: str,
        groups: Iterable[str],
        verb: str,
        resource_type: str,
        namespace: str,
        name: str | None = None,
    ) -> bool:
        groups = list(groups)
        with self.store.unit_of_work() as uow:
            grants = uow.grants.live_for(user, groups, resource_type)
            return can(grants, user, groups, verb, resource_type, namespace, name)
