"""Query and path parameters the list endpoints share, with their limits: anything longer, or
outside the characters the field can hold, is a 400 before any query runs.

Each text filter takes only the characters its field can contain (an object name, a DNS name, a
customer as the Site schema allows it), so quotes, semicolons, backslashes, control characters and
the LIKE wildcard ``%`` are refused with a clear 400; the one wildcard such a field can hold, ``_``,
is matched literally (listings.py escapes it).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal

from fastapi import Query
from pydantic import AfterValidator

from siteplane.api.common import NAMESPACE_PATTERN, OBJECT_NAME_PATTERN
from siteplane.api.dnsrecord import RecordType
from siteplane.store.listings import Match, TextFilter
from siteplane.store.models import as_utc

# A piece of a Kubernetes object name (for prefix, suffix and contains matches as well as exact).
NAME_CHARS = r"^[a-z0-9.-]+$"
# A piece of a DNS name: labels, dots, a wildcard label, service labels (_dmarc); any case.
DNS_CHARS = r"^[A-Za-z0-9*._-]+$"
# A piece of a customer, as the Site schema allows it.
CUSTOMER_CHARS = r"^[-A-Za-z0-9_.]+$"
PLAN_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
# A Kubernetes user name (OIDC names may be any text): anything but blanks, control and invisible
# formatting characters, quotes, backslash, ';' and '%'. Written for both Rust's regex (pydantic)
# and Python's (the OpenAPI document's readers).
USER_CHARS = "^[^\\x00-\\x20\\x7f-\\xa0\\u00ad\\u2000-\\u200f\\u2028-\\u202f\\u205f-\\u206f\\ufeff'\"\\\\;%]+$"
# What a continue token is made of (base64url).
TOKEN_CHARS = r"^[A-Za-z0-9_-]+$"

MatchParam = Literal["exact", "prefix", "suffix", "contains"]
SortOrder = Literal["asc", "desc"]
NamespaceParam = Annotated[str | None, Query(pattern=NAMESPACE_PATTERN, max_length=63)]
NameText = Annotated[str | None, Query(min_length=1, max_length=253, pattern=NAME_CHARS)]
DnsText = Annotated[str | None, Query(min_length=1, max_length=253, pattern=DNS_CHARS)]
CustomerText = Annotated[str | None, Query(min_length=1, max_length=128, pattern=CUSTOMER_CHARS)]
PlanParam = Annotated[str | None, Query(min_length=1, max_length=63, pattern=PLAN_PATTERN)]
BackendParam = Annotated[str | None, Query(min_length=1, max_length=253, pattern=OBJECT_NAME_PATTERN)]
TypeParam = Annotated[RecordType | None, Query(alias="type")]
UserParam = Annotated[str | None, Query(min_length=1, max_length=253, pattern=USER_CHARS)]
ReadyParam = Annotated[Literal["True", "False", "Unknown"] | None, Query()]
ReasonParam = Annotated[str | None, Query(pattern=r"^[A-Za-z][A-Za-z0-9]*$", max_length=64)]
Limit = Annotated[int, Query(ge=1, le=500)]
ContinueParam = Annotated[str | None, Query(alias="continue", min_length=1, max_length=2048, pattern=TOKEN_CHARS)]


def in_utc(moment: datetime | None) -> datetime | None:
    """A time as UTC (one without a zone is taken as UTC); refused when UTC has no such time."""
    if moment is None:
        return None
    try:
        return as_utc(moment)
    except OverflowError:
        raise ValueError("the time is out of range") from None


Since = Annotated[
    datetime | None,
    AfterValidator(in_utc),
    Query(description="Entries at or after this time (RFC 3339; UTC when it names no zone)"),
]
Until = Annotated[
    datetime | None,
    AfterValidator(in_utc),
    Query(description="Entries before this time (RFC 3339; UTC when it names no zone)"),
]
NamespaceName = re.compile(NAMESPACE_PATTERN)
ObjectName = re.compile(OBJECT_NAME_PATTERN)


def text_filter(value: str | None, match: Match) -> TextFilter | None:
    return None if value is None else TextFilter(value, match)


def dns_filter(value: str | None, match: Match) -> TextFilter | None:
    """A DNS name filter: names are stored in lowercase, so any case finds them."""
    return None if value is None else TextFilter(value.lower(), match)


def lower(value: str | None) -> str | None:
    return None if value is None else value.lower()
