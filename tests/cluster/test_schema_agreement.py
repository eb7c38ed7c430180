"""The CRD schema and the pydantic models accept and refuse exactly the same input (issue 13).

The CRDs are generated from the models, yet the two are checked by different engines: the
apiserver (Go: RE2 patterns, OpenAPI ``format`` checkers, CEL, list-type uniqueness, JSON types)
and pydantic (Rust regex, Python's ``ipaddress``, lax type coercion). Wherever they part, an object
either passes ``kubectl apply`` and then sits at ``Ready=False InvalidSpec``, or is refused for a
reason the operator would not give.

Here hypothesis generates names, addresses, numbers and texts for every validated field of the
five kinds; each example carries a batch of them, each put into an otherwise valid spec. The batch
goes to the real kube-apiserver as concurrent server-side dry-run creates (nothing is stored) and to
the spec model. Every input on which the two verdicts differ is collected, and the test fails at
the end listing all of them with both error texts.

Profiles (``SITEPLANE_HYPOTHESIS_PROFILE``): ``ci`` (the default) is derandomised with a fixed
number of examples, so CI sees the same inputs each run in well under two minutes; ``deep`` draws
random, many more examples for a local hunt. Neither writes an example database.
"""

from __future__ import annotations

import copy
import json
import os
import re
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from kubernetes import client, config
from kubernetes.client.rest import ApiException
from pydantic import ValidationError

from harness.controlplane.cluster import ControlPlane
from siteplane.api.common import API_GROUP, API_VERSION
from siteplane.api.conditions import describe_validation_error
from siteplane.api.kinds import BY_KIND

pytestmark = pytest.mark.cluster

NAMESPACE = "schema-agreement"
BATCH = 100  # probes per hypothesis example: enough to keep the apiserver busy, few enough to stay small
WORKERS = 8  # concurrent dry-run requests

