"""Shared pieces of the custom resources: the model base, name syntax, conditions, Secret refs.

The regular expressions here are written in the common subset of RE2 (what the kube-apiserver
uses for CRD ``pattern``) and Rust's regex (what pydantic uses), so one string validates the same
way in both places. Keep them to explicit ASCII classes: ``\\s``, ``\\d`` and ``\\w`` are ASCII in
RE2 but Unicode in Rust, so they would not.

Where the apiserver and pydantic differ by nature, the types here hold pydantic to the
apiserver's rule: an integer or a boolean is a JSON number or boolean, never a string; a set or a
map list refuses repeats; and an address is refused in the spellings the apiserver's lenient
`format` checks let through (leading zeros) or pydantic's parser lets through (zone indexes). The
property test tests/cluster/test_schema_agreement.py holds the two to one rule.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from ipaddress import IPv4Address, IPv6Address
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    PlainValidator,
    StrictBool,
    WithJsonSchema,
)
from pydantic.alias_generators import to_camel
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema

API_GROUP = "siteplane.io"
API_VERSION = "v1alpha1"

# One DNS label: 1-63 characters of lowercase letters, digits and inner hyphens (RFC 1123).
LABEL = r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"
# A label that may also start with an underscore, as service labels do (_dmarc, _sip._tcp).
SERVICE_LABEL = r"(_[a-z0-9]([-a-z0-9]{0,60}[a-z0-9])?|" + LABEL + ")"

# A zone name: at least two labels, lowercase, no trailing dot, no wildcard.
ZONE_NAME_PATTERN = rf"^({LABEL}\.)+{LABEL}$"
# A site domain: like a zone name, optionally with a wildcard as the first label only.
DOMAIN_PATTERN = rf"^(\*\.)?({LABEL}\.)+{LABEL}$"
# A host name inside record data (CNAME/MX/NS/PTR/SRV targets). Always taken as absolute;
# the trailing dot is optional so that both spellings people use mean the same thing.
TARGET_PATTERN = rf"^({LABEL}\.)*{LABEL}\.?$"
# A record owner name relative to its zone: '@' for the apex, '*' or '*.x' for wildcards.
RECORD_NAME_PATTERN = rf"^(@|\*|(\*\.)?({SERVICE_LABEL}\.)*{SERVICE_LABEL})$"
# A Kubernetes object name (DNS-1123 subdomain).
OBJECT_NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
# A Kubernetes namespace name (DNS-1123 label).
NAMESPACE_PATTERN = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"

MAX_NAME_LENGTH = 253
MIN_TTL = 1
MAX_TTL = 604800  # one week: anything longer is almost always a typo, and slow to undo

# An IPv4 address: a dotted quad of decimal 0-255 without leading zeros (what Python's ipaddress
# and Go's net/netip accept). The schema needs the pattern because the apiserver's `format: ipv4`
# is lenient for compatibility: it takes 010.1.1.1 (octal to some resolvers, decimal to others)
# and IPv4 spelled inside IPv6 (::ffff:1.2.3.4).
_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
IPV4_PATTERN = rf"^({_OCTET}\.){{3}}{_OCTET}$"
# An IPv6 address is written with hex digits, colons and dots (an embedded IPv4 tail) only. A zone
# index (fe80::1%eth0) is refused: it names an interface of one host and means nothing in DNS.
# The rest of RFC 4291's text form is checked by `format: ipv6` and by Python's ipaddress alike.
IPV6_PATTERN = r"^[0-9A-Fa-f:.]+$"


def _json_integer(value: object) -> object:
    """Only a JSON number is an integer, as in the structural schema: never "300", never true.

    pydantic's lax mode would take both; its strict mode would refuse 300.0, which the apiserver
    accepts (and stores as 300). So: numbers go on to pydantic's int, which refuses fractions.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("Input should be an integer (a JSON number)")
    return value


