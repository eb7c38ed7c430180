"""A real BIND 9 ``named`` on loopback, started and stopped by the tests themselves.

The server runs straight from the Debian binaries with its configuration, zone files, logs and
runtime files in one working directory, answers DNS on 127.0.0.1 at a free port (UDP and TCP) and
takes ``rndc`` commands on another free loopback port. It starts with no zones at all: tests add
them with ``rndc addzone`` (``add_zone``) and change them with TSIG-signed RFC 2136 updates, which is
how the operator will drive a real DNS server.

``start()`` and ``stop()`` may alternate freely and keep the same working directory, ports and keys.
Zones added with ``rndc addzone`` are remembered by named itself (``allow-new-zones`` keeps them in
an LMDB ``.nzd`` file in the directory), so they come back after a restart. Start, stop, ports,
readiness and logs work as for every server here (``harness.server``).

``python -m harness.bind`` starts one for a developer and keeps it until Ctrl-C.
"""

from __future__ import annotations

import base64
import contextlib
import pwd
import re
import secrets
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import dns.message
import dns.query
import dns.rdatatype

from harness.processes import ChildProcess, unprivileged_account
from harness.server import ADDRESS, PROBE_TIMEOUT, InWorkdir, Server

NAMED = "/usr/sbin/named"
RNDC = "/usr/sbin/rndc"
NAMED_CHECKCONF = "/usr/bin/named-checkconf"
DNSSEC_VERIFY = "/usr/bin/dnssec-verify"  # BIND's own check that a zone file is fully and correctly signed
# The account named runs as when the tests run as root. The Debian bind9 package creates it, and
# starting named directly as that user (rather than as root with `-u bind`) means named never holds
# root at all, so it needs no capabilities, which a container may not grant.
OS_USER = "bind"

TSIG_NAME = "siteplane-key"
TSIG_ALGORITHM = "hmac-sha256"
RNDC_KEY_NAME = "siteplane-rndc"

RNDC_TIMEOUT = 15.0

# The dnssec-policy names the rndc provisioner asks for by default (siteplane.dns.rndc), and the
# short-lived ones tests use instead to see BIND re-sign and unsign within seconds, not days.
DNSSEC_POLICIES = {"NSEC3": "siteplane-nsec3", "NSEC": "siteplane-nsec"}
TEST_DNSSEC_POLICIES = {"NSEC3": "siteplane-test-nsec3", "NSEC": "siteplane-test-nsec"}

# ECDSA P-256 (13) throughout. A KSK that never rolls by itself (its DS is at the parent: rolling it
# needs the registrar) and a ZSK that BIND rolls on its own. NSEC3 as RFC 9276 has it: no extra
# iterations, no salt, no opt-out. Every other timing is BIND's default.
_KEYS = """\
    keys {
        ksk lifetime unlimited algorithm ecdsap256sha256;
        zsk lifetime P90D algorithm ecdsap256sha256;
    };"""
_NSEC3 = "    nsec3param iterations 0 optout no salt-length 0;"
# The tests' policies: the same keys, but TTLs and safety margins of seconds, so that turning
# signing off completes within a test, and signatures valid for 10 minutes that BIND refreshes 8
# minutes before they expire (BIND refuses a refresh above 90% of the validity), so a test sees
# signatures replaced within about a minute. Record TTLs in such zones must stay at or below 60 s.
_TEST_TIMINGS = """\
    dnskey-ttl 10;
    max-zone-ttl 60;
    zone-propagation-delay 1;
    retire-safety 1;
    publish-safety 1;
    parent-ds-ttl 10;
    parent-propagation-delay 1;
    signatures-validity PT10M;
    signatures-validity-dnskey PT10M;
    signatures-refresh PT8M;
    signatures-jitter PT1M;"""


def dnssec_policies_conf() -> str:
    """The named.conf dnssec-policy statements for DNSSEC_POLICIES and TEST_DNSSEC_POLICIES."""
    blocks = []
    for policies, timings in ((DNSSEC_POLICIES, ""), (TEST_DNSSEC_POLICIES, _TEST_TIMINGS)):
        for denial, name in policies.items():
            lines = [_KEYS, *([_NSEC3] if denial == "NSEC3" else []), *([timings] if timings else [])]
            blocks.append(f'dnssec-policy "{name}" {{\n' + "\n".join(lines) + "\n};\n")
    return "\n".join(blocks)


