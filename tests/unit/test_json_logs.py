"""SITEPLANE_LOG_FORMAT=json: every operator log line is one JSON object (kopf's JSON format)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from siteplane.config import Config
from siteplane.handlers.lifecycle import configure_logging


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.parametrize(("log_format", "is_json"), [("json", True), ("text", False)])
def test_the_log_format_setting_chooses_json_lines_or_text(
    log_format: str, is_json: bool, capsys: pytest.CaptureFixture[str], restore_logging: None
) -> None:
    configure_logging(Config(log_format=log_format))
    logging.getLogger("siteplane.reconcile.zone_sync").warning("zone sync failed: %s", "timeout")
    line = capsys.readouterr().err.strip().splitlines()[-1]
    if not is_json:
        assert "[WARNING ] zone sync failed: timeout" in line
        return
    record = json.loads(line)
    assert record["message"] == "zone sync failed: timeout"
    assert record["severity"] == "warn"
    assert "timestamp" in record
