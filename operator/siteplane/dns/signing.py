"""DNSSEC signing inside siteplane, for backends that serve files (the zone-file backend).

A zone is signed whole, on every write, with one combined signing key (flags 257, algorithm 13,
ECDSA P-256 with SHA-256): the DNSKEY at the apex, an RRSIG over every authoritative RRset, and
a denial-of-existence chain. NSEC3 (RFC 5155) with the parameters RFC 9276 asks for: SHA-1, no
opt-out, 0 extra iterations and an empty salt; or NSEC (RFC 4034), which dnspython builds itself.
dnspython's ``sign_zone`` does not build NSEC3 chains, so the chain is built here.

Names below a zone cut (NS at a name other than the apex) are not authoritative: the cut's NS
RRset and glue are neither signed nor get a chain entry of their own, the cut itself does (RFC
4035 section 2.2, RFC 5155 section 7.1). Empty non-terminals get an NSEC3 with an empty bitmap.

Nothing here does I/O. Private keys are only ever handed in (``SigningKey``) and never put into
an error message.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Literal

import dns.dnssec
import dns.exception
import dns.name
import dns.node
import dns.rdata
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.rrset
import dns.zone
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from dns.rdtypes.ANY.DNSKEY import DNSKEY
from dns.rdtypes.ANY.NSEC3 import NSEC3
from dns.rdtypes.ANY.NSEC3PARAM import NSEC3PARAM
from dns.rdtypes.ANY.RRSIG import RRSIG
from dns.rdtypes.util import Bitmap

from siteplane.dns.backend import DNSSEC_TYPES, BackendError, DnssecSettings, DnssecState, SigningKey

ECDSAP256SHA256 = 13
SEP_FLAGS = 257
NSEC3_SHA1 = 1
NSEC3_ITERATIONS = 0  # RFC 9276 section 3.1: no extra iterations
NSEC3_SALT = b""  # RFC 9276 section 3.1: no salt
INCEPTION_SLACK = 3600  # signatures valid from an hour ago: validators' clocks run behind too

_CHAIN_TYPES = frozenset({dns.rdatatype.NSEC, dns.rdatatype.NSEC3})


def generate_key(now: float) -> SigningKey:
    """A new combined signing key: ECDSA P-256, flags 257 (SEP), for algorithm 13."""
    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return SigningKey(private_pem=pem, flags=SEP_FLAGS, algorithm=ECDSAP256SHA256, created=int(now))


def _private(key: SigningKey) -> ec.EllipticCurvePrivateKey:
    try:
        private = serialization.load_pem_private_key(key.private_pem, password=None)
    except (ValueError, TypeError):
        raise BackendError(
            "a DNSSEC signing key cannot be read (not an unencrypted PKCS#8 PEM)", retryable=False
        ) from None
    if key.algorithm != ECDSAP256SHA256 or not isinstance(private, ec.EllipticCurvePrivateKey):
        raise BackendError(f"DNSSEC algorithm {key.algorithm} is not supported (only 13)", retryable=False)
    if not isinstance(private.curve, ec.SECP256R1):
        raise BackendError("a DNSSEC signing key for algorithm 13 must be on P-256", retryable=False)
    return private


def dnskey_of(key: SigningKey) -> DNSKEY:
    """The public DNSKEY of ``key``."""
    return dns.dnssec.make_dnskey(_private(key).public_key(), key.algorithm, key.flags)


def public_dnskeys(settings: DnssecSettings) -> frozenset[str]:
    """The DNSKEY rdata texts a zone signed with ``settings`` publishes."""
    return frozenset(dnskey_of(k).to_text() for k in settings.signing_keys)


@dataclass(frozen=True)
class Signature:
    """What a zone's served DNSSEC data says about how it is signed (None when it is unsigned)."""

    dnskeys: frozenset[str]  # every DNSKEY at the apex, rdata text
    denial: Literal["NSEC3", "NSEC"] | None  # the chain found (None: neither)
    expires: int | None  # earliest RRSIG expiration (None: no RRSIG)


def signature_of(zone: dns.zone.Zone) -> Signature | None:
    """How ``zone`` is signed, from its DNSKEY, NSEC3PARAM/NSEC and RRSIG records; None when unsigned
    (no DNSKEY at the apex, no RRSIG anywhere)."""
    assert zone.origin is not None
    apex = zone.get_node(dns.name.empty) or zone.get_node(zone.origin)
    dnskeys: frozenset[str] = frozenset()
    denial: Literal["NSEC3", "NSEC"] | None = None
    if apex is not None:
        if (keys := apex.get_rdataset(dns.rdataclass.IN, dns.rdatatype.DNSKEY)) is not None:
            dnskeys = frozenset(rd.to_text() for rd in keys)
        if apex.get_rdataset(dns.rdataclass.IN, dns.rdatatype.NSEC3PARAM) is not None:
            denial = "NSEC3"
        elif apex.get_rdataset(dns.rdataclass.IN, dns.rdatatype.NSEC) is not None:
            denial = "NSEC"
    expires: int | None = None
    for _, rdataset in zone.iterate_rdatasets():
        if rdataset.rdtype != dns.rdatatype.RRSIG:
            continue
        for rrsig in rdataset:
            assert isinstance(rrsig, RRSIG)
            expires = rrsig.expiration if expires is None else min(expires, rrsig.expiration)
    if not dnskeys and expires is None:
        return None
    return Signature(dnskeys, denial, expires)


