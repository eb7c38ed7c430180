"""The three kinds of DNS backend as test targets: how to configure one, ask it, tamper with it.

The behaviour suite runs the same cases against each. Answers come from the server itself over
DNS (dnspython queries to BIND or PowerDNS) or, for zone files, from parsing the file with
dnspython: never from the operator's own state. Tampering goes around the operator the way a
person would: nsupdate-style UPDATEs, PowerDNS API calls, or editing the zone file.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.tsigkeyring
import dns.update
import dns.zone
import yaml

from harness.bind import RNDC_KEY_NAME, BindServer
from harness.manifests import backend_doc
from harness.paths import BACKEND_EXAMPLES_DIR
from harness.powerdns import PowerDNSServer

Answer = set[str] | None  # rdata texts (absolute names); None when the zone is not served at all


def example(file: str, name: str, namespace: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The Secret and DNSBackend of a shipped example, renamed for one test: the Secret into
    ``namespace`` as ``<name>-credentials``, the DNSBackend as ``name``, its references to match."""
    docs = list(yaml.safe_load_all((BACKEND_EXAMPLES_DIR / file).read_text()))
    secret = next(d for d in docs if d["kind"] == "Secret")
    backend = next(d for d in docs if d["kind"] == "DNSBackend")
    secret["metadata"] = {"name": f"{name}-credentials", "namespace": namespace}
    backend["metadata"] = {"name": name}
    for ref in _secret_refs(backend["spec"]):
        ref |= {"namespace": namespace, "name": f"{name}-credentials"}
    return secret, backend


