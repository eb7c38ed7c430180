"""An IXFR answer (RFC 1995) read onto the zone content known at the serial it was asked from.

The answer is the server's own account of the zone: its current SOA first and last, and between
them either nothing (nothing changed since that serial), a chain of differences (each the old SOA,
the records deleted, the new SOA, the records added), or the whole zone when the server prefers to
send that (AXFR-style; BIND does when the differences would not be smaller than the zone).

dnspython's transfer state machine (``dns.xfr.Inbound``, run by ``dns.query.xfr``) has checked the
answer's structure, that its differences chain from the serial asked for, and its TSIG, before
these records get here. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import dns.name
import dns.rdatatype
import dns.rrset
from dns.rdtypes.ANY.SOA import SOA

from siteplane.dns.backend import SOASettings, ZoneContent
from siteplane.dns.content import owner_text, rdata_texts, soa_settings
from siteplane.domain.names import APEX
from siteplane.domain.records import RecordKey, RecordSet


class NotIncremental(Exception):
    """No differences to apply to the content they were asked against: they delete a record that
    content does not hold (so it was not the zone at its serial), or the server gave none. Read the
    whole zone."""


@dataclass(frozen=True)
class Transferred:
    content: ZoneContent
    whole_zone: bool  # the server sent every record (AXFR-style), not differences


def content_after(origin: dns.name.Name, base: ZoneContent, answer: Sequence[dns.rrset.RRset]) -> Transferred:
    """The zone the answer describes: ``base`` with the differences applied, or the whole zone sent.

    ``answer`` holds the answer sections' RRsets in order, one record each and names relative to
    ``origin`` (``dns.query.xfr`` with ``relativize=True`` parses IXFR answers so).
    """
    current = _soa(answer[0], origin)
    if current is None:
        raise ValueError("an IXFR answer starts with the zone's SOA")
    serial, settings = current
    if len(answer) == 1:  # up to date
        return Transferred(ZoneContent(serial, base.record_sets, settings), whole_zone=False)
    body = answer[1:-1]
    whole_zone = not body or _soa(body[0], origin) is None
    sets = _Sets({} if whole_zone else base.record_sets)
    deleting = False
    for rrset in body:
        if not whole_zone and _soa(rrset, origin) is not None:
            # Each difference opens with its old SOA (deletions follow) and turns at its new SOA.
            deleting = not deleting
            continue
        if deleting:
            sets.delete(origin, rrset)
        else:
            sets.add(origin, rrset)
    return Transferred(ZoneContent(serial, sets.result(), settings), whole_zone)


class _Sets:
    """Record sets being changed record by record; only the sets touched are rebuilt."""

    def __init__(self, base: Mapping[RecordKey, RecordSet]) -> None:
        self._base = base
        self._touched: dict[RecordKey, tuple[int, set[str]]] = {}

    def _get(self, key: RecordKey) -> tuple[int, set[str]]:
        if key not in self._touched:
            known = self._base.get(key)
            self._touched[key] = (known.ttl, set(known.rdata)) if known else (0, set())
        return self._touched[key]

    def delete(self, origin: dns.name.Name, rrset: dns.rrset.RRset) -> None:
        key, texts = _key(rrset), rdata_texts(origin, rrset)
        _, held = self._get(key)
        if not held.issuperset(texts):
            raise NotIncremental(f"the differences delete {key} data that was not there")
        held.difference_update(texts)

    def add(self, origin: dns.name.Name, rrset: dns.rrset.RRset) -> None:
        key = _key(rrset)
        _, held = self._get(key)
        held.update(rdata_texts(origin, rrset))
        # One TTL per RRset: the one added last is the set's (a server changes it for the whole set).
        self._touched[key] = (rrset.ttl, held)

    def result(self) -> dict[RecordKey, RecordSet]:
        records = dict(self._base)
        for key, (ttl, texts) in self._touched.items():
            if texts:
                records[key] = RecordSet(key.name, key.type, ttl, tuple(texts))
            else:
                records.pop(key, None)
        return records


def _key(rrset: dns.rrset.RRset) -> RecordKey:
    return RecordKey(owner_text(rrset.name), dns.rdatatype.to_text(rrset.rdtype))


def _soa(rrset: dns.rrset.RRset, origin: dns.name.Name) -> tuple[int, SOASettings] | None:
    """(serial, settings) when ``rrset`` is the zone's own SOA, else None."""
    if rrset.rdtype != dns.rdatatype.SOA or owner_text(rrset.name) != APEX:
        return None
    rdata = rrset[0]
    assert isinstance(rdata, SOA)
    return rdata.serial, soa_settings(origin, rdata, rrset.ttl)
