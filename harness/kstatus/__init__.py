"""kstatus, the library Flux's health checks use, as an oracle for the tests: build.py builds a
small Go program on sigs.k8s.io/cli-utils' kstatus (main.go); ``verdicts`` asks it about objects."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterable, Mapping
from typing import Any

from harness.kstatus.build import build


def verdicts(objects: Iterable[Mapping[str, Any]]) -> list[dict[str, str]]:
    """kstatus' {"status", "message"} for each object, in order (built first when missing)."""
    given = [json.dumps(obj) for obj in objects]
    out = subprocess.run(
        [str(build())], input="\n".join(given), capture_output=True, text=True, check=True, timeout=120
    ).stdout
    found = [dict(json.loads(line)) for line in out.splitlines()]
    if len(found) != len(given) or any("error" in v for v in found):
        raise RuntimeError(f"kstatus oracle: {len(found)} answers for {len(given)} objects: {found}")
    return found