def sign(
    zone: dns.zone.Zone, settings: DnssecSettings, inception: int, expiration: int, ttl: int, negative_ttl: int
) -> None:
    """Sign ``zone`` in place: DNSKEY (TTL ``ttl``), the denial chain (TTL ``negative_ttl``) and an
    RRSIG over every authoritative RRset. Any DNSSEC data already in it is dropped first."""
    if not settings.signing_keys:
        raise BackendError(f"zone {zone.origin} is to be signed but has no signing key", retryable=True)
    if settings.algorithm != ECDSAP256SHA256:
        raise BackendError(f"DNSSEC algorithm {settings.algorithm} is not supported (only 13)", retryable=False)
    keys = [(_private(k), dnskey_of(k)) for k in settings.signing_keys]
    strip(zone)
    assert zone.origin is not None
    origin = zone.origin
    if settings.denial == "NSEC":
        dns.dnssec.sign_zone(
            zone, keys=list(keys), add_dnskey=True, dnskey_ttl=ttl, inception=inception, expiration=expiration
        )
        return
    with zone.writer() as txn:
        for _, dnskey in keys:
            txn.add(dns.name.empty, ttl, dnskey)
        param = NSEC3PARAM(  # type: ignore[no-untyped-call]  # dnspython leaves rdata constructors unannotated
            dns.rdataclass.IN, dns.rdatatype.NSEC3PARAM, NSEC3_SHA1, 0, NSEC3_ITERATIONS, NSEC3_SALT
        )
        txn.add(dns.name.empty, negative_ttl, param)
    _add_nsec3_chain(zone, origin, negative_ttl)
    with zone.writer() as txn:
        for name, rdataset in list(zone.iterate_rdatasets()):
            if rdataset.rdtype == dns.rdatatype.RRSIG or not _authoritative(zone, name, rdataset.rdtype):
                continue
            rrset = dns.rrset.from_rdata_list(name, rdataset.ttl, list(rdataset))
            for private, dnskey in keys:
                rrsig = dns.dnssec.sign(
                    rrset,
                    private,
                    origin,
                    dnskey,
                    inception=inception,
                    expiration=expiration,
                    origin=origin,
                )
                txn.add(name, rdataset.ttl, rrsig)


def strip(zone: dns.zone.Zone) -> None:
    """Every DNSSEC record out of ``zone`` (signing afterwards starts from the content alone)."""
    with zone.writer() as txn:
        for name in list(txn.iterate_names()):
            node = txn.get_node(name)
            if node is None:
                continue
            for rdataset in list(node.rdatasets):
                if dns.rdatatype.to_text(rdataset.rdtype) in DNSSEC_TYPES:
                    txn.delete(name, rdataset.rdtype, rdataset.covers)


def _cut_above(zone: dns.zone.Zone, name: dns.name.Name) -> dns.name.Name | None:
    """The zone cut at or above ``name`` (relative), if any: a name below the apex holding NS."""
    candidate = name
    while len(candidate) > 0:
        node = zone.get_node(candidate)
        if node is not None and node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.NS) is not None:
            return candidate
        candidate = candidate.parent()
    return None


def _authoritative(zone: dns.zone.Zone, name: dns.name.Name, rdtype: dns.rdatatype.RdataType) -> bool:
    """Whether the RRset ``name``/``rdtype`` is signed: not glue below a cut, not a cut's NS."""
    cut = _cut_above(zone, name)
    if cut is None:
        return True
    return cut == name and rdtype == dns.rdatatype.DS


def hashed_owner(name: dns.name.Name, origin: dns.name.Name) -> dns.name.Name:
    """The relative owner of the NSEC3 record for ``name`` (relative to ``origin``)."""
    absolute = name.derelativize(origin)
    label = dns.dnssec.nsec3_hash(absolute, NSEC3_SALT, NSEC3_ITERATIONS, NSEC3_SHA1).lower()
    return dns.name.Name([label.encode()])


