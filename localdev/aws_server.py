"""moto's server for DynamoDB, SQS and Secrets Manager, with each request applied atomically.

moto handles requests on several threads without locking its backends, so two conditional writes
racing on one item can both pass their condition — which real DynamoDB never allows. Serialising
the requests restores that guarantee, which the broker's invariants (no double assignment, no
over-provisioning) rely on. Used by `make run` and by the multi-process tests.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server


class _OneAtATime:
    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        with self.lock:
            return list(self.app(environ, start_response))


class AwsServer:
    def __init__(self, host: str = "127.0.0.1", port: int = 4566, log_requests: bool = True) -> None:
        self.log_requests = log_requests
        self.server: BaseWSGIServer = make_server(
            host,
            port,
            _OneAtATime(DomainDispatcherApplication(create_backend_app)),
            threaded=True,
            request_handler=MotoRequestHandler,
        )
        self.thread = threading.Thread(target=self.server.serve_forever, name="aws-server", daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> AwsServer:
        if not self.log_requests:
            # One line per AWS request (thousands while a pool provisions) would bury what the caller prints.
            logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=5)


def serve_forever(host: str, port: int) -> None:
    """Entry point for a separate process (tests with several broker processes)."""
    AwsServer(host, port).server.serve_forever()
