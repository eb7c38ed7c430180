"""Kinds whose reconciliation is still to come (AccessGrant) get their spec checked and reported."""

from __future__ import annotations

from typing import Any

import kopf

from siteplane.api.common import API_GROUP, API_VERSION
from siteplane.api.kinds import KINDS, Kind
from siteplane.reconcile.acceptance import acceptance_status


def _register(kind: Kind) -> None:
    @kopf.on.resume(API_GROUP, API_VERSION, kind.plural, id="accept")
    @kopf.on.create(API_GROUP, API_VERSION, kind.plural, id="accept")
    @kopf.on.update(API_GROUP, API_VERSION, kind.plural, id="accept", field="spec")
    def accept(spec: kopf.Spec, status: kopf.Status, meta: kopf.Meta, patch: kopf.Patch, **_: Any) -> None:
        for key, value in acceptance_status(kind, spec, status, meta.get("generation")).items():
            patch.status[key] = value


for _kind in KINDS:
    if _kind.kind == "AccessGrant":
        _register(_kind)