# Every zone starts with this: an out-of-zone NS needs no glue, so named loads the zone with only
# the SOA and NS, and tests decide every other record themselves.
ZONE_TEMPLATE = """\
$TTL 300
@ IN SOA ns1.example.net. hostmaster.example.net. ( 1 3600 600 86400 300 )
@ IN NS ns1.example.net.
"""


def _new_secret() -> str:
    """A random 256-bit key in the base64 form named.conf, rndc.conf and dnspython all take."""
    return base64.b64encode(secrets.token_bytes(32)).decode()


def _zone_name(zone: str) -> str:
    """``example.com`` and ``example.com.`` are one zone: named and rndc see it without the dot."""
    return zone.rstrip(".")


@dataclass
class BindServer(Server):
    """One named whose whole state is in ``workdir``."""

    port: int = 0
    control_port: int = 0
    tsig_secret: str = field(default_factory=_new_secret)
    rndc_secret: str = field(default_factory=_new_secret)

    tsig_name: ClassVar[str] = TSIG_NAME
    tsig_algorithm: ClassVar[str] = TSIG_ALGORITHM

    port_fields = ("port", "control_port")
    label = "named"
    workdir_prefix = "siteplane-bind-"
    workdir_mode = 0o750
    # A taken control port is "address in use"; a taken DNS port, only that it could not listen.
    port_taken = re.compile(r"address in use|unable to listen on any configured interfaces")

    named_conf = InWorkdir("named.conf")
    rndc_conf = InWorkdir("rndc.conf")
    log_file = InWorkdir("named.log")
    zone_dir = InWorkdir("zones")
    key_dir = InWorkdir("keys")

    def zone_file(self, zone: str) -> Path:
        return self.zone_dir / f"{_zone_name(zone)}.db"

    def how_to_connect(self) -> list[str]:
        return [
            f"dig @{self.address} -p {self.port} <zone> SOA",
            f"rndc -c {self.rndc_conf} status",
            f"nsupdate -y {self.tsig_algorithm}:{self.tsig_name}:{self.tsig_secret}",
            f"  > server {self.address} {self.port}",
        ]

    # -- control -----------------------------------------------------------------------------

    def rndc(self, *args: str) -> str:
        """Run ``rndc`` against this server; its output, or RuntimeError with the output on failure."""
        result = subprocess.run(self._rndc_args(*args), capture_output=True, text=True, timeout=RNDC_TIMEOUT)
        output = result.stdout + result.stderr
        if result.returncode != 0:
            raise RuntimeError(f"rndc {' '.join(args)} failed ({result.returncode}): {output.strip()}")
        return output

    def add_zone(self, zone: str, records: str | None = None, *, head: str = ZONE_TEMPLATE) -> Path:
        """Create a primary zone with a fresh zone file and load it with ``rndc addzone``.

        ``records`` is zone-file text appended after ``head`` (by default $TTL, SOA and NS; relative
        names are relative to the zone). Updates and transfers need the TSIG key; everyone may query.
        """
        name = _zone_name(zone)
        path = self.zone_file(name)
        path.write_text(head + (records.rstrip("\n") + "\n" if records else ""))
        self._hand_over(path)
        config = (
            f'{{ type primary; file "{path}"; '
            f"allow-update {{ key {TSIG_NAME}; }}; allow-transfer {{ key {TSIG_NAME}; }}; }};"
        )
        self.rndc("addzone", name, config)
        return path

    def serve_zone_file(self, zone: str, source: Path) -> Path:
        """Serve ``source`` (a complete zone file, e.g. one siteplane wrote and signed) as a static
        primary zone, exactly as written: added with ``rndc addzone`` the first time, reloaded after.
        No updates, no signing by named: a pre-signed zone is served as it is."""
        name = _zone_name(zone)
        path = self.zone_file(name)
        known = path.exists()
        path.write_bytes(source.read_bytes())
        self._hand_over(path)
        if known:
            self.rndc("reload", name)
        else:
            self.rndc("addzone", name, f'{{ type primary; file "{path}"; }};')
        return path

    def delete_zone(self, zone: str) -> None:
        """``rndc delzone -clean``: named forgets the zone and removes its file and journal."""
        self.rndc("delzone", "-clean", _zone_name(zone))

    # -- the server --------------------------------------------------------------------------

    def _run_as(self) -> pwd.struct_passwd | None:
        return unprivileged_account([OS_USER], hint="install the bind9 package (harness/system_deps.sh)")

    def _prepare(self) -> None:
        super()._prepare()
        # named writes its pid file, session key, .nzd, journals and dumped zone files here.
        self.zone_dir.mkdir(exist_ok=True)
        self._hand_over(self.zone_dir)
        self.key_dir.mkdir(mode=0o750, exist_ok=True)  # private keys: named's account only (and root)
        self._hand_over(self.key_dir)

    def _launch(self) -> None:
        # Rewritten at every start: the same ports and keys give the same file, so a restart cannot
        # drift from what this code says.
        self._write_config()
        # -f: foreground, so the process we hold is named itself and dies with us; unlike -g it
        # keeps the logging statement. -L: what named logs before it has read that statement (a
        # control port someone else holds, say) goes to named.log too, not to syslog. No -u: the
        # process is already unprivileged (see OS_USER).
        self._spawn("named", [NAMED, "-f", "-L", str(self.log_file), "-c", str(self.named_conf)])
        self._wait_until(lambda: self._rndc_ok(timeout=PROBE_TIMEOUT) and self._answers_udp())

    def _stop_child(self, child: ChildProcess) -> None:
        """``rndc stop`` (named writes out dynamic zones and exits cleanly); SIGTERM, then SIGKILL, as fallback."""
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            subprocess.run(self._rndc_args("stop"), capture_output=True, timeout=RNDC_TIMEOUT, check=False)
        if not child.wait(self.stop_timeout):
            child.stop(signal.SIGTERM, self.stop_timeout)

    def _rndc_args(self, *args: str) -> list[str]:
        return [RNDC, "-c", str(self.rndc_conf), *args]

    def _write_config(self) -> None:
        self.named_conf.write_text(
            f"""\
options {{
    directory "{self.workdir}";
    listen-on port {self.port} {{ {ADDRESS}; }};
    listen-on-v6 {{ none; }};
    pid-file "{self.workdir}/named.pid";
    session-keyfile "{self.workdir}/session.key";
    // rndc addzone / delzone; named keeps such zones in an .nzd file in the directory.
    allow-new-zones yes;
    recursion no;
    notify no;
    dnssec-validation no;
    // Where named keeps the keys and key state of zones it signs (dnssec-policy): named writes here.
    key-directory "{self.workdir}/keys";
}};

{dnssec_policies_conf()}

key "{TSIG_NAME}" {{
    algorithm {TSIG_ALGORITHM};
    secret "{self.tsig_secret}";
}};

key "{RNDC_KEY_NAME}" {{
    algorithm hmac-sha256;
    secret "{self.rndc_secret}";
}};

controls {{
    inet {ADDRESS} port {self.control_port} allow {{ {ADDRESS}; }} keys {{ "{RNDC_KEY_NAME}"; }};
}};

// Everything to stderr, which the harness sends to named.log in the working directory.
logging {{
    channel harness {{ stderr; severity info; print-time yes; print-category yes; print-severity yes; }};
    category default {{ harness; }};
    category lame-servers {{ null; }};
}};
"""
        )
        self.rndc_conf.write_text(
            f"""\
key "{RNDC_KEY_NAME}" {{
    algorithm hmac-sha256;
    secret "{self.rndc_secret}";
}};

options {{
    default-key "{RNDC_KEY_NAME}";
    default-server {ADDRESS};
    default-port {self.control_port};
}};
"""
        )
        # Holds both secrets: only root and named's account read them.
        for path in (self.named_conf, self.rndc_conf):
            path.chmod(0o640)
            self._hand_over(path)
        check = subprocess.run([NAMED_CHECKCONF, str(self.named_conf)], capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError(f"named-checkconf rejected {self.named_conf}:\n{check.stdout}{check.stderr}")

    def _rndc_ok(self, timeout: float) -> bool:
        result = subprocess.run(self._rndc_args("status"), capture_output=True, timeout=timeout, check=False)
        return result.returncode == 0

    def _answers_udp(self) -> bool:
        """Any DNS answer counts (REFUSED for the root zone is the usual one): named is serving."""
        dns.query.udp(dns.message.make_query(".", dns.rdatatype.SOA), ADDRESS, port=self.port, timeout=0.5)
        return True


# Start named in a fresh working directory; always stop it and remove the directory.
running_bind = BindServer.in_temporary_workdir


if __name__ == "__main__":
    sys.exit(BindServer.main())
