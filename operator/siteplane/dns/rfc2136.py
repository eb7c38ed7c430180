"""A DNS server driven over the wire: SOA queries, zone transfers and TSIG-signed RFC 2136 UPDATEs.

Works with any primary that takes dynamic updates (BIND 9, Knot, PowerDNS with dnsupdate). Reads
are cheap: a signed SOA query, and when the serial moved since the last read, an IXFR from that
serial (the whole zone by AXFR only when the server has no differences to give, or they do not
apply). A signed zone's serial moves at every re-signing, which changes nothing a read returns:
an IXFR of a few signatures instead of the whole zone each time. So what a read sees is only as
fresh as the serial: a change that keeps the serial (a zone file edited and reloaded without
raising it) stays unseen until the serial moves.

Writes are optimistic: every replaced or deleted RRset carries an RFC 2136 prerequisite requiring
exactly what was last read (or its absence), so a change made behind our back fails the update
(NXRRSET/YXRRSET, nothing written) instead of being silently overwritten. After writing, the zone
is read back with an IXFR from the serial it had before: the server's own account of what changed,
applied to what we knew. NOERROR does not mean the server took everything (RFC 2136 section
3.4.2.2: BIND ignores a CNAME added where other data exists, and other data added at a CNAME); the
read-back shows what it did take. When the server answers the IXFR with the whole zone, or its
differences do not apply to what we knew, the whole zone is what we use.

DNSSEC is the server's: it signs the zone (BIND: a ``dnssec-policy``), and ``zone_signer`` (the
rndc provisioner's ``set_signing``) tells it to, or to stop. Zone transfers then carry the
signer's records (DNSKEY, RRSIG, NSEC3, CDS, ..., and BIND's private signing-state records); they
are dropped from what ``read_zone`` and the read-back return, so planning never sees them, and no
UPDATE ever names them. Signing is asynchronous in the server, so ``dnssec_state`` looks at what
is served (a zone transfer) and says signed only when every RRset the zone is authoritative for
carries a signature.

The TSIG secret lives only inside the dnspython keyring: never in repr(), messages or logs.
"""

from __future__ import annotations

import binascii
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import dns.dnssec
import dns.exception
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.tsig
import dns.tsigkeyring
import dns.update
import dns.xfr
import dns.zone
from dns.rdataclass import IN
from dns.rdtypes.ANY.DNSKEY import DNSKEY
from dns.rdtypes.ANY.RRSIG import RRSIG
from dns.rdtypes.ANY.SOA import SOA

from siteplane.dns.backend import (
    DNSSEC_TYPES,
    BackendError,
    BackendStats,
    DnssecSettings,
    DnssecState,
    DriftDetected,
    RecordSetsRefused,
    SOASettings,
    ZoneConfig,
    ZoneContent,
    ZoneMissing,
)
from siteplane.dns.content import canonical_soa, soa_rdata, zone_content, zone_name
from siteplane.dns.ixfr import NotIncremental, content_after
from siteplane.dns.signing import validation_problems
from siteplane.domain.changes import ChangeSet, diff
from siteplane.domain.names import APEX
from siteplane.domain.records import RecordKey, RecordSet

log = logging.getLogger(__name__)

SERIAL_MODULO = 2**32
SOA_KEY = RecordKey(APEX, "SOA")
# Answers to the SOA query meaning "no such zone here" rather than "you may not".
_MISSING = {dns.rcode.REFUSED, dns.rcode.NOTAUTH, dns.rcode.NXDOMAIN}
_DRIFT = {dns.rcode.NXRRSET, dns.rcode.YXRRSET, dns.rcode.NXDOMAIN, dns.rcode.YXDOMAIN}
# Answers to an UPDATE that may concern one record set only: worth bisecting the batch.
_PER_RECORD = {dns.rcode.REFUSED, dns.rcode.SERVFAIL}
_FATAL = {dns.rcode.NOTAUTH, dns.rcode.NOTZONE, dns.rcode.FORMERR, dns.rcode.NOTIMP}
# BIND keeps the state of its signing in the zone itself, as records of a private type at the apex
# (sig-signing-type, 65534 by default): the signer's too, never the zone's content.
BIND_SIGNING_STATE = dns.rdatatype.RdataType.make(65534)
_SIGNER_RDTYPES = frozenset({*(dns.rdatatype.from_text(t) for t in DNSSEC_TYPES), BIND_SIGNING_STATE})
_SIGNER_TYPES = frozenset(dns.rdatatype.to_text(t) for t in _SIGNER_RDTYPES)
SEP = 0x0001  # DNSKEY flags: the secure entry point, the key a DS at the parent names

