"""The broker's HTTP API on 127.0.0.1 for `make run`, the bench and the reliability suite: one way of serving.

waitress (a production WSGI server) accepts the connections: a listen backlog of 2048 and a pool of worker
threads, so that 200 clients connecting at once are all answered. Chalice's own local server
(`chalice local`) listens with the socket default backlog of 5 and reset most of such a burst
(docs/decisions.md). Each request still goes through chalice.local's `LocalGateway`, which turns it into
the API Gateway event the app expects (route match, path parameters, multi-value query string, raw body,
binary types, authorizers, CORS preflight), exactly as `chalice local` does; the adapter below only moves
the request from WSGI into that gateway and the gateway's answer back, and tells it the caller's address
(chalice's says 127.0.0.1 for everyone; API Gateway gives the client's).

Given `portal` (`make run`, the bench, the browser tests), the same server answers every path outside
the API's prefixes from the built portal (`localdev/web_files.py`), as CloudFront does in production:
one origin, no CORS. Every answer, the API's included, carries `X-Content-Type-Options: nosniff` and
`Referrer-Policy: no-referrer`; the portal's files also carry its Content-Security-Policy.

`python -m localdev.http_server PORT` serves the app and the portal in a process of its own (the bench
does that).
"""

from __future__ import annotations

import base64
import contextlib
import http
import sys
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from chalice.app import Chalice
from chalice.config import Config
from chalice.local import LocalChalice, LocalGateway, LocalGatewayException
from waitress import wasyncore
from waitress.server import create_server

from localdev.web_files import WEB_DIST, PortalFiles, is_api_path, security_headers

ROOT = Path(__file__).resolve().parent.parent

# Enough for every client of a burst to wait in the kernel's queue instead of being reset (the kernel
# caps it at net.core.somaxconn, 4096 by default); the threads bound how many requests run at once.
LISTEN_BACKLOG = 2048
WORKER_THREADS = 16
CONNECTION_LIMIT = 1000
POLL_SECONDS = 0.2

StartResponse = Callable[..., Any]


class ChaliceWsgiApp:
    """A WSGI application that hands each request to chalice.local's API Gateway emulation."""

    def __init__(self, app: Chalice, config: Config, portal: PortalFiles | None = None) -> None:
        # `app.current_request` per thread, as chalice.local.create_local_server arranges it; `release()`
        # gives the app its own class back (the tests serve the app object they also call directly).
        self.original_class = app.__class__
        if not isinstance(app, LocalChalice):
            app.__class__ = type("ServedChalice", (LocalChalice, app.__class__), {})
        self.app = app
        self.config = config
        self.portal = portal
        self.every_response = list(security_headers()["every_response"].items())

    def release(self) -> None:
        self.app.__class__ = self.original_class

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        target = _request_target(environ)
        if self.portal is not None and not is_api_path(target):
            answer = self.portal.answer(environ["REQUEST_METHOD"], target)
            start_response(f"{answer.status} {_reason(answer.status)}",
                           [*answer.headers, ("Content-Length", str(len(answer.body)))])
            return [answer.body]
        gateway = LocalGateway(self.app, self.config)
        # the caller's address, as API Gateway reports it (agents' registrations record it)
        gateway.event_converter.LOCAL_SOURCE_IP = environ.get("REMOTE_ADDR", "127.0.0.1")
        body = environ["wsgi.input"].read() or None
        try:
            reply = gateway.handle_request(
                method=environ["REQUEST_METHOD"], path=target, headers=_headers(environ),
                body=body,
            )
        except LocalGatewayException as refused:  # no such route, or an authorizer said no
            reply = {"statusCode": refused.CODE, "headers": refused.headers, "body": refused.body}
        status, headers, payload = _from_gateway(reply)
        present = {name.lower() for name, _ in headers}
        headers += [(name, value) for name, value in self.every_response if name.lower() not in present]
        headers.append(("Content-Length", str(len(payload))))
        start_response(f"{status} {_reason(status)}", headers)
        return [payload]


def _request_target(environ: dict[str, Any]) -> str:
    """Path and query string as the client sent them (percent-encoded, as chalice.local passes them on)."""
    raw = environ.get("REQUEST_URI", "")
    if raw.startswith("/"):
        return str(raw)
    query = environ.get("QUERY_STRING", "")
    return environ.get("PATH_INFO", "/") + (f"?{query}" if query else "")


def _headers(environ: dict[str, Any]) -> dict[str, str]:
    headers = {key[5:].replace("_", "-").lower(): value for key, value in environ.items()
               if key.startswith("HTTP_")}
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            headers[key.replace("_", "-").lower()] = environ[key]
    return headers


def _from_gateway(reply: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
    single = reply.get("headers") or {}
    headers: list[tuple[str, str]] = [(name, str(value)) for name, value in single.items()]
    for name, values in (reply.get("multiValueHeaders") or {}).items():
        headers.extend((name, str(value)) for value in values)
    if not any(name.lower() == "content-type" for name, _ in headers):
        headers.append(("Content-Type", "application/json"))  # as chalice.local's handler defaults it
    headers = [(name, value) for name, value in headers if name.lower() != "content-length"]
    body = reply.get("body")
    if body is None:
        payload = b""
    elif reply.get("isBase64Encoded"):
        payload = base64.b64decode(body)
    else:
        payload = body if isinstance(body, bytes) else str(body).encode("utf-8")
    return int(reply["statusCode"]), headers, payload


def _reason(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


class BrokerHttpServer:
    """The app served by waitress on a thread: `start()`, `url`, `stop()` (returns once the port is shut);
    with `portal` (a built web/dist), the portal's files at every path outside the API's."""

    def __init__(self, app: Chalice, host: str = "127.0.0.1", port: int = 0,
                 portal: Path | None = None) -> None:
        from chalice.cli.factory import CLIFactory

        config = CLIFactory(project_dir=str(ROOT)).create_config_obj(chalice_stage_name="dev")
        self.wsgi_app = ChaliceWsgiApp(app, config, PortalFiles(portal) if portal is not None else None)
        self.server: Any = create_server(
            self.wsgi_app, host=host, port=port, threads=WORKER_THREADS, backlog=LISTEN_BACKLOG,
            connection_limit=CONNECTION_LIMIT, asyncore_use_poll=True, ident="vdi-broker",
        )
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, name="broker-http", daemon=True)

    @property
    def port(self) -> int:
        return int(self.server.effective_port)

    @property
    def url(self) -> str:
        return f"http://{self.server.effective_host}:{self.port}"

    def _serve(self) -> None:
        # One short poll at a time, so that stop() is seen within POLL_SECONDS; the sockets are closed on
        # this thread, the one that polls them.
        try:
            while not self.stopping.is_set():
                wasyncore.loop(timeout=POLL_SECONDS, map=self.server._map, use_poll=True, count=1)
        finally:
            self.server.task_dispatcher.shutdown()
            wasyncore.close_all(self.server._map)

    def start(self) -> BrokerHttpServer:
        self.thread.start()
        return self

    def serve_forever(self) -> None:
        self._serve()

    def stop(self, timeout: float = 10.0) -> None:
        self.stopping.set()
        if self.thread.is_alive():
            self.thread.join(timeout)
        self.wsgi_app.release()


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(ROOT))
    from app import app

    server = BrokerHttpServer(app, "127.0.0.1", int(argv[1]), portal=WEB_DIST)
    print(f"serving on {server.url}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
