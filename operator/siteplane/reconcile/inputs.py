"""What a reconcile service is given and what it gives back. Plain data: no kopf, no sessions."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from siteplane.domain.objects import ObjectRef


@dataclass(frozen=True)
class ObjectInput:
    """One custom resource as the API server last showed it."""

    ref: ObjectRef
    created: str  # metadata.creationTimestamp
    generation: int
    spec: Mapping[str, Any]
    status: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_body(cls, kind: str, body: Mapping[str, Any]) -> ObjectInput:
        meta = body.get("metadata", {})
        return cls(
            ref=ObjectRef(kind, meta.get("namespace") or "", meta["name"], meta.get("uid", "")),
            created=meta.get("creationTimestamp") or "",
            generation=int(meta.get("generation") or 0),
            spec=dict(body.get("spec") or {}),
            status=dict(body.get("status") or {}),
        )


@dataclass
class Outcome:
    """The status fields to write on the object, and other objects whose status this changed."""

    status: dict[str, Any]
    affected: set[ObjectRef] = field(default_factory=set)
    retry_after: float | None = None  # set when the work is not finished and must be retried
    retry_reason: str = ""


def backoff(retry: int, base: float = 2.0, cap: float = 300.0) -> float:
    """Exponential backoff with full jitter, so that many failing objects do not retry in lockstep."""
    return random.uniform(base, min(cap, base * 2 ** min(retry, 16)))
