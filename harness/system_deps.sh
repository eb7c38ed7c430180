#!/usr/bin/env bash
# Installs the Debian packages the test suite runs for real (PostgreSQL, DNS servers and tools, a
# headless Chromium for the dashboard page), only those that are missing. Idempotent and quiet: a
# run with everything present prints nothing and touches no package list. Safe in CI (root, no stdin).
#
# Presence is judged by the file a test actually executes, not by `dpkg -l`: a package can be
# "installed" yet lack the binary (removed, half-configured), and a binary is what the tests need.
set -euo pipefail

# One "path-glob package" pair per line. The glob names a file the tests need; the package is
# installed when nothing matches it. Several pairs may name the same package.
REQUIREMENTS=(
    # harness/postgres.py runs initdb and postgres directly from the newest version's bin dir.
    "/usr/lib/postgresql/*/bin/initdb postgresql"
    # The zone-file tests check generated zones with it when it is there.
    "/usr/bin/named-checkzone bind9-utils"
    # The live-backend tests run a real BIND 9 (RFC 2136 + TSIG, rndc addzone) and PowerDNS.
    "/usr/sbin/named bind9"
    "/usr/sbin/rndc bind9-utils"
    "/usr/sbin/pdns_server pdns-server"
    "/usr/lib/*/pdns/libgsqlite3backend.so pdns-backend-sqlite3"
    # The dashboard page's browser test drives Debian's Chromium through its chromedriver
    # (Selenium, pointed at these two files: no browser is downloaded).
    "/usr/bin/chromium chromium"
    "/usr/bin/chromedriver chromium-driver"
    # The image test builds the Containerfile with buildah (chroot isolation: no OCI runtime)
    # from a Debian base that mmdebstrap makes (harness/image/build.py).
    "/usr/bin/buildah buildah"
    "/usr/bin/mmdebstrap mmdebstrap"
    # The node tests run the chart on a real node (harness/node/): containerd and runc run the pods,
    # the CNI bridge plugin wires them, kube-proxy programs iptables, the teardown flushes conntrack.
    "/usr/bin/containerd containerd"
    "/usr/sbin/runc runc"
    "/usr/lib/cni/bridge containernetworking-plugins"
    "/usr/lib/cni/host-local containernetworking-plugins"
    "/usr/lib/cni/portmap containernetworking-plugins"
    "/usr/sbin/iptables iptables"
    "/usr/sbin/conntrack conntrack"
    "/usr/sbin/ip iproute2"
    # The node's pause (sandbox) image is upstream's pause.c, compiled statically.
    "/usr/bin/gcc gcc"
    "/usr/lib/*/libc.a libc6-dev"
)

missing=()
for requirement in "${REQUIREMENTS[@]}"; do
    read -r glob package <<<"$requirement"
    if ! compgen -G "$glob" >/dev/null; then
        # Keep the list free of duplicates so each package is reported once.
        if [[ " ${missing[*]-} " != *" $package "* ]]; then
            missing+=("$package")
        fi
    fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
    exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
    SUDO=(sudo -n)
else
    SUDO=()
fi

# Through env, not export: sudo would drop an exported variable. Another apt run (an unattended
# upgrade, a parallel job) may hold the dpkg lock for a while: wait for it rather than fail.
APT=(env DEBIAN_FRONTEND=noninteractive apt-get -qq -o DPkg::Lock::Timeout=300)
# The package lists are only fetched when something must be installed: it is the slow part.
"${SUDO[@]}" "${APT[@]}" update </dev/null >/dev/null
"${SUDO[@]}" "${APT[@]}" install -y --no-install-recommends "${missing[@]}" </dev/null >/dev/null
for package in "${missing[@]}"; do
    echo "system_deps: installed $package"
done

# A package that installs without the file we rely on (renamed, moved) must fail here, not as a
# puzzling skip or error deep in the test run.
for requirement in "${REQUIREMENTS[@]}"; do
    read -r glob package <<<"$requirement"
    if ! compgen -G "$glob" >/dev/null; then
        echo "system_deps: $package is installed but $glob is still missing" >&2
        exit 1
    fi
done