settings.register_profile(
    "ci",
    derandomize=True,
    max_examples=40,
    deadline=None,
    database=None,
    print_blob=False,
    # A batch is a big example by design, and each one waits on BATCH apiserver round trips.
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
settings.register_profile("deep", settings.get_profile("ci"), derandomize=False, max_examples=400)
PROFILE = settings.get_profile(os.environ.get("SITEPLANE_HYPOTHESIS_PROFILE", "ci"))


# -- valid specs each probe changes one field of ---------------------------------------------------

_SECRET = {"namespace": "siteplane-system", "name": "dns-keys", "key": "tsig"}
BASES: dict[str, tuple[str, dict[str, Any]]] = {
    "site": (
        "Site",
        {
            "primaryDomain": "www.example.com",
            "aliases": ["example.com"],
            "serving": {"ipv4": ["192.0.2.10"]},
            "customer": "acme",
            "plan": "basic",
            "ttl": 300,
        },
    ),
    "site-v6": ("Site", {"primaryDomain": "v6.example.com", "serving": {"ipv6": ["2001:db8::10"]}}),
    "site-cname": ("Site", {"primaryDomain": "shop.example.com", "serving": {"cname": "shops.example.net"}}),
    "zone": (
        "DNSZone",
        {
            "zoneName": "example.com",
            "backend": "zonefiles",
            "defaultTTL": 3600,
            "nameServers": ["ns1.example.com"],
            "soa": {
                "primaryNameServer": "ns1.example.com",
                "responsibleMailbox": "hostmaster.example.com",
                "refresh": 3600,
                "retry": 600,
                "expire": 1209600,
                "negativeTTL": 300,
            },
            "publishers": [{"namespace": "team-b", "names": ["shop"]}],
            "deletionPolicy": "Delete",
            "management": "Shared",
        },
    ),
    "record-a": ("DNSRecord", {"zone": "example.com", "name": "www", "type": "A", "ttl": 300, "a": ["192.0.2.1"]}),
    "record-aaaa": ("DNSRecord", {"zone": "example.com", "name": "www", "type": "AAAA", "aaaa": ["2001:db8::1"]}),
    "record-cname": ("DNSRecord", {"zone": "example.com", "name": "docs", "type": "CNAME", "cname": "x.example.net"}),
    "record-mx": (
        "DNSRecord",
        {"zone": "example.com", "name": "@", "type": "MX", "mx": [{"preference": 10, "host": "mx.example.net"}]},
    ),
    "record-srv": (
        "DNSRecord",
        {
            "zone": "example.com",
            "name": "_sip._tcp",
            "type": "SRV",
            "srv": [{"priority": 10, "weight": 5, "port": 5060, "target": "sip.example.com"}],
        },
    ),
    "record-caa": (
        "DNSRecord",
        {
            "zone": "example.com",
            "name": "@",
            "type": "CAA",
            "caa": [{"flags": 0, "tag": "issue", "value": "letsencrypt.org"}],
        },
    ),
    "record-txt": ("DNSRecord", {"zone": "example.com", "name": "_dmarc", "type": "TXT", "txt": ["v=DMARC1; p=none"]}),
    "record-ns": ("DNSRecord", {"zone": "example.com", "name": "dev", "type": "NS", "ns": ["ns1.dev.example.net"]}),
    "record-ptr": (
        "DNSRecord",
        {"zone": "2.0.192.in-addr.arpa", "name": "10", "type": "PTR", "ptr": ["www.example.com."]},
    ),
    "grant": (
        "AccessGrant",
        {
            "subjects": [{"kind": "User", "name": "erin"}],
            "resources": ["sites"],
            "access": "view",
            "resourceNames": ["www"],
        },
    ),
    "grant-sa": (
        "AccessGrant",
        {
            "subjects": [{"kind": "ServiceAccount", "name": "deployer", "namespace": "ci"}],
            "resources": ["dnsrecords"],
            "access": "edit",
        },
    ),
    "backend-zonefile": (
        "DNSBackend",
        {
            "type": "zonefile",
            "zonefile": {"directory": "/var/lib/siteplane/zones", "reloadCommand": ["rndc", "reload"]},
        },
    ),
    "backend-rfc2136": (
        "DNSBackend",
        {
            "type": "rfc2136",
            "rfc2136": {
                "server": "192.0.2.53",
                "port": 53,
                "tsig": {"name": "siteplane-update", "algorithm": "hmac-sha256", "secretRef": _SECRET},
                "rndc": {
                    "server": "192.0.2.53",
                    "port": 953,
                    "key": {"name": "siteplane-rndc", "secretRef": _SECRET},
                    "seedDirectory": "/var/lib/siteplane/bind-zones",
                    "serverDirectory": "/var/lib/bind/siteplane",
                },
                "maxMessageBytes": 16000,
            },
        },
    ),
    "backend-powerdns": (
        "DNSBackend",
        {
            "type": "powerdns",
            "powerdns": {"apiURL": "http://127.0.0.1:8081", "serverID": "localhost", "apiKeySecretRef": _SECRET},
        },
    ),
}

Path = tuple[str | int, ...]


def _with(spec: dict[str, Any], path: Path, value: Any) -> dict[str, Any]:
    """A deep copy of ``spec`` with ``value`` at ``path`` (missing objects on the way are created)."""
    result = copy.deepcopy(spec)
    node: Any = result
    for step in path[:-1]:
        node = node.setdefault(step, {}) if isinstance(step, str) else node[step]
    node[path[-1]] = value
    return result


def _field(path: Path) -> str:
    return "spec" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)


# -- strategies ------------------------------------------------------------------------------------

# Lengths at the edges of every limit the kinds have: labels (63), names (253), tags (15), plan and
# namespace (63), customer (128), CAA value (255), TXT (2048), paths (4096).
EDGE_LENGTHS = [0, 1, 2, 14, 15, 16, 62, 63, 64, 127, 128, 129, 252, 253, 254, 255, 256, 2047, 2048, 2049, 4096, 4097]

LABELS = [
    "www", "a", "z9", "0", "123", "xn--bcher-kva", "xn--", "a-b", "a--b", "-a", "a-", "-", "_dmarc", "_sip",
    "_tcp", "_", "__a", "_-a", "_a-", "a_b", "*", "**", "*a", "a*", "@", "A", "Www", "WWW", "ü", "bücher",
    "例え", "a b", " a", "a\t", "a\n", "", "é", "\u00a0", "\u212a", "\u0131", "ß", "\uff11", "a;", "a/b", "a\\b", "a%",
    "a:b", "a\x00",
]  # fmt: skip