# Goes after the bounds (Annotated[int, Field(ge=.., le=..), JSON_INTEGER]): placed before them, it
# would hide the int from pydantic, which would then check the bounds itself and emit them into
# the JSON schema under its own names (ge/le) instead of minimum/maximum.
JSON_INTEGER = BeforeValidator(_json_integer)
"""Marks an int field as a JSON number with no fraction, like `type: integer` in the schema."""
Boolean = StrictBool
"""A boolean field: true or false only, like `type: boolean` (no "yes", "true" or 1)."""

_IPV4_RE = re.compile(IPV4_PATTERN)
_IPV6_RE = re.compile(IPV6_PATTERN)


def _address(kind: type[IPv4Address] | type[IPv6Address], pattern: re.Pattern[str], rule: str) -> Callable[[Any], Any]:
    def parse(value: Any) -> IPv4Address | IPv6Address:
        if isinstance(value, kind):
            return value
        # fullmatch: the patterns are ASCII-only, so Python's re and RE2 agree on them exactly.
        if isinstance(value, str) and pattern.fullmatch(value):
            try:
                return kind(value)
            except ValueError:
                pass
        raise ValueError(f"Input should be {rule}")

    return parse


IPV4 = Annotated[
    IPv4Address,
    PlainValidator(_address(IPv4Address, _IPV4_RE, "an IPv4 address: a dotted quad of 0-255 without leading zeros")),
    WithJsonSchema({"type": "string", "format": "ipv4", "pattern": IPV4_PATTERN}),
]
IPV6 = Annotated[
    IPv6Address,
    PlainValidator(_address(IPv6Address, _IPV6_RE, "an IPv6 address (RFC 4291 text form, no zone index)")),
    WithJsonSchema({"type": "string", "format": "ipv6", "pattern": IPV6_PATTERN}),
]

ZoneName = Annotated[str, Field(pattern=ZONE_NAME_PATTERN, max_length=MAX_NAME_LENGTH)]
DomainName = Annotated[str, Field(pattern=DOMAIN_PATTERN, max_length=MAX_NAME_LENGTH)]
TargetName = Annotated[str, Field(pattern=TARGET_PATTERN, max_length=MAX_NAME_LENGTH + 1)]
RecordName = Annotated[str, Field(pattern=RECORD_NAME_PATTERN, max_length=MAX_NAME_LENGTH)]
ObjectName = Annotated[str, Field(pattern=OBJECT_NAME_PATTERN, min_length=1, max_length=MAX_NAME_LENGTH)]
NamespaceName = Annotated[str, Field(pattern=NAMESPACE_PATTERN, min_length=1, max_length=63)]
TTL = Annotated[int, Field(ge=MIN_TTL, le=MAX_TTL), JSON_INTEGER]


def cel(rule: str, message: str, field_path: str | None = None, reason: str | None = None) -> dict[str, str]:
    """One entry of ``x-kubernetes-validations``; the pydantic models enforce the same rule."""
    entry = {"rule": rule, "message": message}
    if field_path:
        entry["fieldPath"] = field_path
    if reason:
        entry["reason"] = reason
    return entry


def immutable(what: str) -> dict[str, Any]:
    """Schema extra making a required scalar immutable once created (a CEL transition rule)."""
    return {"x-kubernetes-validations": [cel("self == oldSelf", f"{what} is immutable")]}


def cel_rules(*rules: dict[str, str]) -> ConfigDict:
    """model_config for a model carrying CEL rules (pydantic merges it with the parent's config)."""
    extra: dict[str, Any] = {"x-kubernetes-validations": list(rules)}
    return ConfigDict(json_schema_extra=extra)


LIST_TYPE_ENFORCED = "x-siteplane-list-type-enforced"


