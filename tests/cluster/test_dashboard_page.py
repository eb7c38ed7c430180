"""The dashboard page in a real headless Chromium, against the real API, operator and control plane.

bob (group dns-team) holds the shipped dns-editor role in a namespace with a zone and a Site. He
signs in with his token, sees the zone but no Site, adds a TXT record through the page's form and
watches it become Ready without a reload: the change reaches the page through the API's event
stream. The screenshot goes to the test's tmp dir, and to docs/images/dashboard.png only when
SITEPLANE_UPDATE_SCREENSHOT=1 (to refresh the committed one on purpose).

The browser is Debian's chromium with its chromedriver (harness/system_deps.sh installs them);
Selenium is pointed at both files, so nothing is downloaded.
"""

from __future__ import annotations

import json
import os
import shutil
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select, WebDriverWait

from harness.controlplane.cluster import ControlPlane
from harness.dashboard import DashboardServer
from harness.manifests import site_doc, zone_doc
from harness.operator_runner import operator_running
from harness.paths import REPO_ROOT
from siteplane.config import Config
from siteplane.store.migrate import upgrade
from tests.reconcile_support import apply, objects, served, wait_all, wait_until

pytestmark = pytest.mark.cluster
ROLES = REPO_ROOT / "manifests" / "rbac" / "roles.yaml"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SCREENSHOT = REPO_ROOT / "docs" / "images" / "dashboard.png"
UPDATE_SCREENSHOT = "SITEPLANE_UPDATE_SCREENSHOT"
# What the page needs beyond /me and the sites list to add a record and see it become Ready.
NEEDED = (
    ("get", "/api/v1/zones"),
    ("get", "/api/v1/records"),
    ("get", "/api/v1/records/{namespace}/{name}"),
    ("get", "/api/v1/records/{namespace}/{name}/history"),
    ("post", "/api/v1/records/{namespace}"),
    ("get", "/api/v1/events"),
)
# Hostile data: shown as text, it must neither become markup nor run.
HOSTILE_TXT = "<img src=x onerror=\"document.title='pwned'\"> <script>document.title='pwned'</script> & \"q\""


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    """Debian's headless Chromium in a fresh profile, through Debian's chromedriver."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not path.exists():
            pytest.fail(f"{path} is missing: `make deps` installs it (harness/system_deps.sh)")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless",
        "--no-sandbox",  # as root, Chromium's sandbox refuses to start
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        "--window-size=1400,900",
    ):
        options.add_argument(flag)
    service = Service(executable_path=str(CHROMEDRIVER), log_output=str(tmp_path / "chromedriver.log"))
    driver = webdriver.Chrome(options=options, service=service)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def dashboard(control_plane: ControlPlane, namespace: str, tmp_path: Path) -> Iterator[DashboardServer]:
    """The operator (in-process) and `siteplane serve` (its own process, a real HTTP server) on one
    database; in ``namespace``, which has a zone and a Site, bob's group (dns-team) holds dns-editor
    and alice's (site-team) site-viewer."""
    url = f"sqlite:///{tmp_path / 'siteplane.db'}"
    upgrade(url)
    config = Config(database_url=url, zone_dir=str(tmp_path / "zones"), namespaces=(namespace,))
    control_plane.kubectl("apply", "--server-side", "-f", str(ROLES))
    for team, role in (("dns-team", "dns-editor"), ("site-team", "site-viewer")):
        control_plane.kubectl(
            "create", "rolebinding", team, f"--clusterrole=siteplane:{role}", f"--group={team}", "-n", namespace
        )
    with operator_running(control_plane.kubeconfig, config):
        apply(
            control_plane,
            namespace,
            [zone_doc("zone", f"{namespace}.example"), site_doc("www", f"www.{namespace}.example", "192.0.2.1")],
        )
        wait_all(control_plane, namespace, "dnszones")
        wait_all(control_plane, namespace, "sites")
        server = DashboardServer(workdir=tmp_path / "dashboard", kubeconfig=control_plane.kubeconfig, database_url=url)
        with server:
            yield server


def _get(server: DashboardServer, path: str, token: str | None = None) -> dict[str, object]:
    request = urllib.request.Request(server.url + path.lstrip("/"))
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=10) as response:
        found: dict[str, object] = json.load(response)
        return found


