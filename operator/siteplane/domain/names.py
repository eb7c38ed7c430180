"""Normalised DNS names: lowercase, no trailing dot, relative names with '@' for the apex."""

from __future__ import annotations

import dns.name

APEX = "@"


def normalise(name: str) -> str:
    """An absolute name in our canonical spelling: lowercase, no trailing dot."""
    return name.strip().rstrip(".").lower()


def absolute(name: str) -> str:
    """A host name inside record data, always absolute (trailing dot), validated by dnspython."""
    return dns.name.from_text(normalise(name) + ".").to_text()


def is_within(name: str, zone: str) -> bool:
    """True when ``name`` is ``zone`` itself or below it."""
    name, zone = normalise(name), normalise(zone)
    return name == zone or name.endswith("." + zone)


def relative_to(name: str, zone: str) -> str:
    """``name`` relative to ``zone``: '@' for the apex. ``name`` must be within ``zone``."""
    name, zone = normalise(name), normalise(zone)
    if name == zone:
        return APEX
    if not name.endswith("." + zone):
        raise ValueError(f"{name} is not within {zone}")
    return name[: -len(zone) - 1]


def fqdn(relative: str, zone: str) -> str:
    """The absolute name (no trailing dot) of a name relative to ``zone``."""
    zone = normalise(zone)
    return zone if relative == APEX else f"{normalise(relative)}.{zone}"


def enclosing_zones(name: str) -> list[str]:
    """Every candidate zone name that could hold ``name``, closest first (at least two labels).

    A wildcard domain ``*.shop.example.com`` lives in the zones enclosing ``shop.example.com``
    (or that name itself), never in a zone named after the wildcard.
    """
    labels = normalise(name).split(".")
    if labels and labels[0] == "*":
        labels = labels[1:]
    return [".".join(labels[i:]) for i in range(len(labels) - 1)]
