"""localdev/http_server.py: what a request turns into on its way through waitress and chalice.local's gateway
into a Chalice app, and what the app's answer turns into on the wire (docs/decisions.md, "Serving the API
locally"). A small app of its own echoes what it was given; the requests go over a real socket."""

from __future__ import annotations

import base64
import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from chalice import Chalice, Response

from localdev.http_server import BrokerHttpServer

echo_app = Chalice(app_name="echo")
echo_app.api.binary_types.append("application/octet-stream")


def _seen() -> dict[str, Any]:
    request = echo_app.current_request
    assert request is not None
    return {
        "method": request.method,
        "path": request.context["path"],
        "resource": request.context["resourcePath"],
        "params": request.uri_params,
        "query": {name: request.query_params.getlist(name) for name in request.query_params or {}},
        "headers": dict(request.headers),
        "source_ip": request.context["identity"]["sourceIp"],
        "body": base64.b64encode(request.raw_body or b"").decode(),
    }


@echo_app.route("/items/{item_id}", methods=["GET", "POST", "DELETE"],
                content_types=["application/json", "application/octet-stream", "text/plain"])
def item(item_id: str) -> dict[str, Any]:
    return _seen()


@echo_app.route("/slow/{item_id}")
def slow(item_id: str) -> dict[str, Any]:
    # Holds the worker a moment after Chalice set current_request, so that shared state would be overwritten
    # by the other requests meanwhile (the test passes however fast or slow the machine is).
    time.sleep(0.05)
    return _seen()


@echo_app.route("/answers/{kind}")
def answer(kind: str) -> Response:
    if kind == "binary":
        return Response(body=bytes(range(256)), status_code=200,
                        headers={"Content-Type": "application/octet-stream"})
    if kind == "empty":
        return Response(body="", status_code=204, headers={"X-Empty": "yes"})
    return Response(body=json.dumps({"kind": kind}), status_code=418,
                    headers={"Content-Type": "application/json", "Retry-After": "30",
                             "Set-Cookie": ["a=1", "b=2"]})  # type: ignore[dict-item]


@pytest.fixture(scope="module")
def served() -> Iterator[BrokerHttpServer]:
    server = BrokerHttpServer(echo_app, "127.0.0.1", 0).start()
    yield server
    server.stop()


def call(server: BrokerHttpServer, method: str, target: str, body: bytes | None = None,
         headers: dict[str, str] | None = None, source: str = "127.0.0.1") -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120, source_address=(source, 0))
    connection.request(method, target, body=body, headers=headers or {})
    response = connection.getresponse()
    response.read_body = response.read()  # type: ignore[attr-defined]
    connection.close()
    return response


def echoed(response: http.client.HTTPResponse) -> dict[str, Any]:
    assert response.status == 200, response.read_body  # type: ignore[attr-defined]
    return json.loads(response.read_body)  # type: ignore[attr-defined]


def test_path_query_and_headers_reach_the_app_as_api_gateway_gives_them(served: BrokerHttpServer) -> None:
    seen = echoed(call(served, "GET", "/items/a%20b?tag=x&tag=y&empty=&q=%C3%A9",
                       headers={"X-Custom": "One", "Authorization": "Bearer t"}))
    assert seen["method"] == "GET"
    assert seen["resource"] == "/items/{item_id}" and seen["path"] == "/items/a%20b"
    assert seen["params"] == {"item_id": "a%20b"}  # still percent-encoded, as chalice.local passes it on
    assert seen["query"] == {"tag": ["x", "y"], "empty": [""], "q": ["é"]}
    assert seen["headers"]["x-custom"] == "One" and seen["headers"]["authorization"] == "Bearer t"
    assert seen["body"] == ""


def test_the_raw_body_arrives_byte_for_byte(served: BrokerHttpServer) -> None:
    text = '{"name": "é", "n": 1}'.encode()
    seen = echoed(call(served, "POST", "/items/1", body=text, headers={"Content-Type": "application/json"}))
    assert base64.b64decode(seen["body"]) == text
    assert seen["headers"]["content-type"] == "application/json"
    assert seen["headers"]["content-length"] == str(len(text))
    binary = bytes(range(256))
    seen = echoed(call(served, "POST", "/items/2", body=binary,
                       headers={"Content-Type": "application/octet-stream"}))
    assert base64.b64decode(seen["body"]) == binary


def test_the_source_ip_is_the_callers(served: BrokerHttpServer) -> None:
    assert echoed(call(served, "GET", "/items/1"))["source_ip"] == "127.0.0.1"
    assert echoed(call(served, "GET", "/items/1", source="127.0.0.2"))["source_ip"] == "127.0.0.2"


def test_the_apps_answer_goes_on_the_wire_as_it_gave_it(served: BrokerHttpServer) -> None:
    teapot = call(served, "GET", "/answers/teapot")
    assert teapot.status == 418
    assert json.loads(teapot.read_body) == {"kind": "teapot"}  # type: ignore[attr-defined]
    assert teapot.getheader("Retry-After") == "30"
    assert teapot.getheader("Content-Type") == "application/json"
    assert teapot.headers.get_all("Set-Cookie") == ["a=1", "b=2"]
    binary = call(served, "GET", "/answers/binary", headers={"Accept": "application/octet-stream"})
    assert binary.status == 200 and binary.read_body == bytes(range(256))  # type: ignore[attr-defined]
    empty = call(served, "GET", "/answers/empty")
    assert empty.status == 204 and empty.getheader("X-Empty") == "yes"


def test_what_the_gateway_refuses_is_answered_as_chalice_local_does(served: BrokerHttpServer) -> None:
    missing = call(served, "GET", "/no/such/route")
    assert missing.status == 403
    assert json.loads(missing.read_body) == {"message": "Missing Authentication Token"}  # type: ignore[attr-defined]
    assert missing.getheader("Content-Type") == "application/json"
    not_allowed = call(served, "PUT", "/items/1", body=b"{}", headers={"Content-Type": "application/json"})
    assert not_allowed.status == 405


def test_concurrent_requests_each_see_their_own_request(served: BrokerHttpServer) -> None:
    """`current_request` is per thread: 40 requests at once, each echoes its own id."""
    barrier = threading.Barrier(40)
    seen: dict[int, str] = {}

    def one(n: int) -> None:
        barrier.wait(timeout=120)
        seen[n] = echoed(call(served, "GET", f"/slow/{n}?n={n}"))["query"]["n"][0]

    threads = [threading.Thread(target=one, args=(n,)) for n in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == {n: str(n) for n in range(40)}


def test_stop_closes_the_port_and_gives_the_app_its_class_back() -> None:
    app = Chalice(app_name="stopping")
    original = app.__class__
    server = BrokerHttpServer(app, "127.0.0.1", 0).start()
    port = server.port
    assert app.__class__ is not original
    server.stop()
    assert app.__class__ is original and not server.thread.is_alive()
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), timeout=10):
        pass
