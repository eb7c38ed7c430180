"""Reading an operator's probe server in tests: its /metrics as samples, its /readyz."""

from __future__ import annotations

import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

Series = tuple[str, tuple[tuple[str, str], ...]]


def get(port: int, path: str) -> tuple[int, str]:
    """(status, body) of a GET on 127.0.0.1:port; (0, reason) when nothing answers."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except OSError as error:
        return 0, str(error)


def scrape(port: int) -> dict[Series, float]:
    """Every sample of /metrics, by (name, sorted labels); empty when nothing answers."""
    status, text = get(port, "/metrics")
    return parse(text) if status == 200 else {}


def parse(text: str) -> dict[Series, float]:
    """Every sample of a /metrics text, by (name, sorted labels)."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def total(samples: dict[Series, float], name: str, **labels: str) -> float:
    """The sum of ``name``'s samples whose labels include ``labels``."""
    return sum(
        value
        for (sample, sample_labels), value in samples.items()
        if sample == name and labels.items() <= dict(sample_labels).items()
    )
