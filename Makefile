# siteplane developer commands. Everything a command needs, it installs itself.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cksum < pyproject.toml | cut -d' ' -f1)

.PHONY: help venv deps controlplane tools image install-manifests lint test test-unit demo cluster crds bench bench-dashboard clean

help:
	@echo "make test     install what is needed, lint, type-check and run the whole suite"
	@echo "make test-unit  the pure tests only: no server, no control plane (under a minute)"
	@echo "make demo     local control plane + operator + examples + dashboard, then stop everything (KEEP=1: until Ctrl-C)"
	@echo "make cluster  start the local control plane and print its KUBECONFIG"
	@echo "make lint     ruff, mypy, and a check that crds/ matches the API models"
	@echo "make crds     regenerate crds/ from operator/siteplane/api"
	@echo "make image    build the image from the Containerfile (buildah, no registry; root) into ~/.cache/siteplane/image"
	@echo "make install-manifests  regenerate manifests/install/ and the chart's copies of crds/ and the shipped roles"
	@echo "make bench    the convergence benchmark (SIZES=100,1000,10000,50000 SETUPS=sqlite+zonefile,postgresql+bind)"
	@echo "make bench-dashboard  the dashboard API at 10,000 Sites: lists, throughput against /healthz, live updates"

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required")'
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check --upgrade pip
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $@

venv: $(STAMP)

# Debian packages the tests run for real: PostgreSQL, BIND, PowerDNS, Chromium. Only when missing.
deps:
	bash harness/system_deps.sh

# etcd, kube-apiserver, kube-controller-manager and, for the node tests (tests/node/), kube-scheduler,
# kubelet and kube-proxy, built from Go modules into a cache outside the repository
# (~/.cache/siteplane), only when missing.
controlplane: venv
	$(PY) harness/controlplane/build.py build

# helm and kubeconform, built from Go modules into ~/.cache/siteplane/tools (keyed by version),
# only when missing: the chart's validation runs them.
tools:
	$(PYTHON) harness/tools/build.py

# The image from the Containerfile, with buildah and a local Debian base (harness/image/build.py).
image: venv deps
	$(PY) -m harness.image.build

# manifests/install/ (the kustomize base) and the chart's copies of crds/ and the shipped roles,
# generated from charts/siteplane; a test fails when they are out of date.
install-manifests: venv tools
	$(PY) -m harness.install_manifests

lint: venv
	$(VENV)/bin/ruff check operator tests bench harness
	$(VENV)/bin/ruff format --check operator tests bench harness
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports
	$(PY) -m siteplane crds --check

test: lint deps controlplane tools
	$(VENV)/bin/pytest

# The pure tests: no server, no control plane, no Debian packages, no network.
test-unit: venv
	$(VENV)/bin/pytest tests/unit

# KEEP=1: keep the control plane, the operator and the dashboard running until Ctrl-C.
demo: controlplane
	$(PY) -m harness.demo $(if $(KEEP),--keep)

cluster: controlplane
	$(PY) -m harness.controlplane.cluster

# Not part of `make test`: the full run takes long. Results: bench/results/latest.json and .png.
SIZES  ?= 100,1000,10000,50000
SETUPS ?= sqlite+zonefile,postgresql+bind
bench: venv deps controlplane
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -e '.[dev,bench]'
	$(PY) -m bench.run --sizes $(SIZES) --setups $(SETUPS) $(BENCH_ARGS)

# Not part of `make test` either (7 to 16 minutes on the shared machine). Results: bench/results/latest-dashboard.json.
DATABASES ?= sqlite,postgresql
bench-dashboard: venv deps controlplane
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -e '.[dev,bench]'
	$(PY) -m bench.dashboard --databases $(DATABASES) $(BENCH_ARGS)

crds: venv tools
	$(PY) -m siteplane crds
	$(PY) -m harness.install_manifests

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .demo
