"""PowerDNS Authoritative through its HTTP API: one connection, one lock, one PATCH per change set.

Record data is sent exactly as siteplane stores it (dnspython's canonical presentation text, host
names absolute), which PowerDNS parses; what PowerDNS hands back is run through ``canonical_rdata``
again, so a zone read back compares equal to the record sets written.

Zones are created with ``soa_edit_api`` DEFAULT: on every change made through the API PowerDNS sets
the serial to ``YYYYMMDD01`` when that is higher, else to the old serial plus one. Serials so stay
conventional, rise on every write without us computing them, and a zone removed and created again
starts at today's date rather than at 1, below what secondaries may still hold (INCREASE would).
When the SOA settings change, the SOA is replaced carrying the current serial, which PowerDNS then
bumps the same way.

Reads are one SOA-only GET (the ``rrset_name``/``rrset_type`` filter) and the content of the last
full read while the serial and SOA are the same, a full GET of the zone when they moved. That is
only as good as the serial: PowerDNS raises it for changes made through its API (ours, and anyone
else's, with ``soa_edit_api``), but not for changes made by other means (``pdnsutil`` edits, SQL
on the backend database, another program feeding that database). Such a change stays unseen by
reads until the serial moves, by any change through the API; at the latest, the read-back of our
next write to the zone (a full GET after the PATCH) sees it. Whoever changes zones by other means
should raise the serial too (``pdnsutil increase-serial``) for siteplane to notice at once.

DNSSEC is PowerDNS's own: it signs every answer on the fly with the zone's active keys. A zone is
signed by creating one key through the API (``POST .../cryptokeys``: a combined signing key, CSK,
flags 257, so there is one DS and no ZSK rollover to run), setting the zone's ``nsec3param`` for
NSEC3 (RFC 9276: ``1 0 0 -``, no extra iterations, no salt) or clearing it for NSEC, and rectifying
the zone (``PUT .../rectify``: the ordering and hashed names the denial proofs are built from).
Unsigned again: every key deleted, ``nsec3param`` cleared, rectified. The zone object that every
probe reads says whether the zone has keys (``dnssec``) and its ``nsec3param``, so a sync that
changes nothing needs no request more. The backend needs ``gsqlite3-dnssec=yes`` (or the same
for another backend) in pdns.conf. The API never hands out DNSKEY, RRSIG or NSEC3 record sets as
rrsets of the zone; should another program have stored some, they are left out of what is read.

PowerDNS 4.7 with the gsqlite3 backend fails under parallel writes, so every operation holds one lock
for its whole read-modify-write. The API key travels only in the X-API-Key header: it is never part
of repr(), error messages or log lines.
"""

from __future__ import annotations

import http.client
import json
import logging
import re
import ssl
import threading
import time
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import dns.exception
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
from dns.rdtypes.ANY.SOA import SOA

from siteplane.dns.backend import (
    DNSSEC_TYPES,
    BackendError,
    BackendStats,
    DnssecSettings,
    DnssecState,
    SOASettings,
    ZoneConfig,
    ZoneContent,
    ZoneMissing,
)
from siteplane.dns.content import canonical_soa
from siteplane.domain.changes import ChangeSet, diff
from siteplane.domain.names import APEX, fqdn, normalise, relative_to
from siteplane.domain.records import RecordKey, RecordSet, canonical_rdata

log = logging.getLogger(__name__)

SOA_EDIT_API = "DEFAULT"
# soa_edit_api kinds that raise the serial on every API change; an existing zone with another one is switched.
_BUMPING_SOA_EDITS = {"DEFAULT", "INCREASE", "EPOCH"}
_ZONE_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
_HEADER_UNSAFE = re.compile(r"[\x00-\x1f\x7f]")
ERROR_TEXT_MAX = 500
# The peer closed a kept-alive connection: the request most likely never reached it, so one retry is safe.
_DROPPED = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError, ConnectionAbortedError)

