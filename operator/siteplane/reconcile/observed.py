"""Objects as the API server last showed them: what reconciles read and status writes diff against.

The operator keeps the latest body of every object it serves (from kopf's watch events, and from
the answers to its own writes), so status is computed against what the object shows now, and a
write carries the resourceVersion it was computed from.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from siteplane.domain.objects import ObjectRef

FINALIZER = "siteplane.io/finalizer"


@dataclass(frozen=True)
class Key:
    """How the operator addresses an object: a new object of the same name is the same key."""

    kind: str
    namespace: str
    name: str

    @classmethod
    def of(cls, ref: ObjectRef) -> Key:
        return cls(ref.kind, ref.namespace, ref.name)


@dataclass(frozen=True)
class Observed:
    """One custom resource as the API server last showed it."""

    ref: ObjectRef
    created: str  # metadata.creationTimestamp: the age that decides conflicts
    generation: int
    resource_version: str
    spec: Mapping[str, Any]
    status: Mapping[str, Any] = field(default_factory=dict)
    finalizers: tuple[str, ...] = ()
    deleting: bool = False

    @classmethod
    def from_body(cls, kind: str, body: Mapping[str, Any]) -> Observed:
        meta = body.get("metadata") or {}
        return cls(
            ref=ObjectRef(kind, meta.get("namespace") or "", meta["name"], meta.get("uid") or ""),
            created=meta.get("creationTimestamp") or "",
            generation=int(meta.get("generation") or 0),
            resource_version=str(meta.get("resourceVersion") or ""),
            spec=dict(body.get("spec") or {}),
            status=dict(body.get("status") or {}),
            finalizers=tuple(meta.get("finalizers") or ()),
            deleting=bool(meta.get("deletionTimestamp")),
        )

    @property
    def key(self) -> Key:
        return Key.of(self.ref)

    @property
    def finalized(self) -> bool:
        """Whether siteplane's finalizer is on the object."""
        return FINALIZER in self.finalizers


def _version(text: str) -> int | None:
    return int(text) if text.isdigit() else None


Listener = Callable[[Observed | None, Observed], None]


class ObjectCache:
    """The latest body of every object, by key, from whatever saw it last: a watch event, or the
    answer to one of our own writes (which may show a new generation before its event arrives).
    ``listener`` hears every stored change, with what was there before."""

    def __init__(self, listener: Listener | None = None) -> None:
        self._objects: dict[Key, Observed] = {}
        self.listener = listener

    def __len__(self) -> int:
        return len(self._objects)

    def get(self, key: Key) -> Observed | None:
        return self._objects.get(key)

    def find(self, ref: ObjectRef) -> Observed | None:
        """The cached object ``ref`` names; None if there is none, or another object (uid) took its name."""
        found = self._objects.get(Key.of(ref))
        if found is None or (ref.uid and found.ref.uid != ref.uid):
            return None
        return found

    def put(self, observed: Observed) -> Observed | None:
        """Keep ``observed`` unless the cache already holds a newer view of the same object (a watch
        event can arrive after the answer to our own write); returns what was there before."""
        previous = self._objects.get(observed.key)
        if previous is not None and previous.ref.uid == observed.ref.uid:
            old, new = _version(previous.resource_version), _version(observed.resource_version)
            # resourceVersions are opaque; the API server's are etcd revisions in practice, and only
            # when both read as numbers is an older one recognised and ignored.
            if old is not None and new is not None and new < old:
                return previous
        self._objects[observed.key] = observed
        if self.listener is not None:
            self.listener(previous, observed)
        return previous

    def pop(self, key: Key, uid: str) -> Observed | None:
        found = self._objects.get(key)
        if found is not None and found.ref.uid == uid:
            return self._objects.pop(key)
        return None

    def of_kind(self, kind: str) -> list[Observed]:
        return [o for k, o in self._objects.items() if k.kind == kind]