@dataclass(frozen=True)
class ListType:
    """``x-kubernetes-list-type`` on a list, and in the model the uniqueness rule it brings.

    The apiserver refuses a repeated item of a ``set`` (compared as JSON values, as written) and a
    repeated key of a ``map``; the model refuses the same, before parsing, so that two spellings
    of one address (::1 and 0::1) stay as distinct to the model as they are to the apiserver.
    """

    map_keys: tuple[str, ...] = ()

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_before_validator_function(self._refuse_repeats, handler(source))

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema["x-kubernetes-list-type"] = "map" if self.map_keys else "set"
        if self.map_keys:
            json_schema["x-kubernetes-list-map-keys"] = list(self.map_keys)
        # crdgen refuses a list type without this mark (one written as json_schema_extra), which
        # the apiserver would enforce and the model not; it drops the mark from the CRD.
        json_schema[LIST_TYPE_ENFORCED] = True
        return json_schema

    def __call__(self, *_: Any) -> None:
        # Field(json_schema_extra=LIST_SET), the spelling before ListType, would silently drop the
        # list type; pydantic calls a callable json_schema_extra, so it fails loudly here instead.
        raise TypeError("LIST_SET and list_map(...) go into Annotated[list[...], Field(...), LIST_SET]")

    def _key(self, item: Any) -> str:
        if self.map_keys and isinstance(item, dict):
            item = {key: item.get(key) for key in self.map_keys}
        return json.dumps(item, sort_keys=True, default=str)

    def _refuse_repeats(self, items: Any) -> Any:
        if isinstance(items, list):
            seen: set[str] = set()
            for index, item in enumerate(items):
                key = self._key(item)
                if key in seen:
                    raise ValueError(f"Duplicate value at [{index}]: {key}")
                seen.add(key)
        return items


LIST_SET = ListType()
"""A list whose items are distinct (x-kubernetes-list-type: set)."""


def list_map(*keys: str) -> ListType:
    """A list of objects distinct by ``keys`` (x-kubernetes-list-type: map)."""
    return ListType(keys)


class CRModel(BaseModel):
    """Base of every spec/status model: camelCase on the wire, unknown fields rejected.

    ``extra='forbid'`` mirrors the structural schema, in which unknown fields do not exist.
    """

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        populate_by_name=True,
        alias_generator=to_camel,
        use_attribute_docstrings=True,
    )


class SecretKeyRef(CRModel):
    """A key inside a Secret. Credentials reach siteplane only this way, never inline."""

    namespace: NamespaceName
    """Namespace of the Secret."""
    name: ObjectName
    """Name of the Secret."""
    key: Annotated[str, Field(pattern=r"^[-._a-zA-Z0-9]+$", max_length=253)]
    """Key within the Secret's data."""


ConditionStatus = Literal["True", "False", "Unknown"]


class Condition(CRModel):
    """A standard Kubernetes condition (the shape of metav1.Condition)."""

    type: Annotated[str, Field(pattern=r"^[A-Z][A-Za-z0-9]*$", max_length=316)]
    """Type of condition, e.g. Ready."""
    status: ConditionStatus
    """True, False or Unknown."""
    reason: Annotated[str, Field(pattern=r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$", max_length=1024)]
    """Machine-readable CamelCase reason for the last transition."""
    message: Annotated[str, Field(max_length=32768)] = ""
    """Human-readable details."""
    last_transition_time: datetime
    """When the status last changed."""
    observed_generation: Annotated[int, Field(ge=0)] | None = None
    """The .metadata.generation this condition was computed for."""


class StatusBase(CRModel):
    """Status fields every siteplane kind carries."""

    observed_generation: Annotated[int, Field(ge=0)] | None = None
    """The .metadata.generation the operator last acted on."""
    conditions: Annotated[
        list[Condition],
        Field(max_length=16),
        list_map("type"),
    ] = []
    """Standard conditions; Ready is the summary."""
    kopf: Annotated[dict[str, Any], Field(json_schema_extra={"x-kubernetes-preserve-unknown-fields": True})] = {}
    """Operator bookkeeping (handler progress); not for people."""
