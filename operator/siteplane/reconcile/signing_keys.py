"""DNSSEC signing keys of the zones siteplane signs itself (zone files): made once, kept in a
Secret in the operator's namespace, held in memory for the zone syncs.

The zone's reconcile loads (or makes) the key before the zone is stored. A sync that finds no key
in memory (the first syncs after a restart may run before the zone's reconcile) reads the Secret
through the event loop, but never makes a key: a key is made only by a reconcile that saw DNSSEC
on, so a sync racing a reconcile that turned DNSSEC off cannot bring a deleted key back. The
Secret's name is a digest of the zone's name and uid, so it names no tenant's zone; the key never
reaches the database, a status, an event or a log line (``SigningKey`` keeps its PEM out of repr).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections.abc import Callable, Mapping
from threading import Lock
from typing import Protocol

from siteplane.dns.backend import SigningKey
from siteplane.dns.signing import dnskey_of, generate_key
from siteplane.errors import BackendError, SecretUnavailable

log = logging.getLogger(__name__)
SECRET_PREFIX = "siteplane-dnssec-"
PEM_KEY, META_KEY = "key.pem", "key.json"


class KeyStore(Protocol):
    async def read(self, name: str) -> dict[str, bytes] | None: ...

    async def create(self, name: str, data: Mapping[str, bytes]) -> bool: ...

    async def delete(self, name: str) -> None: ...


def secret_name(zone_name: str, uid: str) -> str:
    """The Secret of a zone's keys: a digest, so that listing Secrets shows no zone names."""
    return SECRET_PREFIX + hashlib.sha256(f"{zone_name}\0{uid}".encode()).hexdigest()[:32]


def _encode(key: SigningKey) -> dict[str, bytes]:
    meta = {"flags": key.flags, "algorithm": key.algorithm, "created": key.created}
    return {PEM_KEY: key.private_pem, META_KEY: json.dumps(meta).encode()}


def _decode(name: str, data: Mapping[str, bytes]) -> SigningKey:
    try:
        meta = json.loads(data[META_KEY])
        key = SigningKey(data[PEM_KEY], int(meta["flags"]), int(meta["algorithm"]), int(meta["created"]))
        dnskey_of(key)  # readable, and of a supported algorithm
    except (KeyError, ValueError, TypeError, BackendError):
        raise SecretUnavailable(f"Secret {name} does not hold a usable DNSSEC key") from None
    return key


class SigningKeys:
    """Per DNSZone uid, its signing keys once loaded (or made)."""

    LOAD_TIMEOUT = 30.0

    def __init__(
        self,
        store: KeyStore | None,
        clock: Callable[[], float] = time.time,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self.store = store  # None: no namespace to keep keys in (SITEPLANE_DNSSEC_KEY_NAMESPACE unset)
        self.clock = clock
        self.loop = loop  # where the Secrets are read from, for syncs running in threads
        self._keys: dict[str, tuple[SigningKey, ...]] = {}
        self._lock = Lock()  # zone syncs read from threads

    def keys_for(self, uid: str) -> tuple[SigningKey, ...] | None:
        with self._lock:
            return self._keys.get(uid)

    def for_sync(self, zone_name: str, uid: str) -> tuple[SigningKey, ...] | None:
        """For a zone sync (in a worker thread): the keys in memory, else read from their Secret
        through the event loop; None when there is none (yet). Never makes a key."""
        if (known := self.keys_for(uid)) is not None:
            return known
        if self.loop is None or self.store is None:
            return None
        future = asyncio.run_coroutine_threadsafe(self.ensure(zone_name, uid, create=False), self.loop)
        try:
            return future.result(timeout=self.LOAD_TIMEOUT) or None
        except (SecretUnavailable, TimeoutError) as error:
            log.warning("DNSSEC: the signing key of zone %s could not be read: %s", zone_name, error)
            return None

    async def ensure(self, zone_name: str, uid: str, create: bool = True) -> tuple[SigningKey, ...]:
        """The zone's keys: from memory, else its Secret, else (``create``) made now and stored in a
        new Secret; without ``create``, empty when there is no Secret."""
        if (known := self.keys_for(uid)) is not None:
            return known
        if self.store is None:
            raise SecretUnavailable(
                "spec.dnssec: the operator has no namespace to keep signing keys in "
                "(set SITEPLANE_DNSSEC_KEY_NAMESPACE)"
            )
        name = secret_name(zone_name, uid)
        data = await self.store.read(name)
        if data is None and not create:
            return ()
        if data is None:
            if await self.store.create(name, _encode(generate_key(self.clock()))):
                log.info("DNSSEC: a new signing key for zone %s stored in Secret %s", zone_name, name)
            data = await self.store.read(name)  # ours, or the one made first by someone else
            if data is None:
                raise SecretUnavailable(f"Secret {name} vanished right after it was made", retryable=True)
        keys = (_decode(name, data),)
        with self._lock:
            self._keys[uid] = keys
        return keys

    async def discard(self, zone_name: str, uid: str) -> None:
        """Forget the zone's keys and delete their Secret (DNSSEC turned off, or the zone gone)."""
        with self._lock:
            self._keys.pop(uid, None)
        if self.store is not None:
            await self.store.delete(secret_name(zone_name, uid))
