"""Where adopted zones are read from: a primary by AXFR (TSIG), the PowerDNS API, or zone files.

Servers are read through the same backends the operator uses, so what adoption sees is, byte for
byte, what the operator's first sync will compare the manifests with. Zone files are parsed the way
the zone-file backend parses its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from siteplane.dns.backend import Backend, ZoneContent
from siteplane.dns.powerdns import PowerDNSBackend
from siteplane.dns.rfc2136 import RFC2136Backend
from siteplane.dns.zonefile import parse_zone_file
from siteplane.errors import BackendError

# File names a zone file is commonly given: <zone>.zone, <zone>.db, db.<zone>, or just <zone>.
_SUFFIXES = (".zone", ".db")
_PREFIX = "db."


class SourceError(Exception):
    """A zone could not be read; the message says why (never a credential)."""


class Source(Protocol):
    def zones(self) -> list[str]:
        """The zones to adopt, in order."""
        ...

    def read(self, zone: str) -> ZoneContent:
        """The zone as served; SourceError when it cannot be read."""
        ...


@dataclass
class ServerSource:
    """Named zones of one server, read through a backend (RFC 2136/AXFR or PowerDNS)."""

    backend: Backend
    names: list[str]

    def zones(self) -> list[str]:
        return list(self.names)

    def read(self, zone: str) -> ZoneContent:
        try:
            content = self.backend.read_zone(zone)
        except BackendError as error:
            raise SourceError(str(error)) from error
        if content is None:
            raise SourceError(f"the server does not serve zone {zone}")
        return content


def axfr_source(
    server: str, port: int, tsig_name: str, tsig_secret: str, tsig_algorithm: str, names: list[str]
) -> ServerSource:
    try:
        backend = RFC2136Backend(server, port, tsig_name, tsig_secret, tsig_algorithm, timeout=10.0)
    except BackendError as error:
        raise SourceError(str(error)) from error
    return ServerSource(backend, names)


def powerdns_source(api_url: str, api_key: str, server_id: str, names: list[str]) -> ServerSource:
    try:
        backend = PowerDNSBackend(api_url, api_key, server_id)
    except ValueError as error:
        raise SourceError(str(error)) from error
    return ServerSource(backend, names)


@dataclass
class FileSource:
    """Zone files: one file, or every file of a directory, each named after its zone."""

    files: dict[str, Path]  # zone -> file

    @classmethod
    def at(cls, path: Path, zone: str | None = None) -> FileSource:
        if path.is_dir():
            if zone is not None:
                raise SourceError("--zone names the zone of a single file, not of a directory")
            return cls({zone_of(p): p for p in sorted(_files(path))})
        if not path.is_file():
            raise SourceError(f"no zone file or directory at {path}")
        return cls({zone or zone_of(path): path})

    def zones(self) -> list[str]:
        return sorted(self.files)

    def read(self, zone: str) -> ZoneContent:
        path = self.files[zone]
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise SourceError(f"cannot read {path}: {error}") from error
        try:
            return parse_zone_file(zone, text)
        except BackendError as error:
            raise SourceError(f"{path}: {error}") from error


def _files(directory: Path) -> Iterator[Path]:
    return (p for p in directory.iterdir() if p.is_file() and not p.name.startswith((".", "#")) and p.suffix != ".jnl")


def zone_of(path: Path) -> str:
    """The zone a file holds, by its name: example.com.zone, example.com.db, db.example.com."""
    name = path.name
    for suffix in _SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)].lower().rstrip(".")
    if name.startswith(_PREFIX):
        return name[len(_PREFIX) :].lower().rstrip(".")
    return name.lower().rstrip(".")