NAMES = [
    "example.com", "www.example.com", "www.example.com.", "example.com..", ".", "..", ".example.com",
    "a..b", "*.example.com", "*.example.com.", "a.*.example.com", "*.*.example.com", "*", "@", "*.", "localhost",
    "com", "com.", "1.2.3.4", "10.2.0.192.in-addr.arpa", "xn--bcher-kva.example", "_dmarc.example.com",
    "_sip._tcp.example.com", "EXAMPLE.COM", "Example.com", " www.example.com", "www.example.com ",
    "www.example.com\n", "example.com.\n", "www.ex ample.com", "bücher.example", "例え.jp", "a.b-.c", "a.-b.c",
    "123.456", "0.0", "a.b_c.d", "_a.example.com", "@.example.com", "",
]  # fmt: skip


def _label() -> st.SearchStrategy[str]:
    edged = st.tuples(st.sampled_from([1, 2, 61, 62, 63, 64, 65]), st.sampled_from("a0_-*A"), st.sampled_from("a0-_Aé"))
    return st.one_of(
        st.sampled_from(LABELS),
        edged.map(lambda t: (t[1] + t[2] * (t[0] - 1))[: t[0]] if t[0] > 1 else t[1]),
        st.text(alphabet="abz09-_*A", min_size=0, max_size=6),
    )


def _name_of_length(length: int, chunk: int, wildcard: bool, trailing_dot: bool) -> str:
    """A name of exactly ``length`` characters (before any trailing dot) made of ``chunk``-long labels."""
    labels = ["*"] if wildcard else []
    while True:
        used = len(".".join(labels)) + (1 if labels else 0)
        room = length - used
        if room <= chunk:
            labels.append("b" * max(room, 1))
            break
        labels.append("a" * chunk)
    return ".".join(labels) + ("." if trailing_dot else "")


def names() -> st.SearchStrategy[str]:
    """DNS names, good and bad: case, dots, wildcards, underscores, label and name length edges, unicode."""
    composed = st.tuples(
        st.lists(_label(), min_size=1, max_size=5), st.sampled_from(["", "*."]), st.sampled_from(["", "", ".", ".."])
    ).map(lambda t: t[1] + ".".join(t[0]) + t[2])
    long = st.builds(
        _name_of_length,
        st.sampled_from([62, 63, 64, 126, 127, 128, 252, 253, 254, 255, 256]),
        st.sampled_from([40, 62, 63]),
        st.booleans(),
        st.booleans(),
    )
    return st.one_of(st.sampled_from(NAMES), composed, long)


IPV4 = [
    "192.0.2.1", "0.0.0.0", "255.255.255.255", "256.1.1.1", "01.2.3.4", "1.2.3.04", "00.0.0.0", "0.0.0.00",
    "010.1.1.1", "0x7f.0.0.1", "0177.0.0.1", "1.2.3", "1.2.3.4.5", "1..2.3", " 1.2.3.4", "1.2.3.4 ", "1.2.3.4\n",
    "\t1.2.3.4", "1.2.3.4/32", "::ffff:1.2.3.4", "::1.2.3.4", "1.2.3.-1", "1.2.3.+1", "\uff11.2.3.4", "1.2.3.4.",
    "127.1", "2130706433", "", "1.2.3.٤",
]  # fmt: skip
IPV6 = [
    "::", "::1", "2001:db8::1", "2001:DB8::1", "2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8:0:0:0:0:0:1",
    "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7::", "::2:3:4:5:6:7:8", "1::2::3", ":1::2", "1::2:",
    "::ffff:1.2.3.4", "::ffff:01.2.3.4", "::1.2.3.4", "64:ff9b::192.0.2.33", "1:2:3:4:5:6:1.2.3.4",
    "1:2:3:4:5:6:7:1.2.3.4", "fe80::1%eth0", "fe80::1%1", "fe80::1%", "fe80::1%25eth0", "[::1]", "::1/128",
    "00001::1", "0001::1", "g::1", " ::1", "::1 ", "::1\n", "1.2.3.4", "", "::ffff:1.2.3.256", "::ffff:1.2.3",
    "1:2:3:4:5:6:7:8::", "::ffff:0:1.2.3.4", "::FFFF:1.2.3.4", "2001:db8::\uff11",
]  # fmt: skip