def _secret_refs(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        found = [v for k, v in node.items() if k.endswith(("secretRef", "SecretRef"))]
        return found + [ref for v in node.values() for ref in _secret_refs(v)]
    return []


def wrong_secret() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


class Target(Protocol):
    kind: str

    def manifests(self, name: str, namespace: str, *, wrong_key: bool = False) -> list[dict[str, Any]]:
        """The Secret(s) and the DNSBackend ``name`` (cluster-scoped) reading them from ``namespace``."""
        ...

    def secret_values(self) -> list[str]:
        """Every credential the operator is given: none may leak anywhere."""
        ...

    def answer(self, zone: str, name: str, rdtype: str) -> Answer: ...

    def ttl(self, zone: str, name: str, rdtype: str) -> int | None:
        """The TTL the record set is served with; None when it is not served."""
        ...

    def serves_zone(self, zone: str) -> bool: ...

    def tamper(self, zone: str, name: str, rdtype: str, values: list[str] | None, ttl: int = 300) -> None:
        """Replace (or with None delete) a record set behind the operator's back."""
        ...

    def stop(self) -> None: ...

    def start(self) -> None: ...


def _owner(zone: str, name: str) -> dns.name.Name:
    origin = dns.name.from_text(zone)
    return origin if name == "@" else dns.name.from_text(name, origin=origin)


def _texts(rrset: Any) -> set[str]:
    return {rd.to_text() for rd in rrset}


def _ask(address: str, port: int, zone: str, name: str, rdtype: str) -> tuple[Answer, int | None]:
    """The served record set's data and TTL; (None, None) when the zone is not served."""
    query = dns.message.make_query(_owner(zone, name), rdtype)
    response = dns.query.tcp(query, address, port=port, timeout=5)
    rcode = response.rcode()
    if rcode in (dns.rcode.REFUSED, dns.rcode.NOTAUTH, dns.rcode.SERVFAIL):
        return None, None
    for rrset in response.answer:
        if rrset.rdtype == dns.rdatatype.from_text(rdtype) and rrset.name == _owner(zone, name):
            return _texts(rrset), int(rrset.ttl)
    return set(), None


class _Server(Protocol):
    @property
    def address(self) -> str: ...

    @property
    def port(self) -> int: ...

    def start(self) -> Any: ...

    def stop(self) -> None: ...


class _ServerTarget:
    """What BIND and PowerDNS targets share: answers come from DNS queries to the server."""

    server: _Server

    def answer(self, zone: str, name: str, rdtype: str) -> Answer:
        return _ask(self.server.address, self.server.port, zone, name, rdtype)[0]

    def ttl(self, zone: str, name: str, rdtype: str) -> int | None:
        return _ask(self.server.address, self.server.port, zone, name, rdtype)[1]

    def serves_zone(self, zone: str) -> bool:
        return self.answer(zone, "@", "SOA") not in (None, set())

    def stop(self) -> None:
        self.server.stop()

    def start(self) -> None:
        self.server.start()


@dataclass
class ZoneFileTarget:
    directory: Path
    kind: str = "zonefile"

    def manifests(self, name: str, namespace: str, *, wrong_key: bool = False) -> list[dict[str, Any]]:
        return [backend_doc(name, {"type": "zonefile", "zonefile": {"directory": str(self.directory)}})]

    def secret_values(self) -> list[str]:
        return []

    def _path(self, zone: str) -> Path:
        return self.directory / f"{zone}.zone"

    def _zone(self, zone: str) -> dns.zone.Zone | None:
        path = self._path(zone)
        if not path.exists():
            return None
        return dns.zone.from_file(str(path), origin=zone, relativize=False)

    def answer(self, zone: str, name: str, rdtype: str) -> Answer:
        parsed = self._zone(zone)
        if parsed is None:
            return None
        found = parsed.get_rdataset(_owner(zone, name), rdtype)
        return set() if found is None else _texts(found)

    def ttl(self, zone: str, name: str, rdtype: str) -> int | None:
        parsed = self._zone(zone)
        found = None if parsed is None else parsed.get_rdataset(_owner(zone, name), rdtype)
        return None if found is None else int(found.ttl)

    def serves_zone(self, zone: str) -> bool:
        return self._path(zone).exists()

    def tamper(self, zone: str, name: str, rdtype: str, values: list[str] | None, ttl: int = 300) -> None:
        parsed = self._zone(zone)
        assert parsed is not None
        owner = _owner(zone, name)
        if values is None:
            parsed.delete_rdataset(owner, rdtype)
        else:
            rdatas = [dns.rdata.from_text(dns.rdataclass.IN, rdtype, v) for v in values]
            parsed.replace_rdataset(owner, dns.rdataset.from_rdata_list(ttl, rdatas))
        origin = parsed.origin
        assert origin is not None  # a zone read from a file with an origin has one
        soa = parsed.find_rdataset(origin, "SOA")
        bumped = soa[0].replace(serial=soa[0].serial + 1)
        parsed.replace_rdataset(origin, dns.rdataset.from_rdata(soa.ttl, bumped))
        parsed.to_file(str(self._path(zone)), relativize=False)

    def stop(self) -> None:  # there is no server: the file is what is served
        pass

    def start(self) -> None:
        pass


@dataclass
class BindTarget(_ServerTarget):
    server: BindServer
    kind: str = "rfc2136"

    def manifests(self, name: str, namespace: str, *, wrong_key: bool = False) -> list[dict[str, Any]]:
        """The README's example (manifests/backends/bind-rfc2136.yaml), pointed at this server."""
        secret, backend = example("bind-rfc2136.yaml", name, namespace)
        secret["stringData"] = {
            "tsig": wrong_secret() if wrong_key else self.server.tsig_secret,
            "rndc": self.server.rndc_secret,
        }
        settings = backend["spec"]["rfc2136"]
        settings |= {"server": self.server.address, "port": self.server.port}
        settings["tsig"]["name"] = self.server.tsig_name
        settings["rndc"]["port"] = self.server.control_port
        settings["rndc"]["key"]["name"] = RNDC_KEY_NAME
        settings["rndc"]["seedDirectory"] = settings["rndc"]["serverDirectory"] = str(self.server.zone_dir)
        return [secret, backend]

    def secret_values(self) -> list[str]:
        return [self.server.tsig_secret, self.server.rndc_secret]

    def tamper(self, zone: str, name: str, rdtype: str, values: list[str] | None, ttl: int = 300) -> None:
        keyring = dns.tsigkeyring.from_text({self.server.tsig_name: self.server.tsig_secret})
        update = dns.update.UpdateMessage(
            zone,
            keyring=keyring,
            keyname=dns.name.from_text(self.server.tsig_name),
            keyalgorithm=self.server.tsig_algorithm,
        )
        owner = _owner(zone, name)
        if values is None:
            update.delete(owner, rdtype)
        else:
            update.replace(owner, ttl, rdtype, *values)
        response = dns.query.tcp(update, self.server.address, port=self.server.port, timeout=5)
        assert response.rcode() == dns.rcode.NOERROR, dns.rcode.to_text(response.rcode())


@dataclass
class PowerDNSTarget(_ServerTarget):
    server: PowerDNSServer
    kind: str = "powerdns"

    def manifests(self, name: str, namespace: str, *, wrong_key: bool = False) -> list[dict[str, Any]]:
        """The README's example (manifests/backends/powerdns.yaml), pointed at this server."""
        secret, backend = example("powerdns.yaml", name, namespace)
        secret["stringData"] = {"apiKey": secrets.token_urlsafe(24) if wrong_key else self.server.api_key}
        backend["spec"]["powerdns"] |= {"apiURL": self.server.api_url, "serverID": self.server.server_id}
        return [secret, backend]

    def secret_values(self) -> list[str]:
        return [self.server.api_key]

    def tamper(self, zone: str, name: str, rdtype: str, values: list[str] | None, ttl: int = 300) -> None:
        owner = _owner(zone, name).to_text()
        rrset: dict[str, Any] = {"name": owner, "type": rdtype}
        if values is None:
            rrset["changetype"] = "DELETE"
        else:
            rrset |= {
                "changetype": "REPLACE",
                "ttl": ttl,
                "records": [{"content": v, "disabled": False} for v in values],
            }
        status, payload = self.server.api(
            "PATCH", f"/api/v1/servers/{self.server.server_id}/zones/{zone}.", {"rrsets": [rrset]}
        )
        assert status == 204, (status, payload)
