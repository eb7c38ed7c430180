"""The committed go.mod of the test control plane is what upstream's go.mod generates.

Not a unit test: it asks the Go module proxy (or the module cache) for upstream's go.mod.
"""

from __future__ import annotations

from harness.controlplane import build


def test_committed_gomod_matches_what_upstream_gomod_generates() -> None:
    upstream = build.upstream_gomod_text()
    committed = (build.MODULE_DIR / "go.mod").read_text()
    expected = build.replaces_in(build.render_gomod(upstream, build.KUBE_VERSION))
    assert build.replaces_in(committed) == expected
    assert len(expected) >= 30  # about 31 staging modules in 1.33/1.34
    godebug = next(line for line in upstream.splitlines() if line.startswith("godebug"))
    assert godebug in committed