def ipv4_texts() -> st.SearchStrategy[Any]:
    octet = st.one_of(
        st.integers(0, 255).map(str),
        st.integers(0, 255).map(lambda n: f"{n:03d}"),
        st.integers(256, 999).map(str),
        st.sampled_from(["0x1f", "07", "08", "-1", "+1", " 1", "1 ", "", "0000"]),
    )
    return st.one_of(
        st.sampled_from(IPV4),
        st.lists(octet, min_size=3, max_size=5).map(".".join),
        st.integers(0, 2**32),  # a JSON number where a string belongs
    )


def ipv6_texts() -> st.SearchStrategy[Any]:
    hextet = st.text(alphabet="0123456789abcdefABCDEF", min_size=1, max_size=5)

    def assemble(parts: tuple[list[str], int | None, str | None, str]) -> str:
        groups, gap, tail, zone = parts
        if gap is None:
            text = ":".join(groups)
        else:
            gap = min(gap, len(groups))
            text = ":".join(groups[:gap]) + "::" + ":".join(groups[gap:])
        if tail is not None:
            text += tail if text.endswith(":") or not text else ":" + tail
        return text + zone

    composed = st.tuples(
        st.lists(hextet, min_size=0, max_size=9),
        st.none() | st.integers(0, 9),
        st.none() | st.sampled_from(["1.2.3.4", "192.0.2.33", "01.2.3.4", "1.2.3.256", "1.2.3"]),
        st.sampled_from(["", "", "", "%eth0", "%1", "%"]),
    ).map(assemble)
    return st.one_of(st.sampled_from(IPV6), composed)


def addresses() -> st.SearchStrategy[Any]:
    """Both families for every address field: a v4 in a v6 field (and back) must be refused alike."""
    return st.one_of(ipv4_texts(), ipv6_texts())


NUMBER_EDGES = [
    59, 60, 299, 300, 3600, 86400, 604799, 604800, 604801, 127, 128, 255, 256, 511, 512, 513, 65534, 65535, 65536,
    2**31 - 2, 2**31 - 1, 2**31, 2**32 - 1, 2**32, 2**53, 2**63 - 1, 2**63, 2**64,
]  # fmt: skip
# What YAML hands over when a number is quoted, written as a float or replaced by a boolean.
NOT_QUITE_INTEGERS: list[Any] = ["300", "0x10", "1e3", "", True, False, 300.0, 1.5, 604800.0, 65535.0, -0.0, 1e20, None]


def numbers() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.integers(-2, 2),
        st.sampled_from(NUMBER_EDGES),
        st.integers(-(10**6), 10**7),
        st.sampled_from(NOT_QUITE_INTEGERS),
    )


TEXTS = [
    "", " ", "~", "\x7f", "\x1f", "\t", "\n", "\r", '"', "\\", ";", 'a"b', 'a\\"', "é", "\u00a0", "\u2028", "\u0085",
    "\x00", "\U0001f4a5", "v=spf1 -all", "a;b", "$INCLUDE /etc/passwd", "(", ")", "a b", "a\nb", "ä", "\u200b",
]  # fmt: skip


def texts() -> st.SearchStrategy[str]:
    """Free text: every printable-range edge, quotes, escapes, control characters, unicode, length edges."""
    repeated = st.tuples(
        st.sampled_from(EDGE_LENGTHS), st.sampled_from(["a", " ", "~", "é", "\x7f", "-", "A", "0", "_", "."])
    )
    return st.one_of(
        st.sampled_from(TEXTS),
        st.text(max_size=12),
        st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=12),
        repeated.map(lambda t: t[1] * t[0]),
    )


