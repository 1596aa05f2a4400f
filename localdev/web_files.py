"""The portal's static files for `make run`: what CloudFront and S3 do in production (docs/portal.md).

`web/dist` (built by `make web`) is served at `/` on the API's own origin: `GET /` is index.html (never
cached: it names the build's assets), `GET /assets/<name>` a content-hashed file (cached for a year),
anything else 404. Only GET and HEAD; no directory listing; a path that leaves `web/dist` (`..`, encoded
or not, a symbolic link out) is 404. Every answer carries the headers of `web/security-headers.json`
(the same file CloudFront's response headers policy is made from), except HSTS, which only means
something over HTTPS.
"""

from __future__ import annotations

import json
import mimetypes
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

ROOT = Path(__file__).resolve().parent.parent
WEB_DIST = ROOT / "web" / "dist"
HEADERS_FILE = ROOT / "web" / "security-headers.json"
# The paths the API answers; everything else is the portal's (as CloudFront's behaviours split them).
API_PREFIXES = ("/client/v1/", "/rest/v1/", "/agent/v1/")

INDEX_CACHE = "no-cache"
ASSET_CACHE = "public, max-age=31536000, immutable"
TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
}


def security_headers() -> dict[str, dict[str, str]]:
    """web/security-headers.json: `every_response`, `portal` (the static files) and `https_only`."""
    data = json.loads(HEADERS_FILE.read_text())
    return {group: dict(values) for group, values in data.items() if not group.startswith("_")}


def is_api_path(path: str) -> bool:
    return path.startswith(API_PREFIXES) or path.rstrip("/") in {p.rstrip("/") for p in API_PREFIXES}


@dataclass(frozen=True)
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


class PortalFiles:
    """Answers the portal's requests from a built `web/dist` (read from disk at each request, so a
    rebuild is served at once)."""

    def __init__(self, root: Path = WEB_DIST) -> None:
        self.root = root.resolve()
        groups = security_headers()
        self.headers = [*groups["every_response"].items(), *groups["portal"].items()]

    def answer(self, method: str, raw_path: str) -> Answer:
        if method not in ("GET", "HEAD"):
            return self._plain(405, "Method not allowed\n", [("Allow", "GET, HEAD")])
        path = unquote(raw_path.split("?", 1)[0])
        if path in ("/", "/index.html"):
            relative = "index.html"
        elif path.startswith("/assets/") and "\\" not in path and "\0" not in path:
            relative = path.lstrip("/")
        else:
            return self._plain(404, "Not found\n")
        if not (self.root / "index.html").is_file():
            return self._plain(503, "The portal is not built: run `make web` (make run does it).\n")
        file = (self.root / relative).resolve()
        if not file.is_relative_to(self.root) or not file.is_file():
            return self._plain(404, "Not found\n")
        body = file.read_bytes()  # HEAD too: waitress sends its length and no body
        content_type = (TYPES.get(file.suffix) or mimetypes.guess_type(file.name)[0]
                        or "application/octet-stream")
        cache = INDEX_CACHE if relative == "index.html" else ASSET_CACHE
        headers = [("Content-Type", content_type), ("Cache-Control", cache), *self.headers]
        return Answer(200, headers, body)

    def _plain(self, status: int, text: str, extra: list[tuple[str, str]] | None = None) -> Answer:
        headers = [("Content-Type", "text/plain; charset=utf-8"), ("Cache-Control", "no-store"),
                   *(extra or []), *self.headers]
        return Answer(status, headers, text.encode())