# zone_signer(zone, settings or None for unsigned, serves_dnssec) -> whether the server's
# configuration was changed; serves_dnssec() says whether the zone still serves DNSSEC records.
ZoneSigner = Callable[[str, DnssecSettings | None, Callable[[], bool]], bool]


class PartiallyApplied(RecordSetsRefused):
    """The server refused some record sets (``refused``); every other change was applied, and
    ``served`` is the zone as read back afterwards."""

    def __init__(self, zone: str, refused: Mapping[RecordKey, str], served: ZoneContent) -> None:
        # An UPDATE's answer is only an rcode, not why; the caller may know more about the set.
        super().__init__(zone, refused, served)


@dataclass(frozen=True)
class _Op:
    """One RRset change with its prerequisite: ``new`` None deletes; ``previous`` None requires absence."""

    key: RecordKey
    name: dns.name.Name
    rdtype: dns.rdatatype.RdataType
    new: dns.rdataset.Rdataset | None
    previous: dns.rdataset.Rdataset | None
    sent: RecordSet | None = None  # what ``new`` says, as a record set (None for a delete or the SOA)

    def add_to(self, msg: dns.update.UpdateMessage) -> None:
        if self.previous is None:
            msg.absent(self.name, self.rdtype)
        else:
            msg.present(self.name, self.previous)
        if self.new is None:
            msg.delete(self.name, self.rdtype)
        else:
            msg.replace(self.name, self.new)


@dataclass
class _Run:
    """What one apply has done so far."""

    zone: str
    applied: list[_Op]
    refused: dict[RecordKey, str]  # record set -> the rcode it got
    probed: bool = False
    messages: int = 0  # UPDATEs the server took (NOERROR); each raises the serial by one


