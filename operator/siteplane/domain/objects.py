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

    Age is the object's creationTimestamp (RFC 3339 text, which sorts chronologically). The API
    server counts it in whole seconds, so two objects created in the same second are ordered by
    incumbency first (the claim that holds the thing now keeps it: a newcomer never takes a
    published name from its holder because it happened to be created in the same second), then
    by namespace and name, so that the order is fixed.
    """

    ref: ObjectRef
    created: str
    incumbent: bool = field(default=False, kw_only=True)

    @property
    def age_key(self) -> AgeKey:
        return age_key(self.created, self.incumbent, self.ref)


AgeKey = tuple[str, bool, str, str]


def age_key(created: str, incumbent: bool, ref: ObjectRef) -> AgeKey:
    """The order in which claims win: the oldest first; in one second, the holder; then by name."""
    return (created, not incumbent, ref.namespace, ref.name)
