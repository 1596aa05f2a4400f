"""When Secrets Manager fails, the client is told so plainly: no secret's name, path, prefix or ARN in
the body (they say which tenant and record a secret belongs to, and how the stage lays them out); the
log keeps the detail. And a deployed stage never creates its signing key at run time.

The failures are Secrets Manager's own answers, as botocore delivers them: an AccessDeniedException
(what a narrowed IAM role gets, with AWS's message naming the role and the secret) and a connection
error. They are injected at botocore's `before-call` event of the broker's Secrets Manager client, so
every other call still reaches moto.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError
from chalice.test import Client

from app import app
from chalicelib.settings import get_settings
from chalicelib.store import aws as aws_clients
from chalicelib.store.secrets import RETRY_AFTER_SECONDS, secret_name
from tests.fixtures.aws import AwsStack
from tests.integration.api.builders import center_body
from tests.integration.api.conftest import Api, Reply
from tests.integration.auth_servers.conftest import minimal_ldap_body
from tests.integration.client.conftest import (  # noqa: F401 - fixtures
    ClientApi,
    ClientWorld,
    api,
    client,
    fast_and_fresh,
    system_sid,
    tenant,
    world,
)

ACCOUNT_ROLE = "arn:aws:sts::123456789012:assumed-role/broker-prod-api_handler/broker-prod-api_handler"


class _Answer:
    """What botocore needs of an HTTP response to raise the error of a parsed one."""

    status_code = 400
    headers: dict[str, str] = {}


def access_denied(operation: str, params: dict[str, Any]) -> Any:
    name = params.get("SecretId") or params.get("Name")
    arn = f"arn:aws:secretsmanager:us-east-1:123456789012:secret:{name}-AbCdEf"
    message = f"User: {ACCOUNT_ROLE} is not authorized to perform: secretsmanager:{operation} on {arn}"
    return _Answer(), {"Error": {"Code": "AccessDeniedException", "Message": message}}


def unreachable(operation: str, params: dict[str, Any]) -> Any:
    raise EndpointConnectionError(endpoint_url="https://secretsmanager.us-east-1.amazonaws.com/")


FAILURES = {"access denied": access_denied, "unreachable": unreachable}


@contextmanager
def secrets_manager_failing(answer: Callable[[str, dict[str, Any]], Any]) -> Iterator[list[str]]:
    """Every Secrets Manager call of the broker fails with `answer`; yields the operations refused."""
    refused: list[str] = []

    def before_call(model: Any, params: dict[str, Any], **_: Any) -> Any:
        refused.append(model.name)
        return answer(model.name, json.loads(params.get("body") or b"{}"))

    events = aws_clients.client("secretsmanager").meta.events
    events.register("before-call.secrets-manager", before_call, unique_id="test-secrets-failing")
    try:
        yield refused
    finally:
        events.unregister("before-call.secrets-manager", unique_id="test-secrets-failing")


def assert_plain_503(reply: Reply) -> None:
    assert reply.status == 503, reply.body
    assert reply.body["error_status"] == "SERVICE_UNAVAILABLE"
    text = json.dumps(reply.body) + json.dumps(reply.headers)
    prefix = get_settings().secret_prefix
    for revealing in (prefix, prefix.rstrip("/"), "arn:", "secret:", "token-signing-key", "admin-password",
                      "auth-server/", "center/", "assumed-role", "AccessDenied", "EndpointConnection"):
        assert revealing not in text, (revealing, text)


def assert_logged(caplog: pytest.LogCaptureFixture, name: str) -> None:
    """The detail stays in the log: which secret, and the error's code (never a value)."""
    messages = [record.getMessage() for record in caplog.records]
    assert any(name in message for message in messages), messages


@pytest.mark.parametrize("failure", FAILURES)
def test_a_login_that_cannot_read_the_signing_key_is_a_plain_503(
    world: ClientWorld, client: ClientApi, failure: str, caplog: pytest.LogCaptureFixture  # noqa: F811
) -> None:
    world.user("alice")
    caplog.set_level(logging.INFO)
    with secrets_manager_failing(FAILURES[failure]) as refused:
        reply = client.login("alice", expect=None)
    assert refused, "the login did not ask Secrets Manager"
    assert_plain_503(reply)
    assert reply.headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert_logged(caplog, secret_name("token-signing-key"))


