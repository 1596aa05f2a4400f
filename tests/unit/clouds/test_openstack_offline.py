"""Error mapping and request labelling of the OpenStack adapter (no network: built from real SDK types)."""

from __future__ import annotations

import http.server
import json
import threading
from typing import Any

import openstack.exceptions as sdk_exceptions
import pytest
import requests
import requests.adapters
from keystoneauth1 import exceptions as ksa_exceptions

from chalicelib.clouds.openstack import open_cloud
from chalicelib.clouds.openstack_errors import map_cloud_error
from chalicelib.clouds.openstack_session import (
    CONNECT_TIMEOUT_SECONDS,
    READ_TIMEOUT_SECONDS,
    CountingSession,
    counting_as_inventory,
    password_auth,
)
from chalicelib.clouds.request_counts import RequestCounter
from chalicelib.domain.cloud import (
    CenterAccess,
    CloudAuthFailed,
    CloudConflict,
    CloudError,
    CloudNotFound,
    CloudQuotaExceeded,
    CloudTransient,
    CloudUnreachable,
)

ACCESS = CenterAccess("http://127.0.0.1:5000/v3", "Default", "demo", "demo", "secret", "RegionOne")


def http_error(status: int, body: dict[str, Any]) -> sdk_exceptions.HttpException:
    """What the SDK raises for a response with this status and JSON body."""
    response = requests.Response()
    response.status_code = status
    response.headers["content-type"] = "application/json"
    response._content = json.dumps(body).encode()
    response.request = requests.Request("POST", "http://127.0.0.1:8774/v2.1/servers").prepare()
    try:
        sdk_exceptions.raise_from_response(response)
    except sdk_exceptions.HttpException as error:
        return error
    raise AssertionError("no exception raised")


@pytest.mark.parametrize(
    ("status", "body", "expected_type", "expected_message"),
    [
        (
            403,
            {
                "forbidden": {
                    "code": 403,
                    "message": "Quota exceeded for instances: Requested 1, but already "
                    "used 10 of 10 instances",
                }
            },
            CloudQuotaExceeded,
            "Quota exceeded for instances: Requested 1, but already used 10 of 10 instances",
        ),
        (
            413,
            {
                "overLimit": {
                    "code": 413,
                    "message": "VolumeLimitExceeded: Maximum number of volumes allowed "
                    "(10) exceeded for quota 'volumes'.",
                }
            },
            CloudQuotaExceeded,
            "VolumeLimitExceeded: Maximum number of volumes allowed (10) exceeded for quota 'volumes'.",
        ),
        (
            409,
            {
                "NeutronError": {
                    "type": "OverQuota",
                    "message": "Quota exceeded for resources: ['floatingip'].",
                    "detail": "",
                }
            },
            CloudQuotaExceeded,
            "Quota exceeded for resources: ['floatingip'].",
        ),
        (
            409,
            {
                "conflictingRequest": {
                    "code": 409,
                    "message": "Cannot 'stop' instance x while it is in vm_state stopped",
                }
            },
            CloudConflict,
            "Cannot 'stop' instance x while it is in vm_state stopped",
        ),
        (
            401,
            {"error": {"message": "The request you have made requires authentication."}},
            CloudAuthFailed,
            "The request you have made requires authentication.",
        ),
        (
            403,
            {"forbidden": {"message": "Policy doesn't allow os_compute_api:servers:create to be performed."}},
            CloudAuthFailed,
            "Policy doesn't allow os_compute_api:servers:create to be performed.",
        ),
        (
            404,
            {"itemNotFound": {"message": "Instance x could not be found."}},
            CloudNotFound,
            "Instance x could not be found.",
        ),
        (503, {"computeFault": {"message": "Service Unavailable"}}, CloudTransient, "Service Unavailable"),
        (429, {"overLimit": {"message": "Rate limit exceeded"}}, CloudTransient, "Rate limit exceeded"),
        (
            400,
            {"badRequest": {"message": "Invalid input for field/attribute name."}},
            CloudError,
            "Invalid input for field/attribute name.",
        ),
    ],
)
def test_http_errors_keep_the_clouds_words(
    status: int, body: dict[str, Any], expected_type: type[CloudError], expected_message: str
) -> None:
    mapped = map_cloud_error(http_error(status, body), "Nova")
    assert type(mapped) is expected_type
    assert mapped.message == expected_message