# RFC 9276: NSEC3 with SHA-1 (1), no opt-out (0), no extra iterations (0), no salt (-).
NSEC3PARAM = "1 0 0 -"
# DNSSEC algorithm numbers and the names PowerDNS's API takes for them.
_ALGORITHMS = {8: "RSASHA256", 13: "ECDSAP256SHA256", 14: "ECDSAP384SHA384", 15: "ED25519", 16: "ED448"}
_SEP = 0x0001  # DNSKEY flags: secure entry point
# PowerDNS signs each answer with a signature valid from the start of the previous week (weeks
# counted from the Unix epoch, a Thursday, 00:00 UTC) to two weeks after the start of this one
# (getStartOfWeek in its dnssecsigner.cc): the signatures served are renewed every week.
_WEEK = 7 * 86400
_SIGNATURE_WEEKS_AHEAD = 2


@dataclass(frozen=True)
class _Signing:
    """A zone's DNSSEC as its zone object says: whether it has keys, and its NSEC3PARAM ("" for NSEC)."""

    keys: bool
    nsec3param: str

    @classmethod
    def of(cls, payload: Mapping[str, Any]) -> _Signing:
        return cls(bool(payload.get("dnssec")), str(payload.get("nsec3param") or "").strip())


class PowerDNSBackend:
    """One PowerDNS Authoritative server (``api_url`` like ``http://127.0.0.1:8081``), one server id."""

    def __init__(self, api_url: str, api_key: str, server_id: str = "localhost", timeout: float = 10.0) -> None:
        parts = urllib.parse.urlsplit(api_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("api_url must be an http:// or https:// URL with a host")
        if parts.username is not None or parts.password is not None:
            raise ValueError("api_url must not carry credentials; the API key is passed separately")
        if not api_key or _HEADER_UNSAFE.search(api_key):
            raise ValueError("the PowerDNS API key is empty or contains control characters")
        self.api_url = urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))
        self.server_id = server_id
        self.timeout = timeout
        self.stats = BackendStats()
        self._api_key = api_key
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port
        self._zones_path = f"{parts.path.rstrip('/')}/api/v1/servers/{urllib.parse.quote(server_id, safe='')}/zones"
        self._conn: http.client.HTTPConnection | None = None
        self._lock = threading.Lock()
        # Per zone, the content of the last full read (or write answer), at the serial it carries.
        self._cache: dict[str, ZoneContent] = {}

    def __repr__(self) -> str:
        return f"PowerDNSBackend(api_url={self.api_url!r}, server_id={self.server_id!r}, timeout={self.timeout!r})"

    __str__ = __repr__

    # -- Backend -------------------------------------------------------------------------------

    def check(self) -> None:
        """One GET of the server object: proves the URL, the server id and the API key."""
        path = self._zones_path.rsplit("/zones", 1)[0]
        with self._lock:
            status, payload = self._request("GET", path)
        if status != 200:
            raise self._error(status, payload, "reading the server's details")

    def read_zone(self, zone: str) -> ZoneContent | None:
        """An SOA-only GET (the probe), and a full GET only when the serial or SOA moved since the last
        full read. Changes made other than through the API do not move the serial: see the module."""
        name = _zone_name(zone)
        with self._lock:
            probed = self._probe(name)
            return None if probed is None else self._known_or_read(name, probed[0])

    def create_zone(self, zone: ZoneConfig, record_sets: Iterable[RecordSet]) -> ZoneContent:
        name = _zone_name(zone.name)
        soa = canonical_soa(zone.soa)
        desired: dict[RecordKey, RecordSet] = {}
        for rs in record_sets:
            if rs.key in desired:
                raise BackendError(f"record set {rs.key} given twice for zone {name}", retryable=False)
            desired[rs.key] = rs
        rrsets = [_rrset(name, rs) for rs in sorted(desired.values(), key=lambda r: r.key)]
        rrsets.append(_soa_rrset(name, soa, 0))
        body = {
            "name": name + ".",
            "kind": "Native",
            "nameservers": [],  # the apex NS comes as a record set from the planner
            "soa_edit_api": SOA_EDIT_API,
            "rrsets": rrsets,
        }
        with self._lock:
            self.stats.wrote()
            status, payload = self._request("POST", self._zones_path, body)
            if status in (200, 201) and isinstance(payload, dict):
                # The answer is the zone as PowerDNS stored it, every rrset included: a full read.
                self.stats.full_reads += 1
                created = self._remember(name, _parse_zone(name, payload))
                self._converge_signing(name, zone.dnssec, _Signing.of(payload))
                return created
            if status == 409 or (status == 422 and "exist" in _error_text(payload).lower()):
                # Idempotent create: bring the existing zone to exactly ``record_sets``.
                found = self._get_zone(name)
                if found is None:
                    raise BackendError(f"zone {name} vanished while being created on PowerDNS")
                if str(found.get("soa_edit_api", "")).upper() not in _BUMPING_SOA_EDITS:
                    self._set_soa_edit_api(name)
                self._converge_signing(name, zone.dnssec, _Signing.of(found))
                current = self._remember(name, _parse_zone(name, found))
                changes = diff(current.record_sets, desired)
                if not changes and current.soa == soa:
                    return current
                return self._patch(name, soa, changes, current.serial, current.soa)
            raise self._error(status, payload, f"creating zone {name}")

    def apply(self, zone: ZoneConfig, changes: ChangeSet) -> ZoneContent:
        """An SOA-only GET (the serial and SOA settings now), the PATCH, and a full GET as the
        read-back; an empty change costs the SOA-only GET alone."""
        name = _zone_name(zone.name)
        soa = canonical_soa(zone.soa)
        with self._lock:
            found = self._probe(name)
            if found is None:
                raise ZoneMissing(name)
            probed, signing = found
            self._converge_signing(name, zone.dnssec, signing)
            if not changes and probed.soa == soa:
                served = self._known_or_read(name, probed)
                if served is None:
                    raise ZoneMissing(name)
                return served
            return self._patch(name, soa, changes, probed.serial, probed.soa)

    def dnssec_state(self, zone: str) -> DnssecState:
        """The zone's keys from the cryptokeys endpoint. PowerDNS signs every answer as it sends it,
        with the active keys, so a zone with an active key-signing (or combined) key is served
        signed from the moment the key exists; the earliest expiry is that of PowerDNS's weekly
        signature window (see ``_SIGNATURE_WEEKS_AHEAD``)."""
        name = _zone_name(zone)
        with self._lock:
            self.stats.probes += 1  # one GET, whatever the zone holds
            keys = self._cryptokeys(name)
        sep = [k for k in keys if k.get("active") and int(k.get("flags") or 0) & _SEP and k.get("dnskey")]
        if not sep:
            return DnssecState(signed=False)
        dnskeys: list[str] = []
        ds: list[str] = []
        for key in sep:
            try:
                dnskeys.append(_rdata_text("DNSKEY", str(key["dnskey"])))
                ds.extend(t for t in (_rdata_text("DS", str(d)) for d in key.get("ds") or ()) if t.split()[2] == "2")
            except (dns.exception.DNSException, ValueError, IndexError) as exc:
                raise BackendError(f"cannot read the keys of zone {name}: {exc}") from exc
        now = int(time.time())
        expire = now - now % _WEEK + _SIGNATURE_WEEKS_AHEAD * _WEEK
        return DnssecState(signed=True, dnskeys=tuple(dnskeys), ds=tuple(ds), signatures_expire=expire)

    def remove_zone(self, zone: str) -> None:
        name = _zone_name(zone)
        with self._lock:
            self._cache.pop(name, None)
            status, payload = self._request("DELETE", self._zone_path(name))
            if status in (200, 204) or _not_found(status, payload):
                return
            raise self._error(status, payload, f"removing zone {name}")

    # -- operations, called with the lock held -------------------------------------------------

    def _converge_signing(self, name: str, dnssec: DnssecSettings | None, current: _Signing) -> None:
        """Bring the zone's keys and NSEC3PARAM to ``dnssec`` (None: unsigned), then rectify; nothing
        at all when ``current`` (from the zone object just read) already is so."""
        nsec3param = NSEC3PARAM if dnssec is not None and dnssec.denial == "NSEC3" else ""
        if current.keys == (dnssec is not None) and current.nsec3param == nsec3param:
            return
        if dnssec is not None and not current.keys:
            algorithm = _ALGORITHMS.get(dnssec.algorithm)
            if algorithm is None:
                raise BackendError(
                    f"zone {name}: DNSSEC algorithm {dnssec.algorithm} is not supported", retryable=False
                )
            # The key comes before the NSEC3PARAM: a zone with NSEC3PARAM but no keys is not signed anyway.
            self.stats.wrote()
            body = {"keytype": "csk", "active": True, "published": True, "algorithm": algorithm}
            status, payload = self._request("POST", f"{self._zone_path(name)}/cryptokeys", body)
            if status not in (200, 201):
                raise self._error(status, payload, f"creating a signing key for zone {name}")
            log.info("zone %s: signed with a new %s key", name, algorithm)
        if dnssec is None and current.keys:
            # Unsigned at once: PowerDNS stops signing the moment the keys are gone. That the DS is
            # withdrawn from the parent first is the caller's business (the zone goes bogus otherwise).
            for key in self._cryptokeys(name):
                self.stats.wrote()
                status, payload = self._request("DELETE", f"{self._zone_path(name)}/cryptokeys/{int(key['id'])}")
                if status not in (200, 204) and not _not_found(status, payload):
                    raise self._error(status, payload, f"deleting a key of zone {name}")
            log.info("zone %s: keys deleted, no longer signed", name)
        if current.nsec3param != nsec3param:
            self.stats.wrote()
            status, payload = self._request("PUT", self._zone_path(name), {"nsec3param": nsec3param})
            if status not in (200, 204):
                raise self._error(status, payload, f"setting the NSEC3 parameters of zone {name}")
        # Denial proofs come from the ordering (and NSEC3 hashes) rectify computes.
        self.stats.wrote()
        status, payload = self._request("PUT", f"{self._zone_path(name)}/rectify")
        if status not in (200, 204):
            raise self._error(status, payload, f"rectifying zone {name}")

    def _cryptokeys(self, name: str) -> list[dict[str, Any]]:
        """The zone's keys as the cryptokeys endpoint lists them; ZoneMissing when there is no zone."""
        status, payload = self._request("GET", f"{self._zone_path(name)}/cryptokeys")
        if _not_found(status, payload):
            raise ZoneMissing(name)
        if status != 200 or not isinstance(payload, list):
            raise self._error(status, payload, f"reading the keys of zone {name}")
        return [key for key in payload if isinstance(key, dict)]

    def _patch(
        self, name: str, soa: SOASettings, changes: ChangeSet, serial: int, current_soa: SOASettings | None
    ) -> ZoneContent:
        """One PATCH of ``changes`` (and of the SOA when ``current_soa`` is not ``soa``); the zone as
        served afterwards, from a full GET."""
        upserted = {rs.key for rs in changes.upserts}
        rrsets: list[dict[str, Any]] = []
        # Deletes first: PowerDNS applies the rrsets in order, so A -> CNAME at one name works in one PATCH.
        for key in sorted(set(changes.deletes) - upserted):
            if key.type.upper() == "SOA":
                raise BackendError(f"the SOA of zone {name} is managed by the backend", retryable=False)
            rrsets.append({"name": _owner(name, key.name), "type": key.type.upper(), "changetype": "DELETE"})
        for rs in sorted(changes.upserts, key=lambda r: r.key):
            rrsets.append({**_rrset(name, rs), "changetype": "REPLACE"})
        if current_soa != soa:
            # The current serial: soa_edit_api raises it from there (a lower one could make it fall).
            rrsets.append({**_soa_rrset(name, soa, serial), "changetype": "REPLACE"})
        self.stats.wrote()
        status, payload = self._request("PATCH", self._zone_path(name), {"rrsets": rrsets})
        if _not_found(status, payload):
            self._cache.pop(name, None)
            raise ZoneMissing(name)
        if status not in (200, 204):
            raise self._error(status, payload, f"changing zone {name}")
        served = self._read(name)
        if served is None:
            raise ZoneMissing(name)
        return served

    def _probe(self, name: str) -> tuple[ZoneContent, _Signing] | None:
        """The zone's serial, SOA settings and signing from a GET of its SOA rrset alone; None when there is no zone."""
        self.stats.probes += 1
        query = urllib.parse.urlencode({"rrset_name": name + ".", "rrset_type": "SOA"})
        status, payload = self._request("GET", f"{self._zone_path(name)}?{query}")
        if _not_found(status, payload):
            self._cache.pop(name, None)
            return None
        if status != 200 or not isinstance(payload, dict):
            raise self._error(status, payload, f"reading the SOA of zone {name}")
        return _parse_zone(name, payload), _Signing.of(payload)

    def _known_or_read(self, name: str, probed: ZoneContent) -> ZoneContent | None:
        """The last content read when ``probed`` (an SOA-only read) shows the same serial and SOA, else a full GET."""
        known = self._cache.get(name)
        if known is not None and (known.serial, known.soa) == (probed.serial, probed.soa):
            return known
        return self._read(name)

    def _read(self, name: str) -> ZoneContent | None:
        """A full GET of the zone, remembered; None when there is no zone."""
        found = self._get_zone(name)
        if found is None:
            self._cache.pop(name, None)
            return None
        return self._remember(name, _parse_zone(name, found))

    def _remember(self, name: str, content: ZoneContent) -> ZoneContent:
        self._cache[name] = content
        return content

    def _get_zone(self, name: str) -> dict[str, Any] | None:
        self.stats.full_reads += 1
        status, payload = self._request("GET", self._zone_path(name))
        if _not_found(status, payload):
            return None
        if status != 200 or not isinstance(payload, dict):
            raise self._error(status, payload, f"reading zone {name}")
        return payload

    def _set_soa_edit_api(self, name: str) -> None:
        self.stats.wrote()
        status, payload = self._request("PUT", self._zone_path(name), {"soa_edit_api": SOA_EDIT_API})
        if status not in (200, 204):
            raise self._error(status, payload, f"setting soa_edit_api of zone {name}")

    # -- HTTP ----------------------------------------------------------------------------------

    def _zone_path(self, name: str) -> str:
        return f"{self._zones_path}/{urllib.parse.quote(name + '.', safe='')}"

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            assert self._host is not None  # checked in __init__
            if self._https:
                self._conn = http.client.HTTPSConnection(
                    self._host, self._port, timeout=self.timeout, context=ssl.create_default_context()
                )
            else:
                self._conn = http.client.HTTPConnection(self._host, self._port, timeout=self.timeout)
        return self._conn

    def _close(self) -> None:
        # The object stays: http.client opens a new socket on the next request (auto_open).
        if self._conn is not None:
            self._conn.close()

    def _request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """One API call on the shared connection: (status, decoded JSON or None). Transport failures
        raise a retryable BackendError; a kept-alive connection the server dropped is reopened once."""
        data = None if body is None else json.dumps(body).encode()
        headers = {"X-API-Key": self._api_key, "Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        for attempt in range(2):
            conn = self._connection()
            reused = conn.sock is not None
            try:
                conn.request(method, path, body=data, headers=headers)
                response = conn.getresponse()
                payload = response.read()
            except _DROPPED as exc:
                self._close()
                if reused and attempt == 0:
                    log.debug("PowerDNS %s dropped the connection; reconnecting", self.api_url)
                    continue
                raise self._transport_error(method, path, exc) from None
            except (OSError, http.client.HTTPException) as exc:
                self._close()
                raise self._transport_error(method, path, exc) from None
            # With "Connection: close" (PowerDNS 4.7 answers every request so) http.client has
            # already closed the socket; the next request on this object reconnects.
            log.debug("PowerDNS %s %s -> %s", method, path, response.status)
            try:
                return response.status, json.loads(payload) if payload.strip() else None
            except ValueError:
                return response.status, payload.decode("utf-8", "replace")
        raise AssertionError("unreachable")  # pragma: no cover

    def _transport_error(self, method: str, path: str, exc: BaseException) -> BackendError:
        reason = self._scrub(str(exc) or type(exc).__name__)
        return BackendError(f"PowerDNS at {self.api_url} unreachable ({method} {path}): {reason}", retryable=True)

    def _error(self, status: int, payload: Any, what: str) -> BackendError:
        if status in (401, 403):
            return BackendError(f"PowerDNS rejected the API key ({status}) while {what}", retryable=False)
        text = self._scrub(_error_text(payload))
        retryable = status >= 500 or status in (408, 429)
        return BackendError(f"PowerDNS answered {status} while {what}: {text}", retryable=retryable)

    def _scrub(self, text: str) -> str:
        return text.replace(self._api_key, "<api key>")


# -- conversions -------------------------------------------------------------------------------


def _zone_name(zone: str) -> str:
    name = normalise(zone)
    if not name or len(name) > 253 or not all(_ZONE_LABEL.fullmatch(label) for label in name.split(".")):
        raise BackendError(f"invalid zone name {zone!r}", retryable=False)
    return name


def _owner(zone: str, owner: str) -> str:
    """The absolute owner name (trailing dot) PowerDNS wants for ``owner`` relative to ``zone``."""
    try:
        return dns.name.from_text(fqdn(owner, zone), origin=dns.name.root).to_text()
    except dns.exception.DNSException as exc:
        raise BackendError(f"invalid owner name {owner!r} in zone {zone}: {exc}", retryable=False) from exc


def _rrset(zone: str, rs: RecordSet) -> dict[str, Any]:
    rtype = rs.type.upper()
    if rtype == "SOA":
        raise BackendError(f"the SOA of zone {zone} is managed by the backend", retryable=False)
    if not rs.rdata:
        raise BackendError(f"record set {rs.key} has no data", retryable=False)
    for text in rs.rdata:
        # Only the canonical spelling goes out, so that what is read back compares equal to it.
        try:
            canonical = canonical_rdata(rtype, text)
        except (dns.exception.DNSException, ValueError) as exc:
            raise BackendError(f"record set {rs.key} has invalid data {text!r}: {exc}", retryable=False) from exc
        if canonical != text:
            raise BackendError(f"record set {rs.key} has data {text!r}, canonically {canonical!r}", retryable=False)
    return {
        "name": _owner(zone, rs.name),
        "type": rtype,
        "ttl": rs.ttl,
        "records": [{"content": text, "disabled": False} for text in rs.rdata],
    }


def _soa_rrset(zone: str, soa: SOASettings, serial: int) -> dict[str, Any]:
    content = f"{soa.mname} {soa.rname} {serial} {soa.refresh} {soa.retry} {soa.expire} {soa.minimum}"
    return {
        "name": zone + ".",
        "type": "SOA",
        "ttl": soa.ttl,
        "records": [{"content": content, "disabled": False}],
    }


def _parse_zone(zone: str, payload: Mapping[str, Any]) -> ZoneContent:
    """A zone object of the API (all rrsets or some) as ZoneContent; disabled records are not served."""
    serial = int(payload.get("serial") or 0)
    soa: SOASettings | None = None
    records: dict[RecordKey, RecordSet] = {}
    for rrset in payload.get("rrsets") or ():
        rtype = str(rrset["type"]).upper()
        contents = [str(r["content"]) for r in rrset.get("records") or () if not r.get("disabled")]
        if not contents or rtype in DNSSEC_TYPES:
            continue  # comments only, every record disabled, or the signer's (see the module)
        try:
            owner = relative_to(str(rrset["name"]), zone)
            if rtype == "SOA":
                if owner == APEX:
                    serial, soa = _parse_soa(contents[0], int(rrset["ttl"]))
                continue
            rs = RecordSet(owner, rtype, int(rrset["ttl"]), tuple(canonical_rdata(rtype, c) for c in contents))
        except (dns.exception.DNSException, ValueError, KeyError) as exc:
            raise BackendError(f"cannot read rrset {rrset.get('name')}/{rtype} of zone {zone}: {exc}") from exc
        records[rs.key] = rs
    return ZoneContent(serial, records, soa)


def _rdata_text(rtype: str, text: str) -> str:
    """``text`` (as PowerDNS spells DNSKEY and DS data) in dnspython's presentation format."""
    return dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.from_text(rtype), text).to_text()


def _parse_soa(content: str, ttl: int) -> tuple[int, SOASettings]:
    rdata = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.SOA, content, origin=dns.name.root, relativize=False)
    assert isinstance(rdata, SOA)
    settings = SOASettings(
        mname=rdata.mname.canonicalize().to_text(),
        rname=rdata.rname.canonicalize().to_text(),
        refresh=rdata.refresh,
        retry=rdata.retry,
        expire=rdata.expire,
        minimum=rdata.minimum,
        ttl=ttl,
    )
    return rdata.serial, settings


def _not_found(status: int, payload: Any) -> bool:
    # 4.7 says 404; older versions answered 422 "Could not find domain ...".
    text = _error_text(payload).lower()
    return status == 404 or (status == 422 and ("not found" in text or "could not find" in text))


def _error_text(payload: Any) -> str:
    if isinstance(payload, dict):
        text = str(payload.get("error") or payload.get("errors") or payload)
    else:
        text = "" if payload is None else str(payload)
    return text[:ERROR_TEXT_MAX]
