"""The headers of the portal and of the API, on one origin, as `make run` serves them (and as CloudFront's
response headers policy sets them in production: tests/infra/test_portal.py)."""

from __future__ import annotations

import json
import re

import pytest
import requests

from localdev.web_files import WEB_DIST, security_headers
from tests.browser.conftest import WAIT_MS, Portal

pytestmark = pytest.mark.browser
TIMEOUT = WAIT_MS / 1000


def test_the_portal_carries_its_security_headers(served: str) -> None:
    page = requests.get(f"{served}/", timeout=TIMEOUT)
    assert page.status_code == 200 and page.headers["Content-Type"] == "text/html; charset=utf-8"
    for name, value in {**security_headers()["every_response"], **security_headers()["portal"]}.items():
        assert page.headers[name] == value, name
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["Cache-Control"] == "no-cache"
    assets = re.findall(r'(?:src|href)="(/assets/[^"]+)"', page.text)
    assert len(assets) == 2
    for asset in assets:
        answer = requests.get(f"{served}{asset}", timeout=TIMEOUT)
        assert answer.status_code == 200 and "immutable" in answer.headers["Cache-Control"]
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert "<script>" not in page.text and "style=" not in page.text  # nothing inline for CSP to forbid


def test_the_api_answers_on_the_same_origin_with_nosniff_and_no_referrer(served: str) -> None:
    for method, path in (("GET", "/client/v1/domains"), ("GET", "/client/v1/desktops"),
                         ("POST", "/client/v1/login"), ("GET", "/rest/v1/nothing-here")):
        answer = requests.request(method, f"{served}{path}", timeout=TIMEOUT)
        assert answer.status_code in (200, 400, 401, 403, 404), (path, answer.status_code)
        assert answer.headers["Content-Type"].startswith("application/json"), path
        assert answer.headers["X-Content-Type-Options"] == "nosniff", path
        assert answer.headers["Referrer-Policy"] == "no-referrer", path
        json.loads(answer.text)  # the API's answer, not the portal's page
    assert requests.get(f"{served}/rest/v1", timeout=TIMEOUT).status_code != 200  # not the portal either


def test_the_page_weight_is_what_the_manifest_says(served: str) -> None:
    manifest = json.loads((WEB_DIST / "manifest.json").read_text())
    total = 0
    for file in manifest["page"]:
        body = requests.get(f"{served}/{'' if file == 'index.html' else file}", timeout=TIMEOUT).content
        assert len(body) == manifest["files"][file]
        total += len(body)
    assert total == sum(manifest["files"][f] for f in manifest["page"])


def test_nothing_is_loaded_from_another_origin(portal: Portal) -> None:
    requested: list[str] = []
    portal.page.on("request", lambda request: requested.append(request.url))
    portal.open()
    portal.page.get_by_role("heading", name="Sign in").wait_for()
    portal.page.wait_for_load_state("networkidle")
    assert requested and all(url.startswith(portal.url + "/") for url in requested), requested
