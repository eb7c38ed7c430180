"""One error hierarchy for everything that can go wrong while reconciling.

Each error knows two things its handlers need, so nobody guesses from a message's wording:
whether trying the same again later may help (``retryable``), and which condition reason it shows
on the object it concerns (``reason``). Messages name the spec field at fault where there is one,
and never carry credentials or database URLs.
"""

from __future__ import annotations

from typing import ClassVar


class SiteplaneError(Exception):
    """Base of siteplane's errors. Subclasses set the condition reason; callers may override
    ``retryable`` when they know better (a wrong key is not fixed by waiting; a timeout may be)."""

    reason: ClassVar[str] = "Error"
    default_retryable: ClassVar[bool] = True

    def __init__(self, message: str, *, retryable: bool | None = None) -> None:
        super().__init__(message)
        self.retryable = self.default_retryable if retryable is None else retryable

    @property
    def message(self) -> str:
        return str(self)


class InvalidSpec(SiteplaneError):
    """A spec the schema let through but the models refuse; the message names the field."""

    reason = "InvalidSpec"
    default_retryable = False


class DatabaseUnavailable(SiteplaneError):
    """The application database could not be used. The message never includes the driver's text,
    which may quote the URL and its password."""

    reason = "DatabaseUnavailable"


class KubeUnavailable(SiteplaneError):
    """A call to the Kubernetes API failed or timed out."""

    reason = "ApiUnavailable"


class BackendError(SiteplaneError):
    """A DNS backend operation failed."""

    reason = "BackendError"


class BackendUnavailable(SiteplaneError):
    """A zone's backend cannot be used at all (unknown, unreadable credentials, failing its check).
    ``detail`` is the problem as the DNSBackend itself states it; ``str()`` is as a zone states it."""

    reason = "BackendUnavailable"
    default_retryable = False

    def __init__(self, message: str, *, retryable: bool | None = None, detail: str | None = None) -> None:
        super().__init__(message, retryable=retryable)
        self.detail = detail or message


class SecretUnavailable(SiteplaneError):
    """A referenced Secret cannot be used; the message names the reference, never the value."""

    reason = "BackendUnavailable"
    default_retryable = False