def _mirrored(server: DashboardServer, token: str, resource: str, verb: str, namespace: str) -> bool:
    """/me shows what the database's mirror of RBAC holds; the page decides on it at sign-in."""
    granted = _get(server, "/api/v1/me", token)["permissions"][resource]  # type: ignore[index]
    return any(n["namespace"] == namespace and verb in n["verbs"] for n in granted["namespaces"])


def _sign_in(driver: WebDriver, server: DashboardServer, token: str, user: str) -> WebDriverWait[WebDriver]:
    """Sign in through the form; the wait that the rest of the test goes on with."""
    wait = WebDriverWait(driver, 30, ignored_exceptions=[StaleElementReferenceException])
    driver.get(server.url)
    wait.until(lambda d: d.find_element(By.ID, "token").is_displayed())
    driver.find_element(By.ID, "token").send_keys(token)
    driver.find_element(By.CSS_SELECTOR, "#sign-in-form button[type=submit]").click()
    wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-signed-in") == user)
    return wait


def _missing_endpoints(server: DashboardServer) -> list[str]:
    paths = _get(server, "/openapi.json")["paths"]
    assert isinstance(paths, dict)
    return [f"{method.upper()} {path}" for method, path in NEEDED if method not in paths.get(path, {})]


def _visible_tabs(driver: WebDriver) -> list[str]:
    return [
        str(tab.get_attribute("data-tab"))
        for tab in driver.find_elements(By.CSS_SELECTOR, "#tabs [data-tab]")
        if tab.is_displayed()
    ]


def _ready(driver: WebDriver, key: str) -> str | None:
    """The Ready status shown in the row of ``key`` (namespace/name); None while there is no row."""
    badges = driver.find_elements(By.CSS_SELECTOR, f'#table tbody tr[data-key="{key}"] [data-ready]')
    return badges[0].get_attribute("data-ready") if badges else None


def _error(driver: WebDriver) -> bool:
    """The page shows an error message."""
    message = driver.find_element(By.ID, "message")
    return message.is_displayed() and "error" in (message.get_attribute("class") or "")


def _click(driver: WebDriver, selector: str) -> bool:
    """Click; a row a change event redrew in between raises StaleElementReference, and the wait tries again."""
    driver.find_element(By.CSS_SELECTOR, selector).click()
    return True


def _screenshot(driver: WebDriver, tmp_path: Path) -> Path:
    shot = tmp_path / "dashboard.png"
    assert driver.save_screenshot(str(shot)), "Chromium saved no screenshot"
    return shot


def test_a_dns_person_adds_a_record_and_watches_it_become_ready(
    dashboard: DashboardServer, browser: WebDriver, control_plane: ControlPlane, namespace: str, tmp_path: Path
) -> None:
    token = control_plane.token("bob")
    wait_until(lambda: _mirrored(dashboard, token, "dnsrecords", "create", namespace), 60, "bob's binding in /me")

    # Sign in with the token: it stays in the tab's session storage, never in the address.
    wait = _sign_in(browser, dashboard, token, "bob")
    assert token not in browser.current_url
    assert browser.execute_script("return sessionStorage.getItem('siteplane.token')") == token
    assert "bob" in browser.find_element(By.ID, "whoami").text

    # A DNS person: zones and records, no sites (no tab, and nothing of the Site anywhere).
    assert _visible_tabs(browser) == ["zones", "records"]
    assert f"www.{namespace}.example" not in browser.find_element(By.TAG_NAME, "body").text

    missing = _missing_endpoints(dashboard)
    assert not missing, f"the page reads endpoints the API does not document: {', '.join(missing)}"

    # The zone, Ready, in the zones list.
    wait.until(lambda d: _ready(d, f"{namespace}/zone") == "True")
    assert f"{namespace}.example" in browser.find_element(By.ID, "table").text

    # Add a record through the form; a marker on the window tells whether the page reloads.
    browser.find_element(By.CSS_SELECTOR, "#tabs [data-tab=records]").click()
    wait.until(lambda d: d.find_element(By.ID, "rf-submit").is_displayed())
    wait.until(lambda d: d.find_element(By.ID, "live").get_attribute("data-state") == "live")
    marker = uuid.uuid4().hex
    browser.execute_script("window.siteplaneTestMarker = arguments[0]", marker)
    Select(browser.find_element(By.ID, "rf-namespace")).select_by_value(namespace)
    browser.find_element(By.ID, "rf-name").send_keys("acme-challenge")
    browser.find_element(By.ID, "rf-zone").send_keys(f"{namespace}.example")
    browser.find_element(By.ID, "rf-record").send_keys("_acme-challenge")
    Select(browser.find_element(By.ID, "rf-type")).select_by_value("TXT")
    browser.find_element(By.ID, "rf-values").send_keys(HOSTILE_TXT)
    browser.find_element(By.ID, "rf-submit").click()

    # It appears, and becomes Ready through the event stream, without a reload.
    key = f"{namespace}/acme-challenge"
    wait.until(lambda d: _ready(d, key) is not None or _error(d))
    assert not _error(browser), browser.find_element(By.ID, "message").text
    WebDriverWait(browser, 120, ignored_exceptions=[StaleElementReferenceException]).until(
        lambda d: _ready(d, key) == "True"
    )
    assert browser.execute_script("return window.siteplaneTestMarker") == marker, "the page reloaded"
    assert int(browser.find_element(By.TAG_NAME, "body").get_attribute("data-live-events") or 0) >= 1

    # A DNSRecord in the cluster, and served.
    records = objects(control_plane, namespace, "dnsrecords")
    (record,) = (o for o in records if o["metadata"]["name"] == "acme-challenge")
    assert record["spec"]["txt"] == [HOSTILE_TXT]
    zone = served(tmp_path / "zones", f"{namespace}.example")
    assert any(name == "_acme-challenge" and rtype == "TXT" for name, rtype, _ in zone)

    # Its values are text on the page: no markup made of them, nothing ran.
    row = browser.find_element(By.CSS_SELECTOR, f'#table tbody tr[data-key="{key}"]')
    assert "<script>" in row.text and "onerror" in row.text
    assert not browser.find_elements(By.CSS_SELECTOR, "#table img, #table script")
    assert browser.title == "siteplane"

    # The detail: its values and its history.
    wait.until(lambda d: _click(d, f'#table tbody tr[data-key="{key}"] button.link'))
    wait.until(lambda d: d.find_element(By.ID, "detail").is_displayed())
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#detail-body table"))
    assert "_acme-challenge" in browser.find_element(By.ID, "detail").text

    shot = _screenshot(browser, tmp_path)
    if os.environ.get(UPDATE_SCREENSHOT) == "1":
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, SCREENSHOT)


