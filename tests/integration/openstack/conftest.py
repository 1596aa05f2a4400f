"""Fixtures for the adapter's tests against the real services (the stack: tests/fixtures/openstack.py)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import openstack.connection
import pytest

from chalicelib.clouds.openstack import OpenStackCloud, open_cloud
from chalicelib.domain.cloud import ServerSpec
from localdev.openstack import sdk
from tests.fixtures.openstack import RealOpenStack
from tests.integration.openstack.helpers import (
    IsolatedProject,
    Leftovers,
    sdk_connection,
)


@pytest.fixture(scope="session")
def admin_sdk(real_openstack: RealOpenStack) -> openstack.connection.Connection:
    return sdk_connection(real_openstack.admin)


@pytest.fixture
def demo_sdk(real_openstack: RealOpenStack) -> openstack.connection.Connection:
    return sdk_connection(real_openstack.demo)


@pytest.fixture
def cloud(real_openstack: RealOpenStack) -> OpenStackCloud:
    return open_cloud(real_openstack.demo)


@pytest.fixture
def leftovers(admin_sdk: openstack.connection.Connection) -> Iterator[Leftovers]:
    tracker = Leftovers(admin_sdk)
    yield tracker
    tracker.clean()


@pytest.fixture
def unique_name(request: pytest.FixtureRequest) -> str:
    """it-<test>-<random>: unique per test run, recognisable in `openstack server list`."""
    test_part = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower().removeprefix("test_"))[:24].strip("-")
    return f"it-{test_part}-{uuid.uuid4().hex[:6]}"


@pytest.fixture
def plain_spec(unique_name: str) -> ServerSpec:
    return ServerSpec(
        name=unique_name,
        metadata={"broker_desktop_id": unique_name},
        image="cirros-fake",
        flavor="m1.tiny",
        network="private",
    )


@pytest.fixture
def isolated_project(real_openstack: RealOpenStack, unique_name: str) -> Iterator[IsolatedProject]:
    """A fresh project (<unique_name>-<random>) the demo user is a member of: floating IP and quota tests own
    it entirely, so they neither see nor disturb what other tests (or engineers) leave in `demo`."""
    # RAM as generous as demo's, so an oversized flavor fails where it does in real life: in the scheduler.
    with sdk.scratch_project(unique_name, instances=20, cores=400, ram=2 * 1024 * 1024) as project:
        yield IsolatedProject(project.access, project.id)
