"""A restart resumes what the previous run stored and served, and reconciles everything else.

The start-up listing of a Site or DNSRecord is skipped only when the database holds its generation
and the object itself says that generation was served (our finalizer, Ready True at that
generation); anything less is queued as on a first start.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any, cast

import pytest

from siteplane.domain.objects import ObjectRef
from siteplane.reconcile.controller import Controller, StartupProgress
from siteplane.reconcile.observed import FINALIZER, ObjectCache, Observed

READY = {"observedGeneration": 3, "conditions": [{"type": "Ready", "status": "True", "reason": "Published"}]}
SERVED = Observed(ObjectRef("Site", "team-a", "www", "uid-www"), "", 3, "10", {}, READY, (FINALIZER,))


def _controller() -> Controller:
    no = cast(Any, None)  # parts a start-up listing never reaches
    return Controller({}, ObjectCache(), no, no, no, workers=1)


@pytest.mark.parametrize(
    ("case", "listed", "stored", "queued"),
    [
        ("stored and served as it stands", SERVED, {"uid-www": 3}, False),
        ("a new generation since the last run", replace(SERVED, generation=4), {"uid-www": 3}, True),
        ("never stored (created while the operator was down)", SERVED, {}, True),
        (
            "stored, but its status is of an older generation",
            replace(SERVED, status={**READY, "observedGeneration": 2}),
            {"uid-www": 3},
            True,
        ),
        (
            "stored, but not Ready (a conflict, a refusal, a sync not yet done)",
            replace(SERVED, status={"observedGeneration": 3, "conditions": [{"type": "Ready", "status": "False"}]}),
            {"uid-www": 3},
            True,
        ),
        ("stored, with no status at all", replace(SERVED, status={}), {"uid-www": 3}, True),
        ("our finalizer is missing", replace(SERVED, finalizers=()), {"uid-www": 3}, True),
        ("being deleted", replace(SERVED, deleting=True), {"uid-www": 3}, True),
        (
            "another object of the same name",
            replace(SERVED, ref=replace(SERVED.ref, uid="uid-new")),
            {"uid-www": 3},
            True,
        ),
    ],
)
def test_a_restart_queues_only_what_the_previous_run_did_not_store_and_serve(
    case: str, listed: Observed, stored: dict[str, int], queued: bool
) -> None:
    async def go() -> bool:
        controller = _controller()
        controller.progress = StartupProgress(expected=1)
        controller.resume(dict(stored))
        controller.observe("Site", None, _body(listed))
        return bool(controller.queue.waiting())

    assert asyncio.run(go()) is queued, case


def test_a_resumed_object_counts_towards_the_start_and_its_next_change_is_reconciled() -> None:
    async def go() -> tuple[bool, int, bool]:
        controller = _controller()
        controller.progress = StartupProgress(expected=1)
        controller.resume({"uid-www": 3})
        controller.observe("Site", None, _body(SERVED))
        done, resumed = controller.progress.done, controller.progress.resumed
        controller.observe("Site", "MODIFIED", _body(replace(SERVED, generation=4, resource_version="11")))
        return done, resumed, bool(controller.queue.waiting())

    assert asyncio.run(go()) == (True, 1, True)


def _body(obj: Observed) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": obj.ref.name,
        "namespace": obj.ref.namespace,
        "uid": obj.ref.uid,
        "generation": obj.generation,
        "resourceVersion": obj.resource_version,
        "finalizers": list(obj.finalizers),
    }
    if obj.deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {"metadata": meta, "spec": dict(obj.spec), "status": dict(obj.status)}