class RFC2136Backend:
    """A primary server taking TSIG-signed dynamic updates and zone transfers (implements ``Backend``)."""

    def __init__(
        self,
        server: str,
        port: int,
        tsig_name: str,
        tsig_secret: str,
        tsig_algorithm: str = "hmac-sha256",
        timeout: float = 5.0,
        zone_creator: Callable[[ZoneConfig, Iterable[RecordSet]], None] | None = None,
        zone_remover: Callable[[str], None] | None = None,
        max_message_bytes: int = 16000,
        zone_signer: ZoneSigner | None = None,
    ) -> None:
        self.server = server
        self.port = port
        self.tsig_name = tsig_name
        self.tsig_algorithm = tsig_algorithm
        self.timeout = timeout
        self.zone_creator = zone_creator
        self.zone_remover = zone_remover
        self.zone_signer = zone_signer
        self.max_message_bytes = max_message_bytes
        try:
            self._keyname = dns.name.from_text(tsig_name)
            self._keyring: dict[dns.name.Name, dns.tsig.Key] = {
                self._keyname: dns.tsig.Key(self._keyname, tsig_secret, tsig_algorithm)
            }
        except (dns.exception.DNSException, binascii.Error, ValueError, TypeError, NotImplementedError):
            # The exception text might quote the secret: say what is wrong without it.
            raise BackendError(
                f"invalid TSIG key {tsig_name!r} (algorithm {tsig_algorithm}): secret is not valid base64 "
                "or the algorithm is unknown",
                retryable=False,
            ) from None
        # Per zone, the content last read from the server, at the serial it carries.
        self._cache: dict[str, ZoneContent] = {}
        # Per zone, the last dnssec_state and the serial it was read at.
        self._dnssec: dict[str, tuple[int, DnssecState]] = {}
        # Zones found signed by the server's own configuration (no zone_signer): checked once.
        self._signed_elsewhere: set[str] = set()
        self.stats = BackendStats()

    def __repr__(self) -> str:
        return (
            f"RFC2136Backend(server={self.server!r}, port={self.port}, tsig_name={self.tsig_name!r}, "
            f"tsig_algorithm={self.tsig_algorithm!r})"
        )

    __str__ = __repr__

    # -- Backend ------------------------------------------------------------------------------

    def check(self) -> None:
        """A signed SOA query for the root: any answer proves the server is there and takes our key
        (BIND checks the signature before it refuses a zone it does not serve)."""
        self._query_soa(".")

    def read_zone(self, zone: str) -> ZoneContent | None:
        """A signed SOA query (the probe); the content last read while the serial is the same, else
        the differences since then (IXFR), or the whole zone (AXFR) when nothing was read before."""
        name = zone_name(zone)
        self.stats.probes += 1
        soa = self._query_soa(name)
        if soa is None:
            self._cache.pop(name, None)
            return None
        cached = self._cache.get(name)
        if cached is not None and cached.serial == soa.serial:
            return cached
        content = self._transfer(name) if cached is None else self._read_back(name, cached)
        self._cache[name] = content
        return content

    def create_zone(self, zone: ZoneConfig, record_sets: Iterable[RecordSet]) -> ZoneContent:
        name = zone_name(zone.name)
        desired: dict[RecordKey, RecordSet] = {}
        for rs in record_sets:
            if rs.key in desired:
                raise BackendError(f"record set {rs.key} given twice for zone {name}", retryable=False)
            desired[rs.key] = rs
        current = self.read_zone(name)
        if current is None:
            if self.zone_creator is None:
                raise BackendError(f"this backend cannot create zones; create {name} on the server", retryable=False)
            try:
                self.zone_creator(zone, list(desired.values()))
            except BackendError:
                raise
            except Exception as exc:
                raise BackendError(f"creating zone {name} failed: {exc}") from exc
            current = self.read_zone(name)
            if current is None:
                raise BackendError(f"zone {name} was created but the server does not serve it yet")
        changes = diff(current.record_sets, desired)
        if not changes and current.soa == canonical_soa(zone.soa):
            self._converge_signing(zone)
            return current  # just read from the server
        return self.apply(zone, changes)

    def apply(self, zone: ZoneConfig, changes: ChangeSet) -> ZoneContent:
        """UPDATEs planned against the content last read (the caller has just read the zone), then an
        IXFR from that content's serial as the read-back; an empty change costs one probe."""
        name = zone_name(zone.name)
        current = self._cache.get(name)
        just_read = current is None
        if current is None:
            current = self.read_zone(name)
            if current is None:
                raise ZoneMissing(name)
        # Before the records: the server signs what follows as it arrives. A changed policy does not
        # move the serial by itself (the server's signing does, later), so the reads below see it then.
        self._converge_signing(zone)
        soa = canonical_soa(zone.soa)
        soa_changed = current.soa != soa
        if not changes and not soa_changed:
            served = current if just_read else self.read_zone(name)
            if served is None:
                raise ZoneMissing(name)
            return served

        origin = _origin(name)
        ops = self._ops(name, origin, current, changes)
        if soa_changed:
            ops.insert(0, self._soa_op(origin, current, soa))
        run = _Run(name, [], {})
        try:
            for batch in self._batches(origin, ops):
                self._send(origin, batch, run)
            served = self._read_back(name, current)
        except BackendError:
            self._cache.pop(name, None)
            raise
        self._cache[name] = served
        run.refused.update(_ignored(run, current, served))
        if run.refused:
            raise PartiallyApplied(name, run.refused, served)
        return served

    def dnssec_state(self, zone: str) -> DnssecState:
        """The zone's DNSSEC as served, from a zone transfer: signed when the apex serves a DNSKEY
        set and every RRset the zone is authoritative for (and its denial chain) carries an
        unexpired signature by one of those keys. While the server is still signing (or withdrawing)
        that is not so yet, and the zone counts as unsigned.

        Cheap when the serial did not move since the last answer (one SOA query): every change to
        what is served, the server's own signing and re-signing included, moves it. Only the
        signatures' expiry is time's doing, so an answer whose signatures have expired is not reused.
        """
        name = zone_name(zone)
        self.stats.probes += 1
        soa = self._query_soa(name)
        if soa is None:
            self._dnssec.pop(name, None)
            raise ZoneMissing(name)
        now = int(time.time())
        known = self._dnssec.get(name)
        if known is not None and known[0] == soa.serial and (known[1].signatures_expire or now + 1) > now:
            return known[1]
        self.stats.full_reads += 1
        messages = self._xfr(name, dns.rdatatype.AXFR)
        try:
            transferred = dns.zone.from_xfr(iter(messages), relativize=True)
        except Exception as exc:
            raise self._transport_error("zone transfer", name, exc) from exc
        state = served_dnssec(transferred, now)
        serial = transferred.get_soa().serial
        self._dnssec[name] = (serial, state)
        return state

    def remove_zone(self, zone: str) -> None:
        name = zone_name(zone)
        self._dnssec.pop(name, None)
        if self._query_soa(name) is None:
            self._cache.pop(name, None)
            return
        if self.zone_remover is None:
            raise BackendError(f"this backend cannot remove zones; remove {name} on the server", retryable=False)
        try:
            self.zone_remover(name)
        except BackendError:
            raise
        except Exception as exc:
            raise BackendError(f"removing zone {name} failed: {exc}") from exc
        finally:
            self._cache.pop(name, None)

    # -- signing ------------------------------------------------------------------------------

    def _converge_signing(self, zone: ZoneConfig) -> None:
        """Have the server sign the zone as ``zone.dnssec`` says (one write when that changes something)."""
        name = zone_name(zone.name)
        if self.zone_signer is None:
            # Without a way to configure the server, a zone it already signs (a policy in its own
            # configuration) is as good; asked once per zone, not on every sync.
            if zone.dnssec is not None and name not in self._signed_elsewhere:
                if not self._serves_dnssec(name):
                    raise BackendError(
                        f"zone {name} is to be signed, but the server does not sign it and this backend "
                        "has no way to make it (no zone_signer: for BIND, the rndc provisioner's set_signing; "
                        "or give the zone a dnssec-policy in the server's own configuration)",
                        retryable=False,
                    )
                self._signed_elsewhere.add(name)
            return
        try:
            changed = self.zone_signer(name, zone.dnssec, lambda: self._serves_dnssec(name))
        except BackendError:
            raise
        except Exception as exc:
            raise BackendError(f"configuring DNSSEC for zone {name} failed: {exc}") from exc
        if changed:
            self.stats.wrote()

    def _serves_dnssec(self, zone: str) -> bool:
        """Whether the server still serves DNSSEC records for ``zone``: a DNSKEY query with the DO
        bit answers with the keys, or (no keys) with an SOA that is signed or an NSEC/NSEC3 proof."""
        origin = _origin(zone)
        query = dns.message.make_query(origin, dns.rdatatype.DNSKEY, want_dnssec=True)
        query.use_tsig(self._keyring, keyname=self._keyname, algorithm=self.tsig_algorithm)
        try:
            response = dns.query.tcp(query, self.server, timeout=self.timeout, port=self.port)
        except Exception as exc:
            raise self._transport_error("DNSKEY query", zone, exc) from exc
        return any(rrset.rdtype in _SIGNER_RDTYPES for rrset in (*response.answer, *response.authority))

    # -- building updates ---------------------------------------------------------------------

    def _ops(self, zone: str, origin: dns.name.Name, current: ZoneContent, changes: ChangeSet) -> list[_Op]:
        """Deletes first (a type change at a name must free it before a CNAME arrives), then upserts."""
        upserts = {rs.key: rs for rs in changes.upserts}
        if len(upserts) != len(changes.upserts):
            raise BackendError(f"a record set is upserted twice in one change set for zone {zone}", retryable=False)
        if set(upserts) & set(changes.deletes):
            raise BackendError(f"a record set is both upserted and deleted for zone {zone}", retryable=False)
        ops = []
        for key in sorted(set(changes.deletes)):
            ops.append(self._op(zone, origin, key, None, current.record_sets.get(key)))
        for key in sorted(upserts):
            ops.append(self._op(zone, origin, key, upserts[key], current.record_sets.get(key)))
        return ops

    def _op(
        self, zone: str, origin: dns.name.Name, key: RecordKey, new: RecordSet | None, previous: RecordSet | None
    ) -> _Op:
        try:
            rdtype = dns.rdatatype.from_text(key.type)
            owner = origin if key.name == APEX else dns.name.from_text(key.name, origin=origin)
        except dns.exception.DNSException as exc:
            raise BackendError(f"invalid record set key {key} for zone {zone}: {exc}", retryable=False) from exc
        if rdtype == dns.rdatatype.SOA:
            raise BackendError(f"the SOA of zone {zone} is managed through the SOA settings", retryable=False)
        if not owner.is_subdomain(origin):
            raise BackendError(f"record set {key} is outside zone {zone}", retryable=False)
        return _Op(
            key,
            owner,
            rdtype,
            None if new is None else _rdataset(zone, new, new.ttl),
            # RFC 2136 3.2.3: a value-dependent prerequisite carries TTL zero; the RRset must match exactly.
            None if previous is None else _rdataset(zone, previous, 0),
            new,
        )

    def _soa_op(self, origin: dns.name.Name, current: ZoneContent, soa: SOASettings) -> _Op:
        """Replace the SOA fields, requiring the SOA exactly as last read (any write since then is drift).

        BIND ignores an SOA update whose serial is not higher than the current one, so the new SOA
        carries the next serial: the same one BIND would have picked for this update anyway.
        """
        if current.soa is None:
            raise BackendError(f"zone {origin} has no SOA as last read", retryable=False)
        new_soa = soa_rdata(soa, (current.serial + 1) % SERIAL_MODULO)
        old_soa = soa_rdata(current.soa, current.serial)
        return _Op(
            SOA_KEY,
            origin,
            dns.rdatatype.SOA,
            dns.rdataset.from_rdata(soa.ttl, new_soa),
            dns.rdataset.from_rdata(0, old_soa),
        )

    def _message(self, origin: dns.name.Name, ops: Sequence[_Op]) -> dns.update.UpdateMessage:
        msg = dns.update.UpdateMessage(
            origin, keyring=self._keyring, keyname=self._keyname, keyalgorithm=self.tsig_algorithm
        )
        for op in ops:
            op.add_to(msg)
        return msg

    def _batches(self, origin: dns.name.Name, ops: Sequence[_Op]) -> list[list[_Op]]:
        """``ops`` in order, cut greedily wherever the signed wire form would pass max_message_bytes.

        An op too big on its own still goes alone; the server decides whether to take it.
        """
        batches: list[list[_Op]] = []
        batch: list[_Op] = []
        msg = self._message(origin, ())
        for op in ops:
            op.add_to(msg)
            if batch and len(msg.to_wire()) > self.max_message_bytes:
                batches.append(batch)
                batch = []
                msg = self._message(origin, (op,))
            batch.append(op)
        if batch:
            batches.append(batch)
        return batches

    # -- sending ------------------------------------------------------------------------------

    def _send(self, origin: dns.name.Name, batch: list[_Op], run: _Run) -> None:
        """Send one UPDATE; on REFUSED bisect so that one bad RRset does not hold back the others."""
        rcode = self._update(run.zone, self._message(origin, batch))
        if rcode == dns.rcode.NOERROR:
            run.applied.extend(batch)
            run.messages += 1
            return
        if rcode in _DRIFT:
            raise DriftDetected(
                f"zone {run.zone} changed on the server since it was last read ({dns.rcode.to_text(rcode)}): "
                f"{len(run.applied)} record set changes were applied before, the rest not; read it again"
            )
        if rcode in _PER_RECORD:
            if not run.probed:
                # An empty signed UPDATE tells a zone-wide failure (key not allowed, zone not ours,
                # server in trouble) from one the server had with some record set (BIND answers
                # SERVFAIL to an RRset over max-records-per-type); the server changes nothing for it.
                run.probed = True
                probe = self._update(run.zone, self._message(origin, ()))
                if probe != dns.rcode.NOERROR:
                    raise BackendError(
                        f"server refused updates to zone {run.zone} ({dns.rcode.to_text(probe)})",
                        retryable=probe != dns.rcode.REFUSED,
                    )
            if len(batch) == 1:
                log.warning("server refused %s in zone %s (%s)", batch[0].key, run.zone, dns.rcode.to_text(rcode))
                run.refused[batch[0].key] = dns.rcode.to_text(rcode)
                return
            half = len(batch) // 2
            self._send(origin, batch[:half], run)
            self._send(origin, batch[half:], run)
            return
        if rcode == dns.rcode.NOTAUTH and self._query_soa(run.zone) is None:
            raise ZoneMissing(run.zone)  # removed since we last read it
        raise BackendError(
            f"update of zone {run.zone} failed with {dns.rcode.to_text(rcode)}", retryable=rcode not in _FATAL
        )

    def _update(self, zone: str, msg: dns.update.UpdateMessage) -> dns.rcode.Rcode:
        self.stats.wrote()
        try:
            response = dns.query.tcp(msg, self.server, timeout=self.timeout, port=self.port)
        except Exception as exc:
            raise self._transport_error("update", zone, exc) from exc
        log.debug("update of zone %s: %s", zone, dns.rcode.to_text(response.rcode()))
        return response.rcode()

    def _query_soa(self, zone: str) -> _Soa | None:
        """The zone's SOA as served, or None when the server is not authoritative for ``zone``."""
        origin = _origin(zone)
        query = dns.message.make_query(origin, dns.rdatatype.SOA)
        query.use_tsig(self._keyring, keyname=self._keyname, algorithm=self.tsig_algorithm)
        try:
            response, _ = dns.query.udp_with_fallback(query, self.server, timeout=self.timeout, port=self.port)
        except Exception as exc:
            raise self._transport_error("SOA query", zone, exc) from exc
        rcode = response.rcode()
        if rcode in _MISSING:
            return None
        if rcode != dns.rcode.NOERROR:
            raise BackendError(f"SOA query for zone {zone} failed with {dns.rcode.to_text(rcode)}")
        for rrset in response.answer:
            if rrset.name == origin and rrset.rdtype == dns.rdatatype.SOA and len(rrset):
                rdata = rrset[0]
                assert isinstance(rdata, SOA)
                return _Soa(rdata.serial)
        return None  # a name inside some other zone, not a zone apex

    def _read_back(self, zone: str, before: ZoneContent) -> ZoneContent:
        """The zone as served now: an IXFR since ``before``'s serial applied to ``before``, which is
        every change since, ours and anyone else's, in the server's own words. The whole zone when
        the server answers with it, or (by AXFR) when the differences do not apply to ``before``."""
        self.stats.incremental_reads += 1
        try:
            messages = self._xfr(zone, dns.rdatatype.IXFR, before.serial)
            # The signer's records are not the zone's content (see the module): dropped before the
            # differences are applied, so a re-signing is a change of serial and nothing else.
            answer = [rrset for m in messages for rrset in m.answer if rrset.rdtype not in _SIGNER_RDTYPES]
            transferred = content_after(_origin(zone), before, answer)
        except NotIncremental as exc:
            log.info("zone %s: IXFR from serial %s does not apply (%s); transferring it", zone, before.serial, exc)
            return self._transfer(zone)
        if transferred.whole_zone:
            self.stats.full_reads += 1
        return transferred.content

    def _transfer(self, zone: str) -> ZoneContent:
        self.stats.full_reads += 1
        messages = self._xfr(zone, dns.rdatatype.AXFR)
        try:
            return _without_dnssec(zone_content(dns.zone.from_xfr(iter(messages), relativize=True)))
        except Exception as exc:
            raise self._transport_error("zone transfer", zone, exc) from exc

    def _xfr(self, zone: str, kind: dns.rdatatype.RdataType, serial: int = 0) -> list[dns.message.Message]:
        """Every message of a signed zone transfer (AXFR, or IXFR from ``serial``), names relative to
        the zone. An IXFR the server does not do, or whose answer breaks the rules (dnspython checks
        that its differences chain from ``serial``), raises NotIncremental; any other failure BackendError."""
        try:
            return list(
                dns.query.xfr(
                    self.server,
                    _origin(zone),
                    rdtype=kind,
                    timeout=self.timeout,
                    port=self.port,
                    keyring=self._keyring,
                    keyname=self._keyname,
                    keyalgorithm=self.tsig_algorithm,
                    relativize=True,
                    serial=serial,
                )
            )
        except dns.xfr.TransferError as exc:
            if kind == dns.rdatatype.IXFR and exc.rcode in (dns.rcode.NOTIMP, dns.rcode.FORMERR):
                raise NotIncremental(f"the server does not do IXFR ({dns.rcode.to_text(exc.rcode)})") from exc
            retryable = exc.rcode not in (dns.rcode.REFUSED, dns.rcode.NOTAUTH)
            raise BackendError(
                f"zone transfer of {zone} failed with {dns.rcode.to_text(exc.rcode)}", retryable=retryable
            ) from exc
        except dns.exception.FormError as exc:
            # SerialWentBackwards is one: the zone was made again with a lower serial.
            if kind == dns.rdatatype.IXFR:
                raise NotIncremental(f"{type(exc).__name__}: {exc}") from exc
            raise self._transport_error("zone transfer", zone, exc) from exc
        except Exception as exc:
            raise self._transport_error("zone transfer", zone, exc) from exc

    def _transport_error(self, what: str, zone: str, exc: Exception) -> BackendError:
        where = f"{self.server} port {self.port}"
        if isinstance(exc, dns.tsig.PeerBadKey):
            return BackendError(
                f"{what} for zone {zone}: {where} does not know TSIG key {self.tsig_name} (BADKEY)", retryable=False
            )
        if isinstance(exc, dns.tsig.PeerBadSignature):
            return BackendError(
                f"{what} for zone {zone}: {where} rejected the signature of TSIG key {self.tsig_name} (BADSIG); "
                "wrong secret or algorithm",
                retryable=False,
            )
        if isinstance(exc, dns.tsig.PeerError):
            return BackendError(
                f"{what} for zone {zone}: {where} rejected TSIG ({type(exc).__name__})", retryable=False
            )
        if isinstance(exc, dns.exception.Timeout):
            return BackendError(f"{what} for zone {zone}: {where} timed out after {self.timeout}s")
        if isinstance(exc, OSError | EOFError):
            return BackendError(f"{what} for zone {zone}: cannot reach {where}: {type(exc).__name__}")
        if isinstance(exc, dns.exception.DNSException):
            return BackendError(f"{what} for zone {zone}: bad answer from {where}: {type(exc).__name__}")
        return BackendError(f"{what} for zone {zone} at {where} failed: {type(exc).__name__}")


