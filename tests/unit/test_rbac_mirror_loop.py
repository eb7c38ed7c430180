"""The RBAC mirror's task never dies quietly: a failing pass is logged with its traceback, tried
again with backoff, and the grants table catches up (a real SQLite store; the failure injected)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from siteplane.rbac.mirror import Binding, GrantRow, RoleKey, Subject, all_grants
from siteplane.rbac.rules import Rule
from siteplane.reconcile.rbac_mirror import MirrorLoop, RbacMirror
from siteplane.store.database import make_engine
from siteplane.store.migrate import upgrade
from siteplane.store.unit_of_work import Store

ROLE = RoleKey("ClusterRole", None, "siteplane:site-viewer")
RULES = (Rule(frozenset({"siteplane.io"}), frozenset({"sites"}), frozenset({"get"})),)
BINDING = Binding("RoleBinding", "team", "b", ROLE, (Subject("User", "erin"),))


@pytest.mark.parametrize("where", ["computing the rows", "writing the rows"])
def test_a_failing_pass_is_logged_retried_and_the_grants_table_catches_up(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, where: str
) -> None:
    url = f"sqlite:///{tmp_path / 'siteplane.db'}"
    upgrade(url)
    store = Store(make_engine(url))
    mirror = RbacMirror(store)
    failures = [2]

    def failing_once(real):  # type: ignore[no-untyped-def]
        def run(*args):  # type: ignore[no-untyped-def]
            if failures[0]:
                failures[0] -= 1
                raise RuntimeError(f"injected while {where}")
            return real(*args)

        return run

    def desired() -> list[GrantRow]:
        return all_grants([BINDING], {ROLE: RULES})

    if where == "writing the rows":
        mirror.sync = failing_once(mirror.sync)  # type: ignore[method-assign]
    else:
        desired = failing_once(desired)

    def live_grants() -> int:
        with store.unit_of_work() as uow:
            return len(uow.grants.live())

    async def run() -> tuple[int, float | None, float | None]:
        loop = MirrorLoop(mirror, debounce=0.01)
        loop.trigger(desired)
        failing = None
        for _ in range(200):
            await asyncio.sleep(0.05)
            failing = failing or loop.failing_since
            # The rows are committed a moment before the loop notes that its pass succeeded.
            if live_grants() and loop.failing_since is None:
                break
        await loop.stop()
        return live_grants(), failing, loop.failing_since

    with caplog.at_level(logging.ERROR, logger="siteplane.reconcile.rbac_mirror"):
        rows, failing_meanwhile, failing_after = asyncio.run(run())
    assert rows == 1, "the grants table caught up"
    assert failing_meanwhile is not None and failing_after is None
    failed = [r for r in caplog.records if "mirroring RBAC into the database failed" in r.getMessage()]
    assert len(failed) == 2 and all(r.exc_info for r in failed), "each failure logged with its traceback"
    store.engine.dispose()