@pytest.mark.parametrize("failure", FAILURES)
def test_saving_a_center_password_that_cannot_be_stored_is_a_plain_503(
    world: ClientWorld, failure: str, caplog: pytest.LogCaptureFixture  # noqa: F811 - fixtures
) -> None:
    body = center_body("second-lab")
    with secrets_manager_failing(FAILURES[failure]):
        reply = world.api.call("POST", "/rest/v1/centers/openstack", body, sid=world.tenant.sid)
    assert_plain_503(reply)
    assert_logged(caplog, secret_name("center", world.tenant.tenant_id))
    centers = world.api.call("GET", "/rest/v1/centers", sid=world.tenant.sid).body
    assert "second-lab" not in json.dumps(centers)  # no center without its secret


@pytest.mark.parametrize("failure", FAILURES)
def test_testing_a_directory_whose_bind_password_cannot_be_read_is_a_plain_503(
    world: ClientWorld, failure: str, caplog: pytest.LogCaptureFixture  # noqa: F811 - fixtures
) -> None:
    body = minimal_ldap_body(urls=["ldap://127.0.0.1:1"])  # a refused port: never reached anyway
    created = world.api.call("POST", "/rest/v1/auth-servers", body, sid=world.tenant.sid)
    assert created.status == 201, created.body
    server_id = created.body["stored_data"]["id"]
    with secrets_manager_failing(FAILURES[failure]):
        reply = world.api.call("POST", f"/rest/v1/auth-servers/{server_id}/test", sid=world.tenant.sid)
        deleted = world.api.call("DELETE", f"/rest/v1/auth-servers/{server_id}", sid=world.tenant.sid)
    assert_plain_503(reply)
    assert_plain_503(deleted)
    assert_logged(caplog, secret_name("auth-server", world.tenant.tenant_id))


@pytest.mark.parametrize("failure", FAILURES)
def test_the_first_admin_login_without_its_secret_is_a_plain_503(
    aws: AwsStack, failure: str, caplog: pytest.LogCaptureFixture
) -> None:
    """No system administrator yet: the first login reads the deployment's admin password."""
    with Client(app) as http, secrets_manager_failing(FAILURES[failure]):
        body = {"user_login": "admin", "password": "any"}
        reply = Api(http, aws).call("POST", "/rest/v1/session/login", body)
    assert_plain_503(reply)
    assert_logged(caplog, secret_name("admin-password"))


def test_a_deployed_stage_never_creates_its_signing_key(
    world: ClientWorld,  # noqa: F811 - fixtures
    client: ClientApi,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The deployment creates the key (infra/), and the API's role may not: missing is an outage."""
    deployed = dataclasses.replace(get_settings(), deployed_secrets=True)
    monkeypatch.setattr("chalicelib.store.secrets.get_settings", lambda: deployed)
    sm = aws_clients.client("secretsmanager")
    world.user("alice")

    reply = client.login("alice", expect=None)

    assert_plain_503(reply)
    names = [s["Name"] for s in sm.list_secrets()["SecretList"]]
    assert secret_name("token-signing-key") not in names
    assert_logged(caplog, secret_name("token-signing-key"))

    # Once the deployment's key is there, logins use it.
    sm.create_secret(Name=secret_name("token-signing-key"), SecretString="k" * 64)
    assert client.login("alice").status == 200


def test_where_no_deployment_made_it_the_key_is_made_on_first_use(
    world: ClientWorld, client: ClientApi  # noqa: F811 - fixtures
) -> None:
    """`make run` and the tests: no deployment, so the first login creates the key."""
    world.user("alice")
    assert client.login("alice").status == 200
    sm = aws_clients.client("secretsmanager")
    assert secret_name("token-signing-key") in [s["Name"] for s in sm.list_secrets()["SecretList"]]