def urls() -> st.SearchStrategy[str]:
    fixed = [
        "http://127.0.0.1:8081", "https://pdns.example.com/api/v1", "http://", "https://", "ftp://x", "HTTP://x",
        "http://a b", "http://a\u00a0b", "http://a\x0bb", "http://a\x0cb", "http://a\u2028b", "http://a\u3000b",
        "http://例え.jp", "http://a\tb", "http://a\nb", " http://a", "http://a\n", "http://a\x85b", "http://[::1]:8081",
    ]  # fmt: skip
    return st.one_of(
        st.sampled_from(fixed),
        st.tuples(st.sampled_from(["http://", "https://", "", "HTTP://", "http:/"]), texts()).map("".join),
    )


def directories() -> st.SearchStrategy[str]:
    fixed = ["/", "/var/lib/zones", "relative", "", "//", "/a\nb", '/a"b', "/\x00", "/é", " /a", "./a"]
    return st.one_of(st.sampled_from(fixed), st.tuples(st.sampled_from(["/", "", "./"]), texts()).map("".join))


def hosts() -> st.SearchStrategy[Any]:
    return st.one_of(names(), addresses(), texts())


def caa_tags() -> st.SearchStrategy[str]:
    return st.one_of(texts(), st.sampled_from(["issue", "iodef", "Issue", "a" * 15, "is-sue"]))


Values = Callable[[], st.SearchStrategy[Any]]


def one_of_values(*values: Any) -> Values:
    return lambda: st.sampled_from(values)


def set_of(*pool: Any) -> Values:
    """Small lists from a pool with repeats and equivalent spellings: sets must refuse duplicates alike."""
    return lambda: st.lists(st.sampled_from(pool), min_size=1, max_size=4)


# -- every validated field of the five kinds -------------------------------------------------------


@dataclass(frozen=True)
class FieldCase:
    base: str
    path: Path
    values: Values


def _case(base: str, *path: str | int, values: Values) -> FieldCase:
    return FieldCase(base, path, values)


