"""The three DNS backends as targets of one conformance suite, each behind the ``Backend`` interface.

A target builds backend objects against its server (a zone-file directory, a BIND 9 named with the
rndc provisioner, a PowerDNS), reads what is served without the backend's code (a dnspython zone
transfer from the servers, dnspython parsing the file), and changes zones around the backend the
way someone else would, each in the way that backend has the hardest time noticing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import dns.tsig
import dns.tsigkeyring
import dns.update
import dns.xfr
import dns.zone

from harness.bind import RNDC, RNDC_KEY_NAME, TEST_DNSSEC_POLICIES, BindServer
from harness.dns_targets import wrong_secret
from harness.powerdns import PowerDNSServer
from siteplane.dns.backend import Backend, ZoneContent
from siteplane.dns.content import zone_content
from siteplane.dns.powerdns import PowerDNSBackend
from siteplane.dns.rfc2136 import RFC2136Backend
from siteplane.dns.rndc import RndcZoneProvisioner
from siteplane.dns.zonefile import ZoneFileBackend
from siteplane.domain.changes import ChangeSet
from siteplane.domain.names import fqdn
from siteplane.domain.records import RecordKey, RecordSet, canonical_rdata, record_set

# What the divergence arrangements of every target write and change.
KEEP = record_set("keep", "A", 300, ["192.0.2.1"])
KEPT_OTHERWISE = record_set("keep", "A", 300, ["192.0.2.9"])  # as long as KEEP's text: an edit in place
OTHER = record_set("other", "A", 300, ["192.0.2.7"])


class Target(Protocol):
    kind: str

    def backend(self) -> Backend:
        """A new backend object (nothing cached, counters at zero) for this target's server."""
        ...

    def backend_with_wrong_credentials(self) -> Backend | None:
        """A backend whose credentials the server refuses; None when this kind takes no credentials."""
        ...

    def secrets(self) -> list[str]:
        """Every credential the backends are given."""
        ...

    def new_zone(self) -> str: ...

    def served(self, zone: str) -> ZoneContent | None:
        """The whole zone as served, read without the backend's code; None when it is not served."""
        ...

    def answer(self, zone: str, key: RecordKey) -> RecordSet | None:
        """One record set as a client asking the server gets it (for zone files: from the file)."""
        ...

    def change_behind(self, zone: str, before: RecordSet, after: RecordSet) -> None:
        """Replace ``before`` with ``after`` around the backend, as quietly as this kind allows."""
        ...

    def diverge_on_next_write(self, zone: str) -> ChangeSet:
        """Arrange that the zone (holding KEEP) ends up serving something else than the write of the
        returned change set asks for, with nothing the backend's own state could tell it."""
        ...

    def remove_behind(self, zone: str) -> None:
        """Remove the zone around the backend."""
        ...

    def stop(self) -> None: ...

    def start(self) -> None: ...


def _zone_name() -> str:
    return f"z{uuid.uuid4().hex[:12]}.test"


def _transfer(
    address: str, port: int, zone: str, keyring: dict[dns.name.Name, dns.tsig.Key] | None
) -> ZoneContent | None:
    """An AXFR by dnspython alone; None when the server does not serve the zone."""
    try:
        messages = dns.query.xfr(address, zone + ".", port=port, keyring=keyring, timeout=5, relativize=True)
        return zone_content(dns.zone.from_xfr(messages, relativize=True))
    except dns.xfr.TransferError as error:
        if error.rcode in (dns.rcode.REFUSED, dns.rcode.NOTAUTH):
            return None
        raise


def _ask(address: str, port: int, zone: str, key: RecordKey) -> RecordSet | None:
    """The record set a plain query gets: from the answer, or from the authority section for a delegation."""
    owner = dns.name.from_text(fqdn(key.name, zone), origin=dns.name.root)
    response = dns.query.tcp(dns.message.make_query(owner, key.type), address, port=port, timeout=5)
    rdtype = dns.rdatatype.from_text(key.type)
    for rrset in (*response.answer, *response.authority):
        if rrset.name == owner and rrset.rdtype == rdtype:
            texts = tuple(canonical_rdata(rdtype, rd.to_text()) for rd in rrset)
            return RecordSet(key.name, key.type, rrset.ttl, texts)
    return None


def _zone_line(rs: RecordSet) -> bytes:
    """The line dnspython renders for a one-value record set with a zone-relative owner."""
    assert len(rs.rdata) == 1
    return f"{rs.name} {rs.ttl} IN {rs.type} {rs.rdata[0]}\n".encode()


