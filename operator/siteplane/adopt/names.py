"""Kubernetes object names for adopted objects, derived from DNS names and kept unique.

A DNS owner name may hold what an object name may not (underscores, a wildcard, 253 characters
before the type is added), so a name that had to be changed to fit gets a short digest of what it
stood for: two different record sets never end up under one object name, and the same zone adopted
twice gives the same names (a Git repository of adopted zones diffs cleanly).
"""

from __future__ import annotations

import hashlib
import re

MAX_OBJECT_NAME = 253
_DIGEST = 8
_INVALID = re.compile(r"[^a-z0-9.-]+")


def object_name(text: str) -> str:
    """``text`` as a DNS-1123 subdomain; changed text gets ``-<digest of text>`` appended."""
    lowered = text.lower().replace("*", "wildcard")
    labels = [label.strip("-") or "x" for label in _INVALID.sub("-", lowered).split(".")]
    name = ".".join(labels)
    if name == text and len(name) <= MAX_OBJECT_NAME:
        return name
    digest = hashlib.sha256(text.encode()).hexdigest()[:_DIGEST]
    head = name[: MAX_OBJECT_NAME - _DIGEST - 1].rstrip(".-")
    return f"{head}-{digest}"


class NameBook:
    """Hands out object names, each once: a clash (two texts mapping to one name) gets a digest."""

    def __init__(self) -> None:
        self._taken: set[str] = set()

    def take(self, text: str) -> str:
        name = object_name(text)
        if name in self._taken:
            digest = hashlib.sha256(text.encode()).hexdigest()[:_DIGEST]
            name = f"{name[: MAX_OBJECT_NAME - _DIGEST - 1].rstrip('.-')}-{digest}"
        self._taken.add(name)
        return name
