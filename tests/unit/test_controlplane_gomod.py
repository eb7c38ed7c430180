"""The test control plane's go.mod is derived from upstream's, never typed by hand."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.controlplane import build

UPSTREAM_SNIPPET = """module k8s.io/kubernetes

go 1.24.0

godebug default=go1.24

require (
\tgo.etcd.io/etcd/server/v3 v3.6.4 // indirect
)

replace (
\tk8s.io/api => ./staging/src/k8s.io/api
\tk8s.io/apimachinery => ./staging/src/k8s.io/apimachinery
{more}
)
"""


@pytest.mark.parametrize(("kube", "staging"), [("v1.34.4", "v0.34.4"), ("v1.33.13", "v0.33.13")])
def test_staging_modules_are_published_as_v0_minor_patch(kube: str, staging: str) -> None:
    assert build.staging_tag(kube) == staging


def test_render_points_every_staging_module_at_its_published_tag() -> None:
    more = "\n".join(f"\tk8s.io/extra{i} => ./staging/src/k8s.io/extra{i}" for i in range(20))
    rendered = build.render_gomod(UPSTREAM_SNIPPET.format(more=more), "v1.34.4")
    replaces = build.replaces_in(rendered)
    assert len(replaces) == 22
    assert set(replaces.values()) == {"v0.34.4"}
    assert "godebug default=go1.24" in rendered
    assert "go.etcd.io/etcd/server/v3 v3.6.4" in rendered
    assert "k8s.io/kubernetes v1.34.4" in rendered


def test_render_refuses_an_upstream_gomod_it_does_not_understand() -> None:
    with pytest.raises(ValueError, match="staging replaces"):
        build.render_gomod("module k8s.io/kubernetes\n", "v1.34.4")


def test_binaries_are_cached_outside_the_repository() -> None:
    repo = Path(__file__).resolve().parents[2]
    assert not build.bin_dir().resolve().is_relative_to(repo)
    assert build.KUBE_VERSION in str(build.bin_dir())
