"""Test-wide fixtures. Plugins with the real services live in tests/fixtures/."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fixtures.aws import AwsStack, aws_stack_context

pytest_plugins: list[str] = []
pytest_plugins.append("tests.fixtures.ldap")
pytest_plugins.append("tests.fixtures.openstack")
pytest_plugins.append("tests.fixtures.moto_server")
pytest_plugins.append("tests.fixtures.secrets_watch")  # no secret in any log line or response


@pytest.fixture
def aws() -> Iterator[AwsStack]:
    """Fresh DynamoDB tables, queue and secrets in moto, for one test."""
    with aws_stack_context() as stack:
        yield stack
