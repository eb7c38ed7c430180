"""References to the custom resources that own things, and the order in which claims are decided."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, order=True)
class ObjectRef:
    """A custom resource, by kind, namespace and name (uid distinguishes re-creations)."""

    kind: str
    namespace: str
    name: str
    uid: str = field(default="", compare=False)

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}"


@dataclass(frozen=True)
class Claim:
    """Something an object claims, with the age that decides conflicts: the oldest claim wins.

    Age is the object's creationTimestamp (RFC 3339 text, which sorts chronologically), then its
    namespace and name, so that two objects created in the same second still have a fixed order.
    """

    ref: ObjectRef
    created: str

    @property
    def age_key(self) -> tuple[str, str, str]:
        return (self.created, self.ref.namespace, self.ref.name)
