"""The siteplane command as people run it: schema checks, migrations, the demo."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.cluster
REPO = Path(__file__).resolve().parents[2]


def _siteplane(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "siteplane", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


def test_operator_refuses_to_start_on_a_schema_that_is_behind(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    refused = _siteplane("run", "--database-url", url)
    assert refused.returncode == 2
    assert "siteplane db upgrade" in refused.stderr and "is empty" in refused.stderr
    upgraded = _siteplane("db", "upgrade", "--database-url", url)
    assert upgraded.returncode == 0, upgraded.stderr
    summary = _siteplane("db", "summary", "--database-url", url)
    assert "sites: 0 live" in summary.stdout


def test_make_demo_runs_the_whole_product_and_stops_everything() -> None:
    demo = subprocess.run(
        [sys.executable, "-m", "harness.demo"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    out = demo.stdout
    assert "site.siteplane.io/www-new" in out and "is already claimed by Site team-a/www" in out
    assert "$ORIGIN example.com." in out
    assert "carol may not grant what they do not hold: they lack get dnszones in namespace team-a" in out
    assert "siteplane can bob create dnsrecords -n team-a -g dns-team: yes" in out
    assert "siteplane can bob create sites -n team-a -g dns-team: no" in out
    assert "siteplane can erin get sites -n team-a --name www: yes" in out
    assert "siteplane can erin get sites -n team-a --name blog: no" in out
    assert "example.com                      team-a" in out and "serving" in out