FIELDS: tuple[FieldCase, ...] = (
    # DNS names
    _case("site", "primaryDomain", values=names),
    _case("site", "aliases", 0, values=names),
    _case("site-cname", "serving", "cname", values=names),
    _case("zone", "zoneName", values=names),
    _case("zone", "nameServers", 0, values=names),
    _case("zone", "soa", "primaryNameServer", values=names),
    _case("zone", "soa", "responsibleMailbox", values=names),
    _case("zone", "publishers", 0, "names", 0, values=names),
    _case("zone", "publishers", 0, "namespace", values=lambda: names() | texts()),
    _case("zone", "backend", values=lambda: names() | texts()),
    _case("record-a", "zone", values=names),
    _case("record-a", "name", values=names),
    _case("record-cname", "name", values=names),
    _case("record-ns", "name", values=names),
    _case("record-cname", "cname", values=names),
    _case("record-mx", "mx", 0, "host", values=names),
    _case("record-ns", "ns", 0, values=names),
    _case("record-ptr", "ptr", 0, values=names),
    _case("record-srv", "srv", 0, "target", values=names),
    # addresses
    _case("site", "serving", "ipv4", 0, values=addresses),
    _case("site-v6", "serving", "ipv6", 0, values=addresses),
    _case("record-a", "a", 0, values=addresses),
    _case("record-aaaa", "aaaa", 0, values=addresses),
    # numbers
    _case("site", "ttl", values=numbers),
    _case("zone", "defaultTTL", values=numbers),
    _case("zone", "soa", "refresh", values=numbers),
    _case("zone", "soa", "retry", values=numbers),
    _case("zone", "soa", "expire", values=numbers),
    _case("zone", "soa", "negativeTTL", values=numbers),
    _case("record-a", "ttl", values=numbers),
    _case("record-mx", "mx", 0, "preference", values=numbers),
    _case("record-srv", "srv", 0, "priority", values=numbers),
    _case("record-srv", "srv", 0, "weight", values=numbers),
    _case("record-srv", "srv", 0, "port", values=numbers),
    _case("record-caa", "caa", 0, "flags", values=numbers),
    _case("backend-rfc2136", "rfc2136", "port", values=numbers),
    _case("backend-rfc2136", "rfc2136", "rndc", "port", values=numbers),
    _case("backend-rfc2136", "rfc2136", "maxMessageBytes", values=numbers),
    # texts
    _case("record-txt", "txt", 0, values=texts),
    _case("record-caa", "caa", 0, "value", values=texts),
    _case("record-caa", "caa", 0, "tag", values=caa_tags),
    _case("site", "customer", values=lambda: texts() | names()),
    _case("site", "plan", values=lambda: texts() | names()),
    _case("site", "suspended", values=one_of_values(True, False, "true", "false", 1, 0, "yes", None)),
    # access grants
    _case("grant", "subjects", 0, "name", values=lambda: texts() | names()),
    _case("grant-sa", "subjects", 0, "name", values=lambda: texts() | names()),
    _case("grant-sa", "subjects", 0, "namespace", values=lambda: texts() | names()),
    _case("grant", "subjects", 0, "kind", values=one_of_values("User", "Group", "ServiceAccount", "user", "", "Role")),
    _case("grant", "resourceNames", 0, values=lambda: texts() | names()),
    _case("grant", "access", values=one_of_values("view", "edit", "View", "admin", "")),
    # enumerations
    _case("record-a", "type", values=one_of_values("A", "a", "AAAA", "ANY", "SOA", "")),
    _case("zone", "deletionPolicy", values=one_of_values("Delete", "Orphan", "delete", "Retain", "")),
    _case("zone", "management", values=one_of_values("Shared", "Exclusive", "shared", "")),
    # DNS backends
    _case("backend-zonefile", "zonefile", "directory", values=directories),
    _case("backend-zonefile", "zonefile", "reloadCommand", 0, values=texts),
    _case("backend-rfc2136", "rfc2136", "server", values=hosts),
    _case("backend-rfc2136", "rfc2136", "rndc", "server", values=hosts),
    _case("backend-rfc2136", "rfc2136", "tsig", "name", values=lambda: names() | texts()),
    _case(
        "backend-rfc2136", "rfc2136", "tsig", "algorithm",
        values=one_of_values("hmac-sha256", "hmac-md5", "HMAC-SHA1", ""),
    ),
    _case("backend-rfc2136", "rfc2136", "tsig", "secretRef", "namespace", values=lambda: names() | texts()),
    _case("backend-rfc2136", "rfc2136", "tsig", "secretRef", "name", values=lambda: names() | texts()),
    _case("backend-rfc2136", "rfc2136", "tsig", "secretRef", "key", values=lambda: names() | texts()),
    _case("backend-rfc2136", "rfc2136", "rndc", "seedDirectory", values=directories),
    _case("backend-rfc2136", "rfc2136", "rndc", "serverDirectory", values=directories),
    _case("backend-powerdns", "powerdns", "apiURL", values=urls),
    _case("backend-powerdns", "powerdns", "serverID", values=lambda: texts() | names()),
    # lists that are sets (x-kubernetes-list-type: set) or maps: repeats and equivalent spellings
    _case("site", "serving", "ipv4", values=set_of("192.0.2.1", "192.0.2.2", "192.0.2.01")),
    _case("site-v6", "serving", "ipv6", values=set_of("::1", "0::1", "0:0::1", "2001:db8::1", "2001:DB8::1")),
    _case("site", "aliases", values=set_of("a.example.com", "A.example.com", "b.example.com", "www.example.com")),
    _case("record-a", "a", values=set_of("192.0.2.1", "192.0.2.2")),
    _case("record-aaaa", "aaaa", values=set_of("::1", "::0:1", "2001:db8::1", "2001:DB8::1")),
    _case("record-txt", "txt", values=set_of("a", "a ", "A", "")),
    _case("record-ns", "ns", values=set_of("ns1.example.net", "ns1.example.net.", "ns2.example.net")),
    _case("record-ptr", "ptr", values=set_of("a.example.com", "a.example.com.")),
    _case("zone", "nameServers", values=set_of("ns1.example.com", "ns1.example.com.", "ns2.example.org")),
    _case("zone", "publishers", 0, "names", values=set_of("shop", "*.shop", "*")),
    _case(
        "zone", "publishers", values=set_of({"namespace": "b"}, {"namespace": "c"}, {"namespace": "b", "names": ["*"]})
    ),
    _case("grant", "resources", values=set_of("sites", "dnszones", "dnsrecords")),
    _case("grant", "resourceNames", values=set_of("www", "blog", "www.example.com")),
    _case("backend-zonefile", "zonefile", "reloadCommand", values=set_of("rndc", "reload", "rndc")),
)  # fmt: skip