def test_a_site_viewer_finds_the_site_and_may_change_nothing(
    dashboard: DashboardServer, browser: WebDriver, control_plane: ControlPlane, namespace: str
) -> None:
    """What works on the API as it is now: sign-in, the sites list with its filters, the detail."""
    token = control_plane.token("alice")
    wait_until(lambda: _mirrored(dashboard, token, "sites", "get", namespace), 60, "alice's binding in /me")

    # A token the cluster does not accept: a message, and still signed out.
    browser.get(dashboard.url)
    WebDriverWait(browser, 30).until(lambda d: d.find_element(By.ID, "token").is_displayed())
    browser.find_element(By.ID, "token").send_keys("not-a-token")
    browser.find_element(By.CSS_SELECTOR, "#sign-in-form button[type=submit]").click()
    WebDriverWait(browser, 30).until(_error)
    assert "does not accept" in browser.find_element(By.ID, "message").text
    assert browser.execute_script("return sessionStorage.getItem('siteplane.token')") is None

    wait = _sign_in(browser, dashboard, token, "alice")
    assert _visible_tabs(browser) == ["sites"]
    key = f"{namespace}/www"
    wait.until(lambda d: _ready(d, key) == "True")

    # Search: the domain contains the text, or nothing matches.
    search = browser.find_element(By.CSS_SELECTOR, "#filters input[name=q]")
    search.send_keys("no-such-domain")
    browser.find_element(By.CSS_SELECTOR, "#filters button[type=submit]").click()
    wait.until(lambda d: d.find_element(By.ID, "empty").is_displayed())
    search = browser.find_element(By.CSS_SELECTOR, "#filters input[name=q]")
    search.clear()
    search.send_keys(f"www.{namespace}")
    browser.find_element(By.CSS_SELECTOR, "#filters button[type=submit]").click()
    wait.until(lambda d: _ready(d, key) == "True")

    # The detail: its domain placed in the zone; a viewer gets no button to suspend it.
    wait.until(lambda d: _click(d, f'#table tbody tr[data-key="{key}"] button.link'))
    wait.until(lambda d: f"www.{namespace}.example" in d.find_element(By.ID, "detail-body").text)
    assert "Owned" in browser.find_element(By.ID, "detail-body").text
    assert not browser.find_elements(By.CSS_SELECTOR, "#detail button:not(#detail-close)")
    assert not _error(browser)
