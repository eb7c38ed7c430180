"""``make demo``: the whole product on embedded defaults, started and stopped in one go.

Starts the local control plane, migrates a SQLite database, runs the operator (as its own
process, the way it runs anywhere else) with zone files, applies manifests/examples/ (a few
zones, sites and records, two AccessGrants and one deliberate conflict) through its admission
webhook, waits until everything is Ready, shows a refused escalation and the database's answers to
"may this user...", prints ``kubectl get siteplane``, one rendered zone file and a summary from the
database, starts the dashboard API and its page (``siteplane serve``) and prints its URL with a token
to sign in with, and stops everything it started. With ``--keep`` (``make demo KEEP=1``) everything
stays up until Ctrl-C, so a person can open the page.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request

from harness.controlplane.cluster import ControlPlane, running
from harness.dashboard import DashboardServer
from harness.operator_runner import OperatorProcess
from harness.paths import EXAMPLES_DIR, REPO_ROOT
from harness.server import free_port

DEMO_DIR = REPO_ROOT / ".demo"
ZONE_DIR = DEMO_DIR / "zones"
DATABASE_URL = f"sqlite:///{DEMO_DIR / 'siteplane.db'}"
ROLES = REPO_ROOT / "manifests" / "rbac" / "roles.yaml"
WEBHOOK = "demo.siteplane.io"
ESCALATION = """
apiVersion: siteplane.io/v1alpha1
kind: AccessGrant
metadata:
  name: carol-takes-dns
spec:
  subjects: [{kind: User, name: carol}]
  resources: [dnszones, dnsrecords]
  access: edit