def test_a_refused_connection_is_unreachable() -> None:
    refused = ksa_exceptions.ConnectFailure(
        "Unable to establish connection to http://127.0.0.1:8774/v2.1: [Errno 111] Connection refused"
    )
    mapped = map_cloud_error(refused, "Nova at http://127.0.0.1:8774")
    assert isinstance(mapped, CloudUnreachable)
    assert mapped.message == "cannot reach Nova at http://127.0.0.1:8774: connection refused"


def keystoneauth_timeout(cause: Exception) -> ksa_exceptions.ConnectTimeout:
    # keystoneauth raises ConnectTimeout for both kinds, inside the handler of requests' own exception.
    try:
        try:
            raise cause
        except requests.exceptions.Timeout as timeout:
            raise ksa_exceptions.ConnectTimeout(f"Request timed out: {timeout}") from None
    except ksa_exceptions.ConnectTimeout as error:
        error.__context__ = cause
        return error


def test_a_connect_timeout_is_unreachable_but_a_read_timeout_only_transient() -> None:
    connect = map_cloud_error(keystoneauth_timeout(requests.exceptions.ConnectTimeout()), "Nova")
    read = map_cloud_error(keystoneauth_timeout(requests.exceptions.ReadTimeout()), "Nova")
    assert isinstance(connect, CloudUnreachable)
    assert isinstance(read, CloudTransient) and not isinstance(read, CloudUnreachable)


def test_a_duplicate_name_is_a_conflict_and_foreign_errors_pass_through() -> None:
    assert isinstance(
        map_cloud_error(sdk_exceptions.DuplicateResource("two images"), "Glance"), CloudConflict
    )
    with pytest.raises(ValueError, match="a bug"):
        map_cloud_error(ValueError("a bug"), "Nova")


def test_requests_are_labelled_token_inventory_or_by_service() -> None:
    session = CountingSession(password_auth(ACCESS), RequestCounter())
    label = session._categorise
    assert label("http://127.0.0.1:5000/v3/auth/tokens", None) == "token"
    assert label("http://127.0.0.1:8774/v2.1/servers", {"service_type": "compute"}) == "compute"
    assert label("http://127.0.0.1:8776/v3/types", {"service_type": "volumev3"}) == "block-storage"
    with counting_as_inventory():
        assert label("http://127.0.0.1:9292/v2/images", {"service_type": "image"}) == "inventory"
        assert label("http://127.0.0.1:5000/v3/auth/tokens", None) == "token"  # a token is a token
    assert label("http://127.0.0.1:9292/v2/images", {"service_type": "image"}) == "image"


def test_the_connection_is_shared_per_access_and_a_new_password_gets_a_new_one() -> None:
    first, again = open_cloud(ACCESS), open_cloud(ACCESS)
    other_password = open_cloud(CenterAccess(**{**ACCESS.__dict__, "password": "rotated"}))
    assert first._center is again._center
    assert other_password._center is not first._center


class _Answer200(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_every_request_sent_is_counted_and_gets_the_default_timeouts(monkeypatch: pytest.MonkeyPatch) -> None:
    timeouts_seen: list[object] = []
    original_send = requests.adapters.HTTPAdapter.send

    def spy(self: requests.adapters.HTTPAdapter, request: requests.PreparedRequest, **kwargs: Any) -> Any:
        timeouts_seen.append(kwargs.get("timeout"))
        return original_send(self, request, **kwargs)

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", spy)
    server = http.server.HTTPServer(("127.0.0.1", 0), _Answer200)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        counter = RequestCounter()
        session = CountingSession(password_auth(ACCESS), counter)
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        for _ in range(3):
            session.get(url, authenticated=False, endpoint_filter={"service_type": "compute"})
    finally:
        server.shutdown()
        server.server_close()
    assert counter.reading().by_service == {"compute": 3}
    assert timeouts_seen == [(CONNECT_TIMEOUT_SECONDS, READ_TIMEOUT_SECONDS)] * 3
