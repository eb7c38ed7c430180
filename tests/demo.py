"""``make demo``: the whole product on embedded defaults, started and stopped in one go.

Starts the local control plane, runs the operator (as its own process, the way it runs anywhere
else), applies manifests/examples/, waits until the operator has handled every object, prints
``kubectl get siteplane``, and stops everything it started.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

from tests.controlplane.cluster import running
from tests.corpus import EXAMPLES_DIR, REPO_ROOT

DEMO_DIR = REPO_ROOT / ".demo"
KINDS = "sites,dnszones,dnsrecords,accessgrants,dnsbackends"


def _step(message: str) -> None:
    print(f"\n==> {message}", flush=True)


def main() -> int:
    shutil.rmtree(DEMO_DIR, ignore_errors=True)
    DEMO_DIR.mkdir()
    started = time.monotonic()
    _step("starting the local control plane (etcd, kube-apiserver, kube-controller-manager)")
    with running(DEMO_DIR / "cluster") as plane:
        print(f"up in {plane.startup_seconds:.1f}s at {plane.server}; KUBECONFIG={plane.kubeconfig}")
        _step("starting the operator: siteplane run")
        log = open(DEMO_DIR / "operator.log", "wb")  # noqa: SIM115 - handed to the child
        operator = subprocess.Popen(
            [sys.executable, "-m", "siteplane", "run"],
            env={**os.environ, "KUBECONFIG": str(plane.kubeconfig)},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            _step(f"applying {EXAMPLES_DIR.relative_to(REPO_ROOT)}/")
            print(plane.kubectl("apply", "-f", str(EXAMPLES_DIR)).stdout, end="")
            _step("waiting until the operator has handled every object")
            plane.kubectl("wait", KINDS, "--all", "-A", "--for=condition=Accepted", "--timeout=120s")
            _step("kubectl get siteplane -A")
            print(plane.kubectl("get", "siteplane", "-A").stdout, end="")
        finally:
            _step("stopping the operator and the control plane")
            operator.terminate()
            try:
                operator.wait(timeout=30)
            except subprocess.TimeoutExpired:
                operator.kill()
            log.close()
    print(f"done in {time.monotonic() - started:.0f}s; operator log: {DEMO_DIR / 'operator.log'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