"""


def _step(message: str) -> None:
    print(f"\n==> {message}", flush=True)


def _siteplane(*args: str) -> str:
    env = {**os.environ, "SITEPLANE_DATABASE_URL": DATABASE_URL}
    return subprocess.run(
        [sys.executable, "-m", "siteplane", *args], env=env, check=True, capture_output=True, text=True
    ).stdout


def _siteplane_answer(*args: str) -> str:
    """The output of a siteplane command whose exit status is its answer (``can``: 1 means no)."""
    env = {**os.environ, "SITEPLANE_DATABASE_URL": DATABASE_URL}
    result = subprocess.run([sys.executable, "-m", "siteplane", *args], env=env, capture_output=True, text=True)
    return result.stdout.strip() or result.stderr.strip()


def _wait_for_webhook(plane: ControlPlane) -> None:
    """Until the operator has registered its webhook (with its CA); grants applied earlier are not admitted."""
    deadline = time.monotonic() + 60
    while True:
        found = plane.kubectl("get", "validatingwebhookconfiguration", WEBHOOK, "-o", "json", check=False)
        # Registered means at least one webhook, each with its CA: the configuration may exist a
        # moment before its webhooks are filled in.
        hooks = json.loads(found.stdout).get("webhooks") if found.returncode == 0 else None
        if hooks and all(hook.get("clientConfig", {}).get("caBundle") for hook in hooks):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"the operator did not register ValidatingWebhookConfiguration {WEBHOOK}")
        time.sleep(0.3)


def _who(dashboard: DashboardServer, token: str) -> str:
    """Who the API says the token is: proof that it signs in."""
    request = urllib.request.Request(f"{dashboard.url}api/v1/me", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        me = json.load(response)
    groups = [g for g in me["groups"] if not g.startswith("system:")]
    return f"{me['user']} ({', '.join(groups)})"


def _wait_for_ctrl_c() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    # Ctrl-C must reach us even when started in the background (`&`), where SIGINT arrives ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    print("\nEverything keeps running; Ctrl-C stops it.", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        while True:
            signal.pause()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.demo", description="the whole product, then stop")
    parser.add_argument("--keep", action="store_true", help="keep everything running until Ctrl-C")
    options = parser.parse_args(argv)
    shutil.rmtree(DEMO_DIR, ignore_errors=True)
    DEMO_DIR.mkdir()
    started = time.monotonic()
    _step("siteplane db upgrade (SQLite)")
    print(_siteplane("db", "upgrade"), end="")
    _step("starting the local control plane (etcd, kube-apiserver, kube-controller-manager)")
    with running(DEMO_DIR / "cluster") as plane:
        print(f"up in {plane.startup_seconds:.1f}s at {plane.server}; KUBECONFIG={plane.kubeconfig}")
        _step(f"applying the shipped roles {ROLES.relative_to(REPO_ROOT)}")
        print(plane.kubectl("apply", "-f", str(ROLES)).stdout, end="")
        _step("starting the operator: siteplane run (zone files in .demo/zones, admission webhook on loopback)")
        webhook = {"SITEPLANE_WEBHOOK_LISTEN": f"127.0.0.1:{free_port()}", "SITEPLANE_WEBHOOK_CONFIGURATION": WEBHOOK}
        with OperatorProcess(plane.kubeconfig, DATABASE_URL, ZONE_DIR, (), DEMO_DIR / "operator.log", webhook):
            _wait_for_webhook(plane)
            _step(f"applying {EXAMPLES_DIR.relative_to(REPO_ROOT)}/")
            print(plane.kubectl("apply", "-f", str(EXAMPLES_DIR)).stdout, end="")
            _step("waiting until zones, records and sites are Ready (www-new is a deliberate conflict)")
            for kind in ("dnszones", "dnsrecords"):
                plane.kubectl("wait", kind, "--all", "-A", "--for=condition=Ready", "--timeout=120s")
            for namespace, site in (("team-a", "www"), ("team-a", "blog"), ("team-b", "shop"), ("team-b", "landing")):
                plane.kubectl("wait", "-n", namespace, f"site/{site}", "--for=condition=Ready", "--timeout=120s")
            plane.kubectl(
                "wait",
                "-n",
                "team-a",
                "site/www-new",
                '--for=jsonpath={.status.conditions[?(@.type=="Ready")].reason}=DomainConflict',
                "--timeout=120s",
            )
            plane.kubectl("wait", "accessgrants", "--all", "-A", "--for=condition=Ready", "--timeout=60s")
            _step("carol (an access manager who holds no DNS rights) tries to grant herself DNS editing")
            refused = plane.kubectl("apply", "-n", "team-a", "-f", "-", user="carol", stdin=ESCALATION, check=False)
            print(refused.stderr.strip())
            _step("siteplane can: the dashboard's permission check, from the database's mirror of RBAC")
            # The mirror follows RBAC within moments of a change; wait until it has the demo's grants.
            deadline = time.monotonic() + 30
            while _siteplane_answer("can", "erin", "get", "sites", "-n", "team-a", "--name", "www") != "yes":
                if time.monotonic() > deadline:
                    raise TimeoutError("the database never mirrored erin's grant")
                time.sleep(0.2)
            for args in (
                ("bob", "create", "dnsrecords", "-n", "team-a", "-g", "dns-team"),
                ("bob", "create", "sites", "-n", "team-a", "-g", "dns-team"),
                ("erin", "get", "sites", "-n", "team-a", "--name", "www"),
                ("erin", "get", "sites", "-n", "team-a", "--name", "blog"),
            ):
                answer = _siteplane_answer("can", *args)
                print(f"siteplane can {' '.join(args)}: {answer}")
            _step("kubectl get siteplane -A")
            print(plane.kubectl("get", "siteplane", "-A").stdout, end="")
            _step("kubectl get site www-new -n team-a: why it is not Ready")
            print(
                plane.kubectl(
                    "get",
                    "site",
                    "www-new",
                    "-n",
                    "team-a",
                    "-o",
                    'jsonpath={.status.conditions[?(@.type=="Ready")].message}',
                ).stdout
            )
            _step(f"the rendered zone file {(ZONE_DIR / 'example.com.zone').relative_to(REPO_ROOT)}")
            print((ZONE_DIR / "example.com.zone").read_text(), end="")
            _step("siteplane db summary")
            print(_siteplane("db", "summary"), end="")
            _step("starting the dashboard API and its page: siteplane serve")
            # bob's static token from the control plane's token file: a person (group dns-team, whom
            # the examples' AccessGrant lets edit DNS in team-a), not a ServiceAccount no grant names.
            token = plane.token("bob")
            with DashboardServer(DEMO_DIR / "dashboard", kubeconfig=plane.kubeconfig, database_url=DATABASE_URL) as api:
                print(f"the page: {api.url}  (API reference: {api.url}docs, OpenAPI: {api.url}openapi.json)")
                print(f"sign in as {_who(api, token)} with the token {token}")
                if options.keep:
                    _wait_for_ctrl_c()
                else:
                    print("(make demo KEEP=1 keeps everything running to open the page)")
                _step("stopping the dashboard API, the operator and the control plane")
    print(f"done in {time.monotonic() - started:.0f}s; operator log: {DEMO_DIR / 'operator.log'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
