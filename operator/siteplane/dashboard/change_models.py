"""What the write endpoints take and answer. A request body's spec is the custom resource's own
spec model, so a malformed one is refused (422, naming the field) before anything is sent."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from siteplane.api.common import ObjectName
from siteplane.api.dnsrecord import DNSRecordSpec
from siteplane.api.dnszone import DNSZoneSpec
from siteplane.api.site import SiteSpec
from siteplane.dashboard.models import Model

ResourceVersion = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z._-]+$")]


class ChangeRequest(BaseModel):
    """camelCase, and nothing unknown: a misspelt field must not be dropped silently."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True, extra="forbid")


class SiteCreate(ChangeRequest):
    name: ObjectName
    """The new Site's name (metadata.name)."""
    spec: SiteSpec


class SiteUpdate(ChangeRequest):
    spec: SiteSpec
    """The whole spec as the dashboard wants it: fields the dashboard set before and leaves out
    here are removed; fields another manager set stay theirs."""
    resource_version: ResourceVersion | None = None
    """Apply only if the object is still at this resourceVersion (409 otherwise)."""


class ZoneCreate(ChangeRequest):
    name: ObjectName
    """The new DNSZone's name (metadata.name)."""
    spec: DNSZoneSpec


class ZoneUpdate(ChangeRequest):
    spec: DNSZoneSpec
    """The whole spec as the dashboard wants it (see SiteUpdate)."""
    resource_version: ResourceVersion | None = None
    """Apply only if the object is still at this resourceVersion (409 otherwise)."""


class RecordCreate(ChangeRequest):
    name: ObjectName
    """The new DNSRecord's name (metadata.name)."""
    spec: DNSRecordSpec


class RecordUpdate(ChangeRequest):
    spec: DNSRecordSpec
    """The whole spec as the dashboard wants it (see SiteUpdate)."""
    resource_version: ResourceVersion | None = None
    """Apply only if the object is still at this resourceVersion (409 otherwise)."""


class Written(Model):
    """The object as the Kubernetes API server holds it after the change (on a dry run: would hold)."""

    kind: str
    namespace: str
    name: str
    uid: str
    resource_version: str
    generation: int
    spec: dict[str, Any]
    dry_run: bool
    """True: nothing was stored; this is what the change would make."""
    deleting: bool
    """The object is being deleted (its finalizers still hold it)."""


class Deleted(Model):
    kind: str
    namespace: str
    name: str
    dry_run: bool
    """True: nothing was deleted; the API server would have accepted the deletion."""
    finalizing: bool
    """The object is still there until the operator has withdrawn what it published (its finalizer);
    false when it went at once."""
