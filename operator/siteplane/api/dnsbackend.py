"""The DNSBackend custom resource (cluster-scoped): where zones live and how to reach it."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from siteplane.api.common import JSON_INTEGER, CRModel, SecretKeyRef, StatusBase, cel, cel_rules

BackendType = Literal["zonefile", "rfc2136", "powerdns"]
BACKEND_TYPES: tuple[BackendType, ...] = ("zonefile", "rfc2136", "powerdns")
TYPE_RULES = [
    cel(
        f"(self.type == '{t}') == has(self.{t})",
        f"{t} settings must be set when type is {t}, and only then",
        field_path=f".{t}",
    )
    for t in BACKEND_TYPES
]
HOST = Annotated[str, Field(min_length=1, max_length=253, pattern=r"^[A-Za-z0-9]([-A-Za-z0-9.:]*[A-Za-z0-9])?$")]
PORT = Annotated[int, Field(ge=1, le=65535), JSON_INTEGER]


class ZoneFileSettings(CRModel):
    """Zones rendered as RFC 1035 zone files into a directory (the embedded default)."""

    directory: Annotated[str, Field(min_length=1, max_length=4096, pattern=r"^/")]
    """Absolute directory on the operator's filesystem that receives <zone>.zone files."""
    reload_command: (
        Annotated[list[Annotated[str, Field(max_length=4096)]], Field(min_length=1, max_length=32)] | None
    ) = None
    """Command (argv, no shell) run after a zone file changes, e.g. [rndc, reload]; the zone name is appended."""


class TSIGKey(CRModel):
    """A TSIG key; its secret lives in a Secret."""

    name: Annotated[str, Field(min_length=1, max_length=253, pattern=r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9.])?$")]
    """The key's name as the server knows it."""
    algorithm: Literal["hmac-sha256", "hmac-sha384", "hmac-sha512", "hmac-sha224", "hmac-sha1"] | None = None
    """HMAC algorithm (hmac-sha256 when unset)."""
    secret_ref: SecretKeyRef
    """The Secret key holding the base64 TSIG secret."""


class RndcSettings(CRModel):
    """Zone creation and removal on BIND 9 through rndc addzone/delzone (named needs allow-new-zones).

    named loads a new primary zone only from an existing file, so the operator writes a seed zone
    file into a directory it shares with named (a volume, or the same host) before rndc addzone.
    """

    server: HOST | None = None
    """The rndc control channel's address (the DNS server's address when unset)."""
    port: PORT | None = None
    """The control channel's port (953 when unset)."""
    key: TSIGKey
    """The rndc key (name, algorithm, Secret) named's controls statement accepts."""
    seed_directory: Annotated[str, Field(min_length=1, max_length=4096, pattern=r"^/")]
    """Directory, on the operator's filesystem, where new zones' seed files are written."""
    server_directory: Annotated[str | None, Field(min_length=1, max_length=4096, pattern=r"^/[^\"]*$")] = None
    """The same directory as named sees it (seedDirectory when unset)."""


class RFC2136Settings(CRModel):
    """An authoritative server updated by RFC 2136 dynamic updates (BIND 9, Knot)."""

    server: HOST
    """The server's address or host name."""
    port: PORT | None = None
    """DNS port (53 when unset)."""
    tsig: TSIGKey
    """TSIG key that signs every update and transfer."""
    rndc: RndcSettings | None = None
    """How zones are created and removed on the server; without it zones must already exist there."""
    max_message_bytes: Annotated[int, Field(ge=512, le=65535), JSON_INTEGER] | None = None
    """Largest UPDATE message sent; bigger batches are split (16000 when unset)."""


class PowerDNSSettings(CRModel):
    """A PowerDNS authoritative server driven through its HTTP API."""

    # Printable ASCII without spaces, not [^\s]: \s is ASCII in RE2 but Unicode in pydantic's regex,
    # so the two parted on a vertical tab or a no-break space.
    api_url: Annotated[str, Field(alias="apiURL", max_length=2048, pattern=r"^https?://[!-~]+$")]
    """Base URL of the API, e.g. http://127.0.0.1:8081."""
    server_id: Annotated[
        str | None, Field(alias="serverID", min_length=1, max_length=63, pattern=r"^[-A-Za-z0-9_.]+$")
    ] = None
    """The API's server id (localhost when unset)."""
    api_key_secret_ref: SecretKeyRef
    """The Secret key holding the X-API-Key."""


class DNSBackendSpec(CRModel):
    """Desired state of a DNS backend."""

    model_config = cel_rules(*TYPE_RULES)

    type: BackendType
    """zonefile, rfc2136 or powerdns; exactly the matching settings block must be set."""
    zonefile: ZoneFileSettings | None = None
    """Settings for type zonefile."""
    rfc2136: RFC2136Settings | None = None
    """Settings for type rfc2136."""
    powerdns: PowerDNSSettings | None = None
    """Settings for type powerdns."""

    @model_validator(mode="after")
    def _settings_match_type(self) -> DNSBackendSpec:
        for backend_type in BACKEND_TYPES:
            if (self.type == backend_type) != (getattr(self, backend_type) is not None):
                raise ValueError(f"{backend_type} settings must be set when type is {backend_type}, and only then")
        return self


class DNSBackendStatus(StatusBase):
    """Observed state of a DNSBackend."""

    zone_count: Annotated[int, Field(ge=0)] | None = None
    """Zones served by this backend."""
