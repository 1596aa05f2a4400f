"""Schemathesis against our own OpenAPI document: every operation of every prefix, at least 1,000
generated requests with a logged-in admin, no 5xx, and every response as the document says."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from chalicelib.api.openapi import openapi_document
from chalicelib.services.sessions import ensure_system_admin
from tests.fixtures.aws import aws_stack_context

ADMIN_PASSWORD = "fuzz-admin-pw-1"
EXAMPLES_PER_OPERATION = 17
# Logins hash every password they are sent with argon2id (by design slow): fewer examples there.
EXAMPLES_PER_LOGIN = 5
MINIMUM_REQUESTS = 1000
# A bound on one answer, never a speed figure: a loaded machine may take seconds over an argon2 login.
ANSWER_TIMEOUT_SECONDS = 300
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# Logging out would end the fuzzing session itself; it is covered by the session tests.
EXCLUDED = {("POST", "/rest/v1/session/logout")}


@pytest.fixture(scope="module")
def broker_url() -> Iterator[str]:
    """The app served as `make run` serves it (localdev/http_server.py)."""
    with aws_stack_context():
        from app import app
        from localdev.http_server import BrokerHttpServer

        ensure_system_admin(ADMIN_PASSWORD)
        server = BrokerHttpServer(app, "127.0.0.1", 0).start()
        try:
            yield server.url
        finally:
            server.stop()


def _login(base: str) -> str:
    reply = requests.post(
        f"{base}/rest/v1/session/login", timeout=ANSWER_TIMEOUT_SECONDS,
        json={"user_login": "admin", "password": ADMIN_PASSWORD},
    )
    reply.raise_for_status()
    return reply.json()["sid"]


def _fuzzer(
    operation: schemathesis.APIOperation,
    examples: int,
    base: str,
    session: requests.Session,
    sid: str,
    sent: Counter[str],
    statuses: Counter[int],
    failures: list[str],
) -> Callable[[], None]:
    """A hypothesis test of one operation: call it, count it, validate the response."""
    label = operation.label

    @given(case=operation.as_strategy())
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: schemathesis.Case) -> None:
        response = case.call(base_url=base, session=session, headers={"Authorization": sid},
                             timeout=ANSWER_TIMEOUT_SECONDS)
        sent[label] += 1
        statuses[response.status_code] += 1
        try:
            case.validate_response(response, checks=CHECKS)
        except Exception as error:  # collect every operation's first failure, then report all
            failures.append(f"{label}: {str(error)[:600]}")
            raise

    return run


def test_fuzz_every_operation(broker_url: str) -> None:
    schema = schemathesis.openapi.from_dict(json.loads(json.dumps(openapi_document())))
    session = requests.Session()
    sid = _login(broker_url)
    sent: Counter[str] = Counter()
    statuses: Counter[int] = Counter()
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20
    for operation in operations:
        if (operation.method.upper(), operation.path) in EXCLUDED:
            continue

        examples = EXAMPLES_PER_LOGIN if operation.path.endswith("/login") else EXAMPLES_PER_OPERATION
        run = _fuzzer(operation, examples, broker_url, session, sid, sent, statuses, failures)
        try:
            run()
        except (Exception, BaseExceptionGroup) as error:
            if not any(f.startswith(f"{operation.label}:") for f in failures):  # not a response failure
                failures.append(f"{operation.label}: {error!r}"[:600])
    total = sum(sent.values())
    assert not failures, "\n\n".join(failures[:10])
    assert total >= MINIMUM_REQUESTS, f"only {total} requests: {dict(sent)}"
    assert not [code for code in statuses if code >= 500], statuses
