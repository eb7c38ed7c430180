"""The dashboard page's files: served by the API with a strict policy, shipped in the wheel, and
free of anything that would load from elsewhere or turn data into HTML. (What the page does is
tested in a real browser: tests/cluster/test_dashboard_page.py.)"""

from __future__ import annotations

import re
import tomllib
from fnmatch import fnmatch
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from siteplane.config import Config
from siteplane.dashboard.app import PAGE_DIR, create_app

REPO = Path(__file__).resolve().parents[2]
FILES = sorted(path for path in PAGE_DIR.iterdir() if path.is_file())
SVG_NAMESPACE = "http://www.w3.org/2000/svg"
# Ways a string becomes markup or code in a browser; the page builds its DOM from text only.
HTML_SINKS = re.compile(r"\.(innerHTML|outerHTML)\s*[+]?=|insertAdjacentHTML|document\.write|\beval\(|new Function\(")


@pytest.fixture
def client() -> TestClient:
    # Not entered: the page's routes need neither the database nor the Kubernetes API.
    return TestClient(create_app(Config(database_url="sqlite://")))


def test_the_page_is_served_with_a_policy_that_allows_this_server_only(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    for directive in ("default-src 'none'", "script-src 'self'", "connect-src 'self'", "form-action 'none'"):
        assert directive in policy
    assert page.headers["referrer-policy"] == "no-referrer"
    assert client.head("/").status_code == 200
    for path in FILES:
        assert client.get(f"/static/{path.name}").status_code == 200
    assert "/" not in client.get("/openapi.json").json()["paths"]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_nothing_is_loaded_from_elsewhere(path: Path) -> None:
    text = path.read_text(encoding="utf-8").replace(SVG_NAMESPACE, "")
    assert not re.search(r"(?i)(https?:)?//[a-z0-9-]+\.[a-z0-9.-]+", text)


def test_no_data_becomes_html() -> None:
    script = (PAGE_DIR / "app.js").read_text(encoding="utf-8")
    assert not HTML_SINKS.search(script)
    page = (PAGE_DIR / "index.html").read_text(encoding="utf-8")
    assert re.findall(r"<script\b[^>]*>", page) == ['<script type="module" src="/static/app.js">']
    assert not re.search(r"\s(on[a-z]+|style)\s*=", page)
    # The token field has no name: a form submitted without the script cannot put it in a URL.
    token = re.search(r"<input[^>]*id=\"token\"[^>]*>", page)
    assert token and " name=" not in token.group(0)


def test_the_wheel_ships_every_file_of_the_page() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["siteplane.dashboard"]
    for path in FILES:
        assert any(fnmatch(f"page/{path.name}", pattern) for pattern in patterns), path.name
