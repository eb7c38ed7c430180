"""The example manifests and the invalid-manifest corpus, loaded for the tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from harness.paths import EXAMPLES_DIR

INVALID_DIR = Path(__file__).resolve().parent / "invalid"


def load_documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def example_documents() -> list[tuple[str, dict[str, Any]]]:
    """(file name, document) for every example, in apply order."""
    return [(p.name, doc) for p in sorted(EXAMPLES_DIR.glob("*.yaml")) for doc in load_documents(p)]


@dataclass(frozen=True)
class InvalidCase:
    """One manifest the apiserver must reject; earlier documents in its file are setup."""

    name: str
    path: Path
    setup: list[dict[str, Any]]
    manifest: dict[str, Any]
    expect: list[str]  # substrings the rejection must contain, the first naming the field

    @property
    def is_update(self) -> bool:
        return bool(self.setup)


def invalid_cases() -> list[InvalidCase]:
    cases = []
    for path in sorted(INVALID_DIR.glob("*.yaml")):
        expect = [
            line.split(":", 1)[1].strip() for line in path.read_text().splitlines() if line.startswith("# expect:")
        ]
        docs = load_documents(path)
        cases.append(InvalidCase(path.stem, path, docs[:-1], docs[-1], expect))
    return cases