@dataclass(frozen=True)
class _Soa:
    serial: int


def _origin(zone: str) -> dns.name.Name:
    return dns.name.from_text(zone, origin=dns.name.root)


def _without_dnssec(content: ZoneContent) -> ZoneContent:
    """``content`` without the signer's record sets (DNSSEC_TYPES and BIND's signing state)."""
    kept = {key: rs for key, rs in content.record_sets.items() if rs.type not in _SIGNER_TYPES}
    return ZoneContent(content.serial, kept, content.soa)


def served_dnssec(zone: dns.zone.Zone, now: int) -> DnssecState:
    """What a transferred zone (names relative to its origin) says of its signing, as of ``now``.

    Signed when the apex holds DNSKEYs and every RRset that needs a signature has one by one of
    them that has not expired: everything at or above a delegation point but the delegation's NS
    (RFC 4035 section 2.2), nothing below one (glue), and the denial records too (NSEC, or NSEC3
    with NSEC3PARAM at the apex). A zone so signed is then validated RRset by RRset against its
    DNSKEY set (``signing.validation_problems``); what fails is the state's ``problem``. Changes
    ``zone`` (BIND's signing-state records are dropped from it).
    """
    assert zone.origin is not None
    origin = zone.origin
    apex = zone.get_node(dns.name.empty)
    keys = apex.get_rdataset(dns.rdataclass.IN, dns.rdatatype.DNSKEY) if apex is not None else None
    if keys is None or not len(keys):
        return DnssecState(signed=False)
    sep = [rd for rd in keys if isinstance(rd, DNSKEY) and rd.flags & SEP]
    tags = {dns.dnssec.key_id(rd) for rd in keys if isinstance(rd, DNSKEY)}
    delegations = {
        name
        for name, node in zone.nodes.items()
        if name != dns.name.empty and node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.NS) is not None
    }
    earliest: int | None = None
    complete = True
    denial = False
    for name, node in zone.nodes.items():
        if any(name != cut and name.is_subdomain(cut) for cut in delegations):
            continue  # glue: not the zone's data, not signed
        signed_types: set[dns.rdatatype.RdataType] = set()
        for rds in node:
            if rds.rdtype != dns.rdatatype.RRSIG:
                continue
            for sig in rds:
                assert isinstance(sig, RRSIG)
                if sig.key_tag in tags and sig.expiration > now:
                    signed_types.add(sig.type_covered)
                earliest = sig.expiration if earliest is None else min(earliest, sig.expiration)
        for rds in node:
            if rds.rdtype in (dns.rdatatype.RRSIG, BIND_SIGNING_STATE) or (
                name in delegations and rds.rdtype == dns.rdatatype.NS
            ):
                continue  # BIND's signing state is for BIND alone, not served to resolvers
            denial = denial or rds.rdtype in (dns.rdatatype.NSEC, dns.rdatatype.NSEC3)
            if rds.rdtype not in signed_types:
                complete = False
    if apex is not None and apex.get_rdataset(dns.rdataclass.IN, dns.rdatatype.NSEC3PARAM) is None:
        # An NSEC3 chain is only used once its NSEC3PARAM is there; NSEC records alone will do.
        denial = denial and any(
            node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.NSEC) is not None for node in zone.nodes.values()
        )
    if not (complete and denial):
        return DnssecState(signed=False)
    # Served in full: now the cryptography, as a validator would check it (BIND's signing state,
    # never served to resolvers, is left out).
    for node in zone.nodes.values():
        node.delete_rdataset(dns.rdataclass.IN, BIND_SIGNING_STATE)
    problems = validation_problems(zone, now)
    return DnssecState(
        signed=True,
        dnskeys=tuple(rd.to_text() for rd in sep),
        ds=tuple(dns.dnssec.make_ds(origin, rd, "SHA256").to_text() for rd in sep),
        signatures_expire=earliest,
        problem="; ".join(problems) or None,
    )


