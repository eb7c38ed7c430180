"""The AccessGrant custom resource: view or edit on sites, zones or records for users and groups."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from siteplane.api.common import LIST_SET, CRModel, NamespaceName, ObjectName, StatusBase, cel, cel_rules

SUBJECT_NAMESPACE_RULE = cel(
    "self.kind == 'ServiceAccount' ? has(self.namespace) : !has(self.namespace)",
    "namespace is required for a ServiceAccount subject and not allowed for a User or Group",
    field_path=".namespace",
)

ResourceType = Literal["sites", "dnszones", "dnsrecords"]
Access = Literal["view", "edit"]


class Subject(CRModel):
    """Who receives the access."""

    model_config = cel_rules(SUBJECT_NAMESPACE_RULE)

    kind: Literal["User", "Group", "ServiceAccount"]
    """User, Group or ServiceAccount."""
    name: Annotated[str, Field(min_length=1, max_length=253)]
    """The user, group or service account name, as the cluster's authentication reports it."""
    namespace: NamespaceName | None = None
    """Namespace of a ServiceAccount subject."""

    @model_validator(mode="after")
    def _namespace_only_for_service_accounts(self) -> Subject:
        if (self.kind == "ServiceAccount") != (self.namespace is not None):
            raise ValueError(SUBJECT_NAMESPACE_RULE["message"])
        return self


class AccessGrantSpec(CRModel):
    """Desired access, granted in this grant's namespace."""

    subjects: Annotated[list[Subject], Field(min_length=1, max_length=64)]
    """Users, groups and service accounts receiving the access."""
    resources: Annotated[list[ResourceType], Field(min_length=1, max_length=3), LIST_SET]
    """Resource types covered: sites, dnszones, dnsrecords."""
    access: Access
    """view (get, list, watch) or edit (also create, update, patch, delete)."""
    resource_names: Annotated[list[ObjectName], Field(min_length=1, max_length=100), LIST_SET] | None = None
    """Limit the grant to these named objects; every object in the namespace when unset."""


class AccessGrantStatus(StatusBase):
    """Observed state of an AccessGrant."""

    role_binding: str | None = None
    """The RoleBinding that carries the grant."""
    role: str | None = None
    """The Role or ClusterRole it binds, as Kind/name."""
    granted_by: str | None = None
    """The user whose permissions the grant was checked against (its author, per the admission webhook)."""