@dataclass(frozen=True)
class Probe:
    kind: str
    field: str
    value: Any
    spec: dict[str, Any]


def probe(case: FieldCase, value: Any) -> Probe:
    kind, base = BASES[case.base]
    return Probe(kind, _field(case.path), value, _with(base, case.path, value))


def probes() -> st.SearchStrategy[Probe]:
    return st.sampled_from(FIELDS).flatmap(lambda case: case.values().map(lambda value: probe(case, value)))


def _find(base: str, *path: str | int) -> FieldCase:
    return next(c for c in FIELDS if c.base == base and c.path == path)


# Inputs the issue names, checked first on every run whatever hypothesis draws after them.
KNOWN_TRICKY: list[Probe] = [
    probe(_find(base, *path), value)
    for base, path, value in [
        ("site", ("primaryDomain",), "WWW.example.com"),
        ("site", ("primaryDomain",), "www.example.com."),
        ("site", ("primaryDomain",), "a.*.example.com"),
        ("site", ("primaryDomain",), _name_of_length(253, 63, False, False)),
        ("site", ("primaryDomain",), _name_of_length(254, 63, False, False)),
        ("record-cname", ("cname",), _name_of_length(253, 63, False, True)),
        ("record-cname", ("cname",), _name_of_length(254, 63, False, False)),
        ("site", ("serving", "ipv4", 0), "01.2.3.4"),
        ("site", ("serving", "ipv4", 0), "::ffff:1.2.3.4"),
        ("site", ("serving", "ipv4", 0), " 1.2.3.4"),
        ("site", ("serving", "ipv4", 0), 16909060),
        ("site-v6", ("serving", "ipv6", 0), "fe80::1%eth0"),
        ("site-v6", ("serving", "ipv6", 0), "::ffff:01.2.3.4"),
        ("site-v6", ("serving", "ipv6", 0), "2001:DB8::1"),
        ("site-v6", ("serving", "ipv6", 0), "1:2:3:4:5:6:7:8:9"),
        ("site", ("ttl",), "300"),
        ("site", ("ttl",), True),
        ("site", ("ttl",), 300.0),
        ("site", ("suspended",), "true"),
        ("record-txt", ("txt", 0), 'a"b\\c;d'),
        ("record-txt", ("txt", 0), "a" * 2049),
        ("backend-powerdns", ("powerdns", "apiURL"), "http://a\u00a0b"),
    ]
]


# -- the two verdicts ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    accepted: bool
    message: str = ""

    def __str__(self) -> str:
        return "accepts" if self.accepted else f"refuses: {self.message}"


def model_verdict(item: Probe) -> Verdict:
    try:
        BY_KIND[item.kind].spec.model_validate(copy.deepcopy(item.spec))
    except ValidationError as error:
        return Verdict(False, describe_validation_error(error))
    return Verdict(True)


class Apiserver:
    """Server-side dry-run creates, as kubectl applies them (strict field validation), concurrently."""

    def __init__(self, plane: ControlPlane) -> None:
        configuration = client.Configuration()
        config.load_kube_config(config_file=str(plane.kubeconfig), context="admin", client_configuration=configuration)
        configuration.connection_pool_maxsize = WORKERS
        self.api = client.CustomObjectsApi(client.ApiClient(configuration))
        self.pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="dry-run")

    def verdict(self, item: Probe) -> Verdict:
        kind = BY_KIND[item.kind]
        body = {"apiVersion": kind.api_version, "kind": kind.kind, "metadata": {"name": "probe"}, "spec": item.spec}
        common = {"dry_run": "All", "field_validation": "Strict", "_preload_content": False, "_request_timeout": 60}
        try:
            if kind.namespaced:
                self.api.create_namespaced_custom_object(API_GROUP, API_VERSION, NAMESPACE, kind.plural, body, **common)
            else:
                self.api.create_cluster_custom_object(API_GROUP, API_VERSION, kind.plural, body, **common)
        except ApiException as error:
            # 422 Invalid is the schema speaking; 400 is a body it could not even decode into the
            # schema's types. Anything else (429, 5xx) is no verdict and must not pass for one.
            if error.status not in (400, 422):
                raise
            return Verdict(False, str(json.loads(error.body).get("message", error.body)))
        return Verdict(True)

    def verdicts(self, items: Sequence[Probe]) -> list[Verdict]:
        return list(self.pool.map(self.verdict, items))

    def close(self) -> None:
        self.pool.shutdown()
        self.api.api_client.close()


