"""Query and path parameters the list endpoints share, with their limits: anything longer, or
outside the names Kubernetes allows, is a 400 before any query runs."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from fastapi import Query

from siteplane.api.common import NAMESPACE_PATTERN, OBJECT_NAME_PATTERN
from siteplane.store.listings import Match, TextFilter

MatchParam = Literal["exact", "prefix", "suffix", "contains"]
SortOrder = Literal["asc", "desc"]
NamespaceParam = Annotated[str | None, Query(pattern=NAMESPACE_PATTERN, max_length=63)]
NameText = Annotated[str | None, Query(min_length=1, max_length=253)]
ReadyParam = Annotated[Literal["True", "False", "Unknown"] | None, Query()]
ReasonParam = Annotated[str | None, Query(pattern=r"^[A-Za-z][A-Za-z0-9]*$", max_length=64)]
Limit = Annotated[int, Query(ge=1, le=500)]
NamespaceName = re.compile(NAMESPACE_PATTERN)
ObjectName = re.compile(OBJECT_NAME_PATTERN)


def text_filter(value: str | None, match: Match) -> TextFilter | None:
    return None if value is None else TextFilter(value, match)
