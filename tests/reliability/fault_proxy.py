"""A small HTTP proxy on 127.0.0.1 in front of one real OpenStack API, which can be told to misbehave.

    nova = FaultProxy("http://127.0.0.1:8774").start()
    keystone = FaultProxy("http://127.0.0.1:5000", rewrite={"http://127.0.0.1:8774": nova.url}).start()
    # a center whose auth_url is f"{keystone.url}/v3" reaches Nova through `nova`
    nova.fail(status=500)                        # every request answered 500 by the proxy (never forwarded)
    nova.fail(status=503, count=2, method="POST") # the next two POSTs
    nova.fail(fraction=0.3)                      # about 30 % of the requests (seeded: repeatable)
    nova.hang(seconds=4, method="POST", path="/servers")  # forwarded, answered 4 s late
    nova.refuse()                                # stop listening: connection refused, like a stopped service
    nova.clear()                                 # behave again (and listen again after refuse())

Requests are forwarded with their Host header, so the service builds its links with the proxy's address;
`rewrite` replaces text in the answers (Keystone's service catalog names the services' real ports). Each
request is recorded in `seen` as (method, path, what happened).
"""

from __future__ import annotations

import http.client
import random
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

_HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer",
               "upgrade", "accept-encoding", "content-length"}


@dataclass
class _Rule:
    kind: str  # "fail" or "hang"
    status: int = 500
    count: int | None = None  # None: until cleared
    fraction: float = 1.0
    method: str | None = None
    path: str | None = None  # a substring of the path
    seconds: float = 0.0

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and (self.path is None or self.path in path)


class FaultProxy:
    def __init__(self, target: str, rewrite: dict[str, str] | None = None, seed: int = 7) -> None:
        parts = urlsplit(target)
        self.target_host, self.target_port = parts.hostname or "127.0.0.1", parts.port or 80
        self.rewrite = [(old.encode(), new.encode()) for old, new in (rewrite or {}).items()]
        self.seen: list[tuple[str, str, str]] = []
        self._rules: list[_Rule] = []
        self._lock = threading.Lock()
        self._random = random.Random(seed)
        self._server: ThreadingHTTPServer | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- control

    def start(self) -> FaultProxy:
        proxy = self

        class Handler(_Handler):
            owner = proxy

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        self.port = server.server_address[1]
        self._server = server
        threading.Thread(target=server.serve_forever, name=f"fault-proxy-{self.port}", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def refuse(self) -> None:
        """Close the port: every connection is refused until clear() (a stopped service)."""
        self.stop()

    def fail(self, status: int = 500, count: int | None = None, fraction: float = 1.0,
             method: str | None = None, path: str | None = None) -> None:
        with self._lock:
            self._rules.append(_Rule("fail", status, count, fraction, method, path))

    def hang(self, seconds: float, count: int | None = None, method: str | None = None,
             path: str | None = None) -> None:
        """Forward the request, then hold the answer `seconds` before sending it."""
        with self._lock:
            self._rules.append(_Rule("hang", count=count, method=method, path=path, seconds=seconds))

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
        if self._server is None:
            self.start()

    def count(self, outcome: str | None = None, method: str | None = None, path: str | None = None) -> int:
        with self._lock:
            return sum(1 for m, p, o in self.seen if (outcome is None or o == outcome)
                       and (method is None or m == method) and (path is None or path in p))

    # -- per request

    def _decide(self, method: str, path: str) -> _Rule | None:
        with self._lock:
            for rule in self._rules:
                if not rule.matches(method, path) or rule.count == 0:
                    continue
                if rule.fraction < 1.0 and self._random.random() >= rule.fraction:
                    continue
                if rule.count is not None:
                    rule.count -= 1
                return rule
            return None

    def _record(self, method: str, path: str, outcome: str) -> None:
        with self._lock:
            self.seen.append((method, path, outcome))


class _Handler(BaseHTTPRequestHandler):
    owner: FaultProxy
    protocol_version = "HTTP/1.0"  # one request per connection: simple, and what a dead service looks like

    def _handle(self) -> None:
        proxy, method, path = self.owner, self.command, self.path
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        rule = proxy._decide(method, path)
        if rule is not None and rule.kind == "fail":
            proxy._record(method, path, str(rule.status))
            payload = (b'{"computeFault": {"code": %d, "message": "injected by the fault proxy"}}'
                       % rule.status)
            self._answer(rule.status, [("Content-Type", "application/json")], payload)
            return
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
        upstream = http.client.HTTPConnection(proxy.target_host, proxy.target_port, timeout=120)
        try:
            upstream.request(method, path, body=body or None, headers=headers)
            response = upstream.getresponse()
            payload = response.read()
            answer_headers = [(k, v) for k, v in response.getheaders() if k.lower() not in _HOP_BY_HOP]
            status = response.status
        except OSError as error:
            proxy._record(method, path, f"upstream error {error}")
            self._answer(502, [("Content-Type", "text/plain")], b"upstream unreachable")
            return
        finally:
            upstream.close()
        for old, new in proxy.rewrite:
            payload = payload.replace(old, new)
        if rule is not None:  # hang: the service did the work; its answer comes too late
            proxy._record(method, path, "hung")
            time.sleep(rule.seconds)
        else:
            proxy._record(method, path, "forwarded")
        self._answer(status, answer_headers, payload)

    def _answer(self, status: int, headers: list[tuple[str, str]], payload: bytes) -> None:
        try:
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except (TimeoutError, BrokenPipeError, ConnectionResetError):
            pass  # the client gave up waiting

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle

    def log_message(self, format: str, *args: object) -> None:
        pass