def edit_in_place(path: Path, old: bytes, new: bytes) -> None:
    """Replace ``old`` by ``new`` (as long) inside the file itself: inode, size and mtime stay as they were."""
    assert len(old) == len(new)
    before = path.stat()
    data = path.read_bytes()
    assert data.count(old) == 1, (old, data)
    with path.open("r+b") as file:
        file.write(data.replace(old, new))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = path.stat()
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == (before.st_ino, before.st_size, before.st_mtime_ns)


# Stands in for the DNS server that loads the zone files (the reload command, e.g. `rndc reload`):
# refuses while "down" exists; makes an edit described in "edit.json" once, in place, keeping the
# file's inode, size and mtime, as a hook or another writer could right after a write.
_SERVER_HOOK = """\
import json, os, pathlib, sys
state, directory, zone = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), sys.argv[3]
if (state / "down").exists():
    sys.stderr.write("rndc: connect failed: 127.0.0.1#953: connection refused\\n")
    sys.exit(1)
edit = state / "edit.json"
if edit.exists():
    old, new = (text.encode() for text in json.loads(edit.read_text()))
    edit.unlink()
    path = directory / f"{zone}.zone"
    before, data = path.stat(), path.read_bytes()
    with path.open("r+b") as file:
        file.write(data.replace(old, new))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
"""