def chain_names(zone: dns.zone.Zone) -> dict[dns.name.Name, set[dns.rdatatype.RdataType]]:
    """Every name that gets an NSEC3 (relative), with the types its bitmap lists: each authoritative
    name and each cut with their types (and RRSIG where something there is signed), and every
    empty non-terminal with none."""
    names: dict[dns.name.Name, set[dns.rdatatype.RdataType]] = {}
    for name, node in list(zone.nodes.items()):
        types = {r.rdtype for r in node.rdatasets if r.rdtype not in _CHAIN_TYPES and r.rdtype != dns.rdatatype.RRSIG}
        if not types:
            continue
        cut = _cut_above(zone, name)
        if cut is not None and cut != name:
            continue  # glue and anything else below a cut
        if cut == name:
            types &= {dns.rdatatype.NS, dns.rdatatype.DS}
            if dns.rdatatype.DS in types:
                types.add(dns.rdatatype.RRSIG)
        else:
            types.add(dns.rdatatype.RRSIG)
        names[name] = types
        parent = name
        while len(parent) > 1:
            parent = parent.parent()
            names.setdefault(parent, set())
    names.setdefault(dns.name.empty, set())
    return names


def _add_nsec3_chain(zone: dns.zone.Zone, origin: dns.name.Name, ttl: int) -> None:
    entries = {hashed_owner(name, origin): types for name, types in chain_names(zone).items()}
    order = sorted(entries, key=lambda n: n.labels[0])
    with zone.writer() as txn:
        for i, owner in enumerate(order):
            following = order[(i + 1) % len(order)]
            nxt = base64.b32hexdecode(following.labels[0].upper())
            rdata = NSEC3(  # type: ignore[no-untyped-call]  # dnspython leaves rdata constructors unannotated
                dns.rdataclass.IN,
                dns.rdatatype.NSEC3,
                NSEC3_SHA1,
                0,
                NSEC3_ITERATIONS,
                NSEC3_SALT,
                nxt,
                Bitmap.from_rdtypes(sorted(entries[owner])).windows,
            )
            txn.add(owner, ttl, rdata)


def validation_problems(zone: dns.zone.Zone, now: float, limit: int = 5) -> list[str]:
    """Why ``zone`` does not validate against its own DNSKEY RRset (empty when it does): every
    authoritative RRset has an RRSIG that ``dns.dnssec.validate`` accepts at ``now``."""
    assert zone.origin is not None
    origin = zone.origin
    apex = zone.get_node(dns.name.empty)
    keyset = apex.get_rdataset(dns.rdataclass.IN, dns.rdatatype.DNSKEY) if apex else None
    if keyset is None:
        return ["no DNSKEY at the apex"]
    problems: list[str] = []
    # Signer names read from a relativized zone are relative too: the apex is the empty name.
    keys: dict[dns.name.Name, dns.node.Node | dns.rdataset.Rdataset] = {origin: keyset, dns.name.empty: keyset}
    for name, node in zone.nodes.items():
        for rdataset in node.rdatasets:
            if rdataset.rdtype == dns.rdatatype.RRSIG or not _authoritative(zone, name, rdataset.rdtype):
                continue
            where = f"{name.derelativize(origin)} {dns.rdatatype.to_text(rdataset.rdtype)}"
            sigs = node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.RRSIG, rdataset.rdtype)
            if sigs is None:
                problems.append(f"{where} has no RRSIG")
            else:
                try:
                    dns.dnssec.validate(
                        (name.derelativize(origin), rdataset),
                        (name.derelativize(origin), sigs),
                        keys,
                        origin=origin,
                        now=now,
                    )
                except dns.exception.ValidationFailure as failure:
                    problems.append(f"{where}: {failure}")
            if len(problems) >= limit:
                return problems
    return problems


def state_of(zone: dns.zone.Zone, now: float) -> DnssecState:
    """A zone's DNSSEC as served: SEP DNSKEYs, a SHA-256 DS for each, the earliest signature expiry,
    and why it does not validate (if it does not)."""
    signature = signature_of(zone)
    if signature is None:
        return DnssecState(signed=False)
    assert zone.origin is not None
    apex = zone.get_node(dns.name.empty)
    keyset = apex.get_rdataset(dns.rdataclass.IN, dns.rdatatype.DNSKEY) if apex else None
    sep = sorted((k for k in keyset or () if isinstance(k, DNSKEY) and k.flags & 1), key=lambda k: k.to_text())
    ds = tuple(dns.dnssec.make_ds(zone.origin, k, "SHA256").to_text() for k in sep)
    problems = validation_problems(zone, now)
    if signature.expires is not None and signature.expires <= now:
        problems.insert(0, f"signatures expired at {signature.expires} (Unix time)")
    if signature.denial is None:
        problems.append("no NSEC3 or NSEC chain")
    return DnssecState(
        signed=True,
        dnskeys=tuple(k.to_text() for k in sep),
        ds=ds,
        signatures_expire=signature.expires,
        problem="; ".join(problems) or None,
    )