IGNORED = (
    "accepted but not served: the server ignores such an update without an error, as RFC 2136 3.4.2.2 "
    "has it for a CNAME beside other data or other data beside a CNAME"
)


def _ignored(run: _Run, before: ZoneContent, served: ZoneContent) -> dict[RecordKey, str]:
    """The changes the server answered NOERROR to yet does not serve after them.

    Only when nobody else wrote meanwhile (the serial rose by exactly one per UPDATE taken) can a
    difference be put down to the server itself; otherwise nothing is said here, and the caller,
    comparing what is served with what it meant, sees the difference and reads again.
    """
    if served.serial != (before.serial + run.messages) % SERIAL_MODULO:
        return {}
    ignored: dict[RecordKey, str] = {}
    for op in run.applied:
        if op.key == SOA_KEY:
            continue
        now = served.record_sets.get(op.key)
        if (now is not None) if op.sent is None else (now != op.sent):
            ignored[op.key] = IGNORED
    return ignored


def _rdataset(zone: str, rs: RecordSet, ttl: int) -> dns.rdataset.Rdataset:
    rdtype = dns.rdatatype.from_text(rs.type)
    if not rs.rdata:
        raise BackendError(f"record set {rs.key} in zone {zone} has no data", retryable=False)
    try:
        # relativize=False with the root as origin: the canonical texts hold absolute host names.
        rdatas = [dns.rdata.from_text(IN, rdtype, text, origin=dns.name.root, relativize=False) for text in rs.rdata]
    except (dns.exception.DNSException, ValueError) as exc:
        raise BackendError(f"record set {rs.key} in zone {zone} has invalid data: {exc}", retryable=False) from exc
    return dns.rdataset.from_rdata_list(ttl, rdatas)
