"""Credentials come only from Secrets, read through a ``SecretReader`` the handlers provide.

Reconcile code sees a secret's value only long enough to hand it to a backend; errors name the
Secret (namespace, name, key) and never carry its value.
"""

from __future__ import annotations

from typing import Protocol

from siteplane.api.common import SecretKeyRef


class SecretUnavailable(Exception):
    """A referenced Secret cannot be used; the message says why, naming the reference only."""

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


class SecretReader(Protocol):
    def read(self, ref: SecretKeyRef) -> str:
        """The value under ``ref.key`` as text, stripped of surrounding whitespace; SecretUnavailable otherwise."""
        ...


def describe(ref: SecretKeyRef) -> str:
    return f"Secret {ref.namespace}/{ref.name} key {ref.key!r}"