@dataclass
class ZoneFileTarget:
    directory: Path
    state: Path
    kind: str = "zonefile"

    def __post_init__(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.state.mkdir(parents=True, exist_ok=True)
        (self.state / "server.py").write_text(_SERVER_HOOK)

    def reload_command(self) -> list[str]:
        """The stand-in server's reload command (the zone name is appended by the backend)."""
        return [sys.executable, str(self.state / "server.py"), str(self.state), str(self.directory)]

    def edit_after_next_write(self, old: str, new: str) -> None:
        """Have the next reload replace ``old`` by ``new`` (as long) in the file, in place."""
        (self.state / "edit.json").write_text(json.dumps([old, new]))

    def backend(self) -> Backend:
        return ZoneFileBackend(self.directory, reload_command=self.reload_command())

    def backend_with_wrong_credentials(self) -> Backend | None:
        return None

    def secrets(self) -> list[str]:
        return []

    def new_zone(self) -> str:
        return _zone_name()

    def _path(self, zone: str) -> Path:
        return self.directory / f"{zone}.zone"

    def _zone(self, zone: str) -> dns.zone.Zone | None:
        path = self._path(zone)
        return dns.zone.from_file(str(path), origin=zone + ".", relativize=True) if path.exists() else None

    def served(self, zone: str) -> ZoneContent | None:
        parsed = self._zone(zone)
        return None if parsed is None else zone_content(parsed)

    def answer(self, zone: str, key: RecordKey) -> RecordSet | None:
        served = self.served(zone)
        return None if served is None else served.record_sets.get(key)

    def change_behind(self, zone: str, before: RecordSet, after: RecordSet) -> None:
        edit_in_place(self._path(zone), _zone_line(before), _zone_line(after))

    def diverge_on_next_write(self, zone: str) -> ChangeSet:
        # The server hook changes KEEP in the file right after the write, before the read-back.
        self.edit_after_next_write(_zone_line(KEEP).decode(), _zone_line(KEPT_OTHERWISE).decode())
        return ChangeSet(upserts=(OTHER,))

    def remove_behind(self, zone: str) -> None:
        self._path(zone).unlink()

    def stop(self) -> None:
        (self.state / "down").touch()

    def start(self) -> None:
        (self.state / "down").unlink(missing_ok=True)


@dataclass
class BindTarget:
    server: BindServer
    kind: str = "rfc2136"
    _wrong: str = field(default_factory=wrong_secret)

    def _keyring(self) -> dict[dns.name.Name, dns.tsig.Key]:
        return dns.tsigkeyring.from_text({self.server.tsig_name: (self.server.tsig_algorithm, self.server.tsig_secret)})

    def provisioner(self) -> RndcZoneProvisioner:
        """The rndc provisioner, with the harness's short-lived test dnssec-policies."""
        return RndcZoneProvisioner(
            server=self.server.address,
            port=self.server.control_port,
            key_name=RNDC_KEY_NAME,
            key_secret=self.server.rndc_secret,
            seed_directory=self.server.zone_dir,
            server_directory=str(self.server.zone_dir),
            update_key_name=self.server.tsig_name,
            rndc_command=RNDC,
            dnssec_policies=TEST_DNSSEC_POLICIES,
        )

    def _backend(self, tsig_secret: str) -> RFC2136Backend:
        provisioner = self.provisioner()
        return RFC2136Backend(
            self.server.address,
            self.server.port,
            self.server.tsig_name,
            tsig_secret,
            self.server.tsig_algorithm,
            timeout=3.0,
            zone_creator=provisioner.create,
            zone_remover=provisioner.remove,
            zone_signer=provisioner.set_signing,
        )

    def backend(self) -> Backend:
        return self._backend(self.server.tsig_secret)

    def backend_with_wrong_credentials(self) -> Backend | None:
        return self._backend(self._wrong)

    def secrets(self) -> list[str]:
        return [self.server.tsig_secret, self.server.rndc_secret, self._wrong]

    def new_zone(self) -> str:
        return _zone_name()

    def served(self, zone: str) -> ZoneContent | None:
        return _transfer(self.server.address, self.server.port, zone, self._keyring())

    def answer(self, zone: str, key: RecordKey) -> RecordSet | None:
        return _ask(self.server.address, self.server.port, zone, key)

    def _update(self, zone: str, *changes: RecordSet) -> None:
        update = dns.update.UpdateMessage(zone + ".", keyring=self._keyring(), keyalgorithm=self.server.tsig_algorithm)
        for rs in changes:
            update.replace(dns.name.from_text(fqdn(rs.name, zone) + "."), rs.ttl, rs.type, *rs.rdata)
        response = dns.query.tcp(update, self.server.address, port=self.server.port, timeout=5)
        assert response.rcode() == dns.rcode.NOERROR, dns.rcode.to_text(response.rcode())

    def change_behind(self, zone: str, before: RecordSet, after: RecordSet) -> None:
        self._update(zone, after)  # a signed UPDATE from someone else: the serial moves

    def diverge_on_next_write(self, zone: str) -> ChangeSet:
        # RFC 2136 section 3.4.2.2: a CNAME added where other data exists (KEEP's A) is ignored, yet
        # the UPDATE is answered NOERROR and the serial moves for the rest of it.
        return ChangeSet(upserts=(record_set(KEEP.name, "CNAME", 300, ["target.example.net"]), OTHER))

    def remove_behind(self, zone: str) -> None:
        self.server.delete_zone(zone)

    def stop(self) -> None:
        self.server.stop()

    def start(self) -> None:
        self.server.start()


@dataclass
class PowerDNSTarget:
    server: PowerDNSServer
    kind: str = "powerdns"
    _wrong: str = field(default_factory=lambda: uuid.uuid4().hex)

    def backend(self) -> Backend:
        return PowerDNSBackend(self.server.api_url, self.server.api_key, self.server.server_id, timeout=5.0)

    def backend_with_wrong_credentials(self) -> Backend | None:
        return PowerDNSBackend(self.server.api_url, self._wrong, self.server.server_id, timeout=5.0)

    def secrets(self) -> list[str]:
        return [self.server.api_key, self._wrong]

    def new_zone(self) -> str:
        return _zone_name()

    def served(self, zone: str) -> ZoneContent | None:
        # PowerDNS hands out zones by AXFR to loopback (allow-axfr-ips' default).
        return _transfer(self.server.address, self.server.port, zone, None)

    def answer(self, zone: str, key: RecordKey) -> RecordSet | None:
        return _ask(self.server.address, self.server.port, zone, key)

    def change_behind(self, zone: str, before: RecordSet, after: RecordSet) -> None:
        rrset = {
            "name": fqdn(after.name, zone) + ".",
            "type": after.type,
            "ttl": after.ttl,
            "changetype": "REPLACE",
            "records": [{"content": text, "disabled": False} for text in after.rdata],
        }
        path = f"/api/v1/servers/{self.server.server_id}/zones/{zone}."
        status, payload = self.server.api("PATCH", path, {"rrsets": [rrset]})  # soa_edit_api moves the serial
        assert status == 204, (status, payload)

    def pdnsutil(self, *args: str) -> None:
        """pdnsutil on the server's own database, as the account the server runs as."""
        owner = self.server.database.stat()
        done = subprocess.run(
            ["pdnsutil", f"--config-dir={self.server.workdir}", *args],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
            user=owner.st_uid if os.geteuid() == 0 else None,
            group=owner.st_gid if os.geteuid() == 0 else None,
        )
        assert done.returncode == 0, done.stdout + done.stderr

    def diverge_on_next_write(self, zone: str) -> ChangeSet:
        # Changed in the database by other means than the API: the serial stays, so no probe sees it.
        self.pdnsutil("replace-rrset", zone, KEEP.name, KEEP.type, str(KEEP.ttl), *KEPT_OTHERWISE.rdata)
        return ChangeSet(upserts=(OTHER,))

    def remove_behind(self, zone: str) -> None:
        status, payload = self.server.api("DELETE", f"/api/v1/servers/{self.server.server_id}/zones/{zone}.")
        assert status == 204, (status, payload)

    def stop(self) -> None:
        self.server.stop()

    def start(self) -> None:
        self.server.start()
