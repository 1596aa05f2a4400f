"""localdev/web_files.py: what `make run` answers outside the API (the portal's files), and its headers."""

from __future__ import annotations

from pathlib import Path

import pytest

from localdev.web_files import ASSET_CACHE, INDEX_CACHE, PortalFiles, is_api_path, security_headers


@pytest.fixture
def site(tmp_path: Path) -> PortalFiles:
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text("<!doctype html><title>portal</title>")
    (dist / "assets" / "app-ABC.js").write_text("export {};")
    (dist / "assets" / "style-DEF.css").write_text("body{}")
    (tmp_path / "secret.txt").write_text("not the portal's")
    (dist / "assets" / "link.txt").symlink_to(tmp_path / "secret.txt")
    return PortalFiles(dist)


def headers_of(answer) -> dict[str, str]:
    return dict(answer.headers)


def test_the_page_and_its_assets(site: PortalFiles) -> None:
    page = site.answer("GET", "/")
    assert page.status == 200 and page.body.startswith(b"<!doctype html>")
    assert headers_of(page)["Content-Type"] == "text/html; charset=utf-8"
    assert headers_of(page)["Cache-Control"] == INDEX_CACHE
    script = site.answer("GET", "/assets/app-ABC.js?v=1")
    assert script.status == 200 and script.body == b"export {};"
    assert headers_of(script)["Content-Type"] == "text/javascript; charset=utf-8"
    assert headers_of(script)["Cache-Control"] == ASSET_CACHE
    style = site.answer("HEAD", "/assets/style-DEF.css")
    assert headers_of(style)["Content-Type"] == "text/css; charset=utf-8"


@pytest.mark.parametrize("path", ["/assets/../../secret.txt", "/assets/%2e%2e/%2e%2e/secret.txt",
                                  "/assets/..%2f..%2fsecret.txt", "/assets/link.txt", "/secret.txt",
                                  "/assets/", "/assets/missing.js", "/index.htm",
                                  "/assets/..\\..\\secret.txt", "/%00", "/client", "/favicon.ico"])
def test_nothing_outside_the_build_is_served(site: PortalFiles, path: str) -> None:
    answer = site.answer("GET", path)
    assert answer.status == 404 and b"not the portal's" not in answer.body


def test_only_get_and_head(site: PortalFiles) -> None:
    answer = site.answer("POST", "/")
    assert answer.status == 405 and headers_of(answer)["Allow"] == "GET, HEAD"


def test_a_missing_build_says_how_to_make_it(tmp_path: Path) -> None:
    answer = PortalFiles(tmp_path / "nothing").answer("GET", "/")
    assert answer.status == 503 and b"make web" in answer.body


def test_every_answer_carries_the_security_headers(site: PortalFiles) -> None:
    for answer in (site.answer("GET", "/"), site.answer("GET", "/nope"), site.answer("DELETE", "/")):
        headers = headers_of(answer)
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "no-referrer"
        assert headers["Content-Security-Policy"] == security_headers()["portal"]["Content-Security-Policy"]
        assert "Strict-Transport-Security" not in headers  # plain http on loopback: HSTS means nothing


def test_the_content_security_policy_is_strict() -> None:
    groups = security_headers()
    directives = groups["portal"]["Content-Security-Policy"].split(";")
    policy = dict(part.strip().split(" ", 1) for part in directives)
    assert policy["default-src"] == "'self'"
    assert policy["script-src"] == "'self'" and policy["style-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'" and policy["object-src"] == "'none'"
    assert not any("unsafe" in value or "*" in value for value in policy.values())
    assert groups["every_response"] == {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}
    assert groups["https_only"]["Strict-Transport-Security"].startswith("max-age=")


def test_the_api_paths_are_the_apis() -> None:
    for path in ("/client/v1/login", "/rest/v1/openapi.json", "/agent/v1/register", "/client/v1"):
        assert is_api_path(path)
    for path in ("/", "/assets/app.js", "/client", "/client/v10/x", "/restv1/x"):
        assert not is_api_path(path)