@pytest.fixture(scope="module")
def apiserver(control_plane: ControlPlane) -> Iterator[Apiserver]:
    control_plane.kubectl("create", "namespace", NAMESPACE)
    server = Apiserver(control_plane)
    yield server
    server.close()
    control_plane.kubectl("delete", "namespace", NAMESPACE, "--wait=false", check=False)


# -- the tests -------------------------------------------------------------------------------------


@pytest.mark.parametrize("base", sorted(BASES))
def test_every_base_spec_is_accepted_by_both(apiserver: Apiserver, base: str) -> None:
    """Each probe changes one field of a valid spec, so any refusal is about that field alone."""
    kind, spec = BASES[base]
    item = Probe(kind, "spec", None, spec)
    assert model_verdict(item).accepted, model_verdict(item)
    assert apiserver.verdicts([item])[0].accepted, apiserver.verdicts([item])[0]


@dataclass(frozen=True)
class Disagreement:
    item: Probe
    schema: Verdict
    model: Verdict

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.item.kind, self.item.field, repr(self.item.value))

    def __str__(self) -> str:
        return (
            f"{self.item.kind} {self.item.field} = {_show(self.item.value)}\n"
            f"      schema: {_clip(str(self.schema))}\n"
            f"      model:  {_clip(str(self.model))}"
        )


def _show(value: Any) -> str:
    if isinstance(value, str) and len(value) > 48:
        return f"{value[:20]!r}...{value[-12:]!r} ({len(value)} characters)"
    return repr(value)


# The apiserver's refusals end with this when CEL rules were skipped; it says nothing about the input.
_SKIPPED_RULES = re.compile(r", <nil>: Invalid value: null: some validation rules were not checked.*?(?=\]$|$)")


def _clip(text: str, limit: int = 300) -> str:
    text = _SKIPPED_RULES.sub("", text)
    return text if len(text) <= limit else text[:limit] + "..."


def test_schema_and_models_accept_and_refuse_the_same_input(apiserver: Apiserver) -> None:
    found: dict[tuple[str, str, str], Disagreement] = {}
    seen = {"probes": 0, "accepted": 0, "refused": 0}
    started = time.monotonic()

    @settings(PROFILE)
    @given(st.lists(probes(), min_size=BATCH, max_size=BATCH))
    @example(KNOWN_TRICKY)
    def check(batch: list[Probe]) -> None:
        # Collect rather than fail: one run should list every disagreement, not the first one shrunk.
        for item, schema in zip(batch, apiserver.verdicts(batch), strict=True):
            model = model_verdict(item)
            seen["probes"] += 1
            seen["accepted" if schema.accepted else "refused"] += 1
            if schema.accepted != model.accepted:
                disagreement = Disagreement(item, schema, model)
                found.setdefault(disagreement.key, disagreement)

    check()
    elapsed = time.monotonic() - started
    print(f"{seen['probes']} probes ({seen['accepted']} accepted, {seen['refused']} refused) in {elapsed:.1f}s")
    # The probes must exercise both verdicts, or agreement proves nothing.
    assert seen["accepted"] > seen["probes"] // 10 and seen["refused"] > seen["probes"] // 10, seen
    if found:
        report = "\n".join(str(d) for d in sorted(found.values(), key=lambda d: d.key))
        pytest.fail(f"{len(found)} inputs on which the CRD schema and the models disagree:\n{report}", pytrace=False)
