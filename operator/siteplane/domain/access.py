"""Who asks and what for: the value types of permission questions.

An ``Author`` is a user as the API server authenticated them (in an admission request, or a
TokenReview); a ``Permission`` is one verb on one siteplane resource type, maybe for one name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Author:
    """An authenticated user: name, groups, and the uid and extra fields RBAC may look at."""

    username: str
    groups: tuple[str, ...] = ()
    uid: str | None = None
    extra: Mapping[str, Sequence[str]] = field(default_factory=dict)

    @classmethod
    def from_userinfo(cls, userinfo: Mapping[str, Any]) -> Author:
        return cls(
            username=str(userinfo.get("username") or ""),
            groups=tuple(userinfo.get("groups") or ()),
            uid=userinfo.get("uid"),
            extra={k: tuple(v) for k, v in (userinfo.get("extra") or {}).items()},
        )


@dataclass(frozen=True)
class Permission:
    """One verb on a resource type in some namespace, maybe limited to one object name."""

    verb: str
    resource: str
    name: str | None = None

    def describe(self, namespace: str) -> str:
        target = f"{self.resource}/{self.name}" if self.name else self.resource
        return f"{self.verb} {target} in namespace {namespace}"


@dataclass(frozen=True)
class Visibility:
    """Which objects of one kind a person may ``get``, as RBAC grants it: everything, whole
    namespaces, or named objects (in one namespace, or in every namespace for a cluster-wide grant
    limited to names). What the dashboard shows is exactly this, applied in its SQL queries."""

    everything: bool = False
    namespaces: frozenset[str] = frozenset()
    named: frozenset[tuple[str | None, str]] = frozenset()  # (namespace, or None for any; name)

    def allows(self, namespace: str, name: str) -> bool:
        return (
            self.everything
            or namespace in self.namespaces
            or (namespace, name) in self.named
            or (None, name) in self.named
        )

    @property
    def nothing(self) -> bool:
        return not (self.everything or self.namespaces or self.named)
