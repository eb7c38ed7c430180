"""Continue tokens: where a list's next page starts, opaque to callers.

A token carries the last row's sort value and id, the sort, and a digest of the filters it was
made for; it is checked on the way back, so a token from another query, or one that was tampered
with or cut short, gets a clear 400 instead of a wrong page. It grants nothing: every page is
filtered by the caller's permissions whatever the token says.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from siteplane.dashboard.problems import ProblemError
from siteplane.store.listings import Cursor

T = TypeVar("T")
VERSION = 1
MAX_TOKEN = 2048


def fingerprint(kind: str, sort: str, filters: Mapping[str, Any]) -> str:
    text = json.dumps([kind, sort, {k: v for k, v in sorted(filters.items()) if v is not None}], default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def encode(query: str, cursor: Cursor) -> str:
    payload = json.dumps({"v": VERSION, "q": query, "s": cursor.value, "i": cursor.id}, separators=(",", ":"))
    digest = hashlib.sha256(payload.encode()).hexdigest()[:8]
    return base64.urlsafe_b64encode(f"{digest}.{payload}".encode()).decode().rstrip("=")


def decode(token: str, query: str) -> Cursor:
    """The cursor in ``token``; a ProblemError (400) when it is not one this query made."""
    bad = ProblemError(400, "the continue token is not valid for this list; start again without it")
    if len(token) > MAX_TOKEN:
        raise bad
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        digest, _, payload = raw.partition(".")
        if hashlib.sha256(payload.encode()).hexdigest()[:8] != digest:
            raise bad
        data = json.loads(payload)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise bad from None
    if not isinstance(data, dict) or data.get("v") != VERSION or data.get("q") != query:
        raise bad
    value, row_id = data.get("s"), data.get("i")
    if not isinstance(row_id, int) or not isinstance(value, str | int):
        raise bad
    return Cursor(value, row_id)


def cut(rows: list[T], limit: int, query: str, cursor: Callable[[T], Cursor]) -> tuple[list[T], str | None]:
    """A page of ``rows`` (read with one row more than ``limit``) and the token of the next page,
    if there is one."""
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, encode(query, cursor(rows[-1]))
