"""Spec acceptance: the first thing every reconcile does, and all the foundation does so far.

The CRD schema already rejects what it can at ``kubectl apply``; this re-checks the spec with the
pydantic model (webhooks and schemas can be bypassed, or be older than the operator) and turns a
spec that is still wrong into an ``Accepted=False`` condition naming the field, instead of an
exception or a crash loop.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from siteplane.api.conditions import ConditionChange, describe_validation_error, merge_conditions, status_patch
from siteplane.api.kinds import Kind

ACCEPTED = "Accepted"
READY = "Ready"


def assess_spec(kind: Kind, spec: Mapping[str, Any]) -> tuple[bool, list[ConditionChange]]:
    """(valid, condition changes) for one object's spec."""
    try:
        kind.spec.model_validate(dict(spec))
    except ValidationError as error:
        message = describe_validation_error(error)
        return False, [
            ConditionChange(ACCEPTED, "False", "InvalidSpec", message),
            ConditionChange(READY, "False", "InvalidSpec", message),
        ]
    return True, [
        ConditionChange(ACCEPTED, "True", "SpecValid", "the spec is valid"),
        ConditionChange(READY, "Unknown", "Pending", f"the {kind.kind} is accepted and waits for reconciliation"),
    ]


def acceptance_status(
    kind: Kind, spec: Mapping[str, Any], status: Mapping[str, Any], generation: int | None
) -> dict[str, Any]:
    """The status fields to write for ``spec``: empty when the status already says it all."""
    _, changes = assess_spec(kind, spec)
    desired = {
        "observedGeneration": generation,
        "conditions": merge_conditions(status.get("conditions") or [], changes, generation),
    }
    return status_patch(status, desired)
