"""The portal in a real browser: Debian's Chromium driven by Playwright (never `playwright install`).

The broker is served as `make run` serves it: localdev's waitress server with the built portal at `/`
(localdev/http_server.py, localdev/web_files.py), moto for AWS, desktops as records only (nothing is
behind their addresses, and nothing here connects to them). The world is made through the admin API,
as in tests/integration/client. Every page a test looks at (`portal.look(name)`) is scanned with
axe-core (no serious or critical violation) and photographed at 375 px and 1280 px into
tests/artifacts/portal/ (git-ignored; docs/portal.md). A Content-Security-Policy violation anywhere
fails the test.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, sync_playwright

from localdev.web_files import WEB_DIST
from tests.fixtures.settings import set_setting
from tests.integration.api.conftest import (  # noqa: F401 - fixtures of the world
    Api,
    TenantAdmin,
    api,
    system_sid,
    tenant,
)
from tests.integration.client.conftest import ClientWorld, fast_and_fresh, world  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"  # Debian's (debian-packages.txt)
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking"]
AXE = ROOT / "web" / "node_modules" / "axe-core" / "axe.min.js"  # pinned in web/package-lock.json
ARTIFACTS = ROOT / "tests" / "artifacts" / "portal"
WIDTHS = (375, 1280)
HEIGHT = 800
# Bounds for what a person would wait for, never a speed figure: a loaded machine may be slow.
WAIT_MS = 60_000
BLOCKING_IMPACTS = ("serious", "critical")


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    assert Path(CHROMIUM).is_file(), f"{CHROMIUM} is missing: `make test` installs Debian's chromium"
    chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
    yield chromium
    chromium.close()


@pytest.fixture(scope="session")
def built_portal() -> Path:
    """web/dist, as `make test` builds it before running the tests (`make web`)."""
    assert (WEB_DIST / "index.html").is_file(), "web/dist is not built: run `make web` (make test does)"
    assert AXE.is_file(), "web/node_modules has no axe-core: run `make web` (make test does)"
    return WEB_DIST


@pytest.fixture
def served(api: Api, built_portal: Path) -> Iterator[str]:  # noqa: F811 - fixtures
    """The broker and the portal on one origin, served as `make run` serves them."""
    from app import app
    from localdev.http_server import BrokerHttpServer

    server = BrokerHttpServer(app, "127.0.0.1", 0, portal=built_portal).start()
    try:
        yield server.url
    finally:
        server.stop()


@dataclass
class Portal:
    """One browser tab on the portal, with what it saw: console errors, CSP violations, downloads."""

    page: Page
    url: str
    test_name: str
    csp_violations: list[str] = field(default_factory=list)
    looked: list[str] = field(default_factory=list)

    def open(self) -> Page:
        self.page.goto(self.url + "/")
        return self.page

    def sign_in(self, user: str, password: str, domain: str = "") -> None:
        page = self.page
        page.get_by_label("User name").fill(user)
        page.get_by_label("Password").fill(password)
        page.get_by_label("Domain").fill(domain)
        page.get_by_role("button", name="Sign in").click()

    def token(self) -> str | None:
        stored = self.page.evaluate("sessionStorage.getItem('vdi-portal-session')")
        return json.loads(stored)["token"] if stored else None

    def look(self, name: str) -> None:
        """axe-core on the page as it is now, then a screenshot at each width."""
        page = self.page
        if not page.evaluate("typeof window.axe !== 'undefined'"):
            page.evaluate(AXE.read_text())  # DevTools evaluation: not subject to the page's CSP
        result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
        blocking = [
            f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
            for v in result["violations"] if v["impact"] in BLOCKING_IMPACTS
        ]
        assert blocking == [], f"{name}: accessibility violations: {blocking}"
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        original = page.viewport_size
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": HEIGHT})
            page.screenshot(path=str(ARTIFACTS / f"{name}-{width}.png"), full_page=True)
        if original:
            page.set_viewport_size(original)
        self.looked.append(name)


@pytest.fixture
def portal(browser: Browser, served: str, request: pytest.FixtureRequest) -> Iterator[Portal]:
    context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": HEIGHT})
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    tab = Portal(page, served, request.node.name)

    def watch(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            tab.csp_violations.append(message.text)

    page.on("console", watch)
    try:
        yield tab
    finally:
        context.close()
    assert tab.csp_violations == [], f"the page broke its own Content-Security-Policy: {tab.csp_violations}"


def name_pattern(text: str) -> re.Pattern[str]:
    """An accessible name that contains `text` (case-insensitive)."""
    return re.compile(re.escape(text), re.IGNORECASE)


def retry_after(monkeypatch: pytest.MonkeyPatch, seconds: int) -> None:
    set_setting(monkeypatch, "client_retry_after_seconds", seconds)

