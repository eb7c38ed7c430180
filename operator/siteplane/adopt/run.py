"""Adopting every zone of a source: read, convert, write, with progress, and one report at the end.

A zone that cannot be read or described is a finding in the report and the run goes on with the
next: one broken zone among thousands must not stop a migration, nor pass unnoticed.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from siteplane.adopt.convert import (
    NOT_ADOPTED,
    ZONE_LEVEL,
    Adoption,
    AdoptionCheckFailed,
    AdoptOptions,
    Finding,
    adopt_zone,
)
from siteplane.adopt.output import write_directory, write_stream
from siteplane.adopt.sources import Source, SourceError

PROGRESS_EVERY = 1.0  # seconds between progress lines on stderr


@dataclass
class Run:
    adoptions: list[Adoption] = field(default_factory=list)
    failures: list[Finding] = field(default_factory=list)  # zones that could not be read or checked
    seconds: float = 0.0

    @property
    def findings(self) -> list[Finding]:
        return [f for a in self.adoptions for f in a.findings] + self.failures


def adopt_all(
    source: Source,
    options: AdoptOptions,
    out_dir: Path | None,
    stream: IO[str] | None,
    progress: IO[str] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Run:
    run, zones, progress = Run(), source.zones(), progress or sys.stderr
    started = last = clock()
    for done, zone in enumerate(zones, 1):
        try:
            adoption = adopt_zone(zone, source.read(zone), options)
        except (SourceError, AdoptionCheckFailed) as error:
            run.failures.append(Finding(zone, ZONE_LEVEL, "", str(error), NOT_ADOPTED))
        else:
            run.adoptions.append(adoption)
            if out_dir is not None:
                write_directory(adoption, out_dir)
            if stream is not None:
                write_stream(adoption, stream)
        now = clock()
        if len(zones) > 1 and (now - last >= PROGRESS_EVERY or done == len(zones)):
            adopted = sum(1 for a in run.adoptions if a.adopted)
            print(f"adopted {adopted}/{len(zones)} zones ({done} read)", file=progress, flush=True)
            last = now
    run.seconds = clock() - started
    return run
