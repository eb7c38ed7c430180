"""The DNSRecord custom resource: one record set (name, type, TTL, typed values) in a zone."""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from pydantic import Field, model_validator

from siteplane.api.common import (
    IPV4,
    IPV6,
    JSON_INTEGER,
    LIST_SET,
    TTL,
    CRModel,
    RecordName,
    StatusBase,
    TargetName,
    ZoneName,
    cel,
    cel_rules,
    immutable,
)

RecordType = Literal["A", "AAAA", "CNAME", "MX", "SRV", "CAA", "TXT", "NS", "PTR"]
RECORD_TYPES: tuple[str, ...] = get_args(RecordType)
MAX_VALUES = 500
UINT16 = Annotated[int, Field(ge=0, le=65535), JSON_INTEGER]
# TXT and CAA text: printable ASCII only. Newlines and control characters have no business in
# DNS text and are the raw material of zone-file injection, so the schema refuses them outright;
# quotes, backslashes and semicolons are allowed and escaped by the backends.
PRINTABLE = r"^[ -~]*$"


class MX(CRModel):
    """One mail exchanger."""

    preference: UINT16
    """Lower is preferred."""
    host: TargetName
    """The mail server's host name."""


class SRV(CRModel):
    """One service location (RFC 2782)."""

    priority: UINT16
    """Lower is tried first."""
    weight: UINT16
    """Relative weight among targets of equal priority."""
    port: UINT16
    """The service's port."""
    target: TargetName
    """The host offering the service."""


class CAA(CRModel):
    """One certification authority authorization (RFC 8659)."""

    flags: Annotated[int, Field(ge=0, le=255), JSON_INTEGER] | None = None
    """128 marks the property critical; 0 when unset."""
    tag: Annotated[str, Field(pattern=r"^[a-z0-9]{1,15}$")]
    """Property tag: issue, issuewild, iodef, ..."""
    value: Annotated[str, Field(max_length=255, pattern=PRINTABLE)]
    """Property value, e.g. letsencrypt.org."""


def _values() -> Any:
    """Field settings of a record-data list; scalar lists are also sets (duplicates mean nothing in DNS)."""
    return Field(min_length=1, max_length=MAX_VALUES)


# The data field that must be set for each record type, and only for it.
TYPE_FIELDS: dict[str, str] = {t: t.lower() for t in RECORD_TYPES}

TYPE_RULES = [
    cel(
        f"(self.type == '{t}') == has(self.{f})", f"{f} must be set when type is {t}, and only then", field_path=f".{f}"
    )
    for t, f in TYPE_FIELDS.items()
]
APEX_CNAME_RULE = cel(
    "!(self.type == 'CNAME' && self.name == '@')",
    "a CNAME cannot be at the zone apex (name '@'): the apex holds the zone's SOA and NS",
    field_path=".name",
)
APEX_NS_RULE = cel(
    "!(self.type == 'NS' && self.name == '@')",
    "NS records at the zone apex come from the DNSZone's nameServers",
    field_path=".name",
)
CNAME_ALONE_RULE = cel(
    "!has(self.cname) || [has(self.a), has(self.aaaa), has(self.mx), has(self.srv), has(self.caa),"
    " has(self.txt), has(self.ns), has(self.ptr)].all(x, !x)",
    "a CNAME cannot be mixed with other data at the same name",
    field_path=".cname",
)


class DNSRecordSpec(CRModel):
    """Desired state of one record set."""

    model_config = cel_rules(APEX_CNAME_RULE, APEX_NS_RULE, CNAME_ALONE_RULE, *TYPE_RULES)

    zone: Annotated[ZoneName, Field(json_schema_extra=immutable("zone"))]
    """The DNS name of the zone (a DNSZone's zoneName) this record set belongs to. Cannot change."""
    name: RecordName
    """Owner name relative to the zone: '@' for the apex, 'www', '_dmarc', '*.dev'."""
    type: RecordType
    """Record type; exactly the matching data field below must be set."""
    ttl: TTL | None = None
    """TTL in seconds; the zone's default TTL when unset."""
    a: Annotated[list[IPV4], _values(), LIST_SET] | None = None
    """IPv4 addresses (type A)."""
    aaaa: Annotated[list[IPV6], _values(), LIST_SET] | None = None
    """IPv6 addresses (type AAAA)."""
    cname: TargetName | None = None
    """Canonical name (type CNAME): a single host name."""
    mx: Annotated[list[MX], _values()] | None = None
    """Mail exchangers (type MX)."""
    srv: Annotated[list[SRV], _values()] | None = None
    """Service locations (type SRV)."""
    caa: Annotated[list[CAA], _values()] | None = None
    """CA authorizations (type CAA)."""
    txt: Annotated[list[Annotated[str, Field(max_length=2048, pattern=PRINTABLE)]], _values(), LIST_SET] | None = None
    """Texts (type TXT), each up to 2048 printable ASCII characters; split into 255-byte strings on the wire."""
    ns: Annotated[list[TargetName], _values(), LIST_SET] | None = None
    """Name servers of a delegated child zone (type NS)."""
    ptr: Annotated[list[TargetName], _values(), LIST_SET] | None = None
    """Pointer targets (type PTR)."""

    @model_validator(mode="after")
    def _data_matches_type(self) -> DNSRecordSpec:
        for rule in (APEX_CNAME_RULE, APEX_NS_RULE):
            rtype = "CNAME" if rule is APEX_CNAME_RULE else "NS"
            if self.type == rtype and self.name == "@":
                raise ValueError(rule["message"])
        set_fields = [f for f in TYPE_FIELDS.values() if getattr(self, f) is not None]
        if self.cname is not None and len(set_fields) > 1:
            raise ValueError(CNAME_ALONE_RULE["message"])
        for rtype, field in TYPE_FIELDS.items():
            if (self.type == rtype) != (getattr(self, field) is not None):
                raise ValueError(f"{field} must be set when type is {rtype}, and only then")
        return self

    def values(self) -> list[Any]:
        """The typed data of this record set (a one-item list for CNAME)."""
        data = getattr(self, TYPE_FIELDS[self.type])
        return [data] if self.type == "CNAME" else list(data)


class DNSRecordStatus(StatusBase):
    """Observed state of a DNSRecord."""

    fqdn: str | None = None
    """The fully qualified owner name of the record set."""
