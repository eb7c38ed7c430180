"""Who is calling: any bearer token the cluster accepts (ServiceAccount, static, OIDC), checked with
a TokenReview and remembered briefly.

The cache holds a digest of each token, never the token, for ``ttl`` seconds (a rejection for a
tenth of that), and at most ``size`` entries, the oldest going first. Tokens are never logged,
stored or echoed: errors say what is wrong with the header, not what it held.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from dataclasses import dataclass

from siteplane.domain.access import Author
from siteplane.kube.client import KubeClient

TOKENREVIEWS = "/apis/authentication.k8s.io/v1/tokenreviews"


@dataclass(frozen=True)
class Caller:
    """An authenticated caller, and the token to act as them on the Kubernetes API."""

    author: Author
    token: str

    @property
    def username(self) -> str:
        return self.author.username

    @property
    def groups(self) -> tuple[str, ...]:
        return self.author.groups

    def __repr__(self) -> str:  # never the token
        return f"Caller({self.author.username!r}, groups={self.author.groups!r})"


class TokenReviewer:
    def __init__(self, kube: KubeClient, audiences: tuple[str, ...] = (), ttl: float = 10.0, size: int = 4096) -> None:
        self.kube = kube
        self.audiences = audiences
        self.ttl = ttl
        self.size = size
        self._answers: OrderedDict[str, tuple[float, Author | None]] = OrderedDict()
        self.reviews = 0  # TokenReviews sent, for tests and metrics

    async def review(self, token: str) -> Author | None:
        """Who the cluster says ``token`` is; None when it does not accept it. KubeUnavailable when
        the API server cannot be asked."""
        key = hashlib.sha256(token.encode()).hexdigest()
        now = time.monotonic()
        found = self._answers.get(key)
        if found is not None and found[0] > now:
            self._answers.move_to_end(key)
            return found[1]
        spec: dict[str, object] = {"token": token}
        if self.audiences:
            spec["audiences"] = list(self.audiences)
        self.reviews += 1
        answer = await self.kube.request(
            "POST", TOKENREVIEWS, body={"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": spec}
        )
        status = (answer or {}).get("status") or {}
        author: Author | None = None
        if status.get("authenticated"):
            user = status.get("user") or {}
            author = Author.from_userinfo(user)
        self._answers[key] = (now + (self.ttl if author else self.ttl / 10), author)
        self._answers.move_to_end(key)
        while len(self._answers) > self.size:
            self._answers.popitem(last=False)
        return author
