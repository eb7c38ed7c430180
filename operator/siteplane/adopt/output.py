"""Adopted manifests as YAML, for ``kubectl apply -f`` or a Git repository, and the findings report.

Two layouts: one stream (stdout or one file) holding every zone, or a directory per zone holding
one file per kind, which diffs well in Git and applies with ``kubectl apply -R -f <dir>``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO, Any

import yaml

from siteplane.adopt.convert import Adoption, Finding
from siteplane.adopt.names import object_name

try:  # libyaml's emitter when present: several times faster on thousands of zones
    from yaml import CSafeDumper as _Dumper
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml import SafeDumper as _Dumper  # type: ignore[assignment]

FILES = {"DNSZone": "dnszone.yaml", "Site": "sites.yaml", "DNSRecord": "dnsrecords.yaml"}
REPORT_VERSION = 1


def render(documents: Iterable[dict[str, Any]]) -> str:
    """A YAML stream, keys in the order written (apiVersion, kind, metadata, spec)."""
    return yaml.dump_all(documents, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=1000)


def write_stream(adoption: Adoption, out: IO[str]) -> None:
    if adoption.documents:
        out.write(f"# zone {adoption.zone}\n---\n")
        out.write(render(adoption.documents))
        out.write("---\n")


def write_directory(adoption: Adoption, root: Path) -> Path | None:
    """``root/<zone>/{dnszone,sites,dnsrecords}.yaml``; the zone's directory, None when not adopted."""
    if not adoption.documents:
        return None
    directory = root / object_name(adoption.zone)
    directory.mkdir(parents=True, exist_ok=True)
    for kind, file in FILES.items():
        docs = [d for d in adoption.documents if d["kind"] == kind]
        path = directory / file
        if docs:
            path.write_text(render(docs), encoding="utf-8")
        else:
            path.unlink(missing_ok=True)  # a re-run after the last Site went leaves no stale file
    return directory


def report(adoptions: Sequence[Adoption], failures: Sequence[Finding]) -> dict[str, Any]:
    """The machine-readable report: per zone what was written, and every finding."""
    findings = [f for a in adoptions for f in a.findings] + list(failures)
    return {
        "version": REPORT_VERSION,
        "zones": {
            "read": len(adoptions) + len(failures),
            "adopted": sum(1 for a in adoptions if a.adopted),
            "notAdopted": sum(1 for a in adoptions if not a.adopted) + len(failures),
        },
        "objects": {
            "dnszones": sum(1 for a in adoptions if a.adopted),
            "sites": sum(a.sites for a in adoptions),
            "dnsrecords": sum(a.records for a in adoptions),
        },
        "findings": [f.to_dict() for f in findings],
    }


def write_report(data: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
