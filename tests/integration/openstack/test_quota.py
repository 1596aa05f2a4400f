"""Quota: Nova's refusal becomes CloudQuotaExceeded with Nova's own words."""

from __future__ import annotations

from dataclasses import replace

import openstack.connection
import pytest

from chalicelib.clouds.openstack import open_cloud
from chalicelib.domain.cloud import CloudQuotaExceeded, ServerSpec
from tests.integration.openstack.helpers import OPENSTACK_TEST_MARKS, IsolatedProject, wait_for_status

pytestmark = OPENSTACK_TEST_MARKS


def test_instance_quota_exceeded_is_reported_as_such(
    isolated_project: IsolatedProject, plain_spec: ServerSpec, admin_sdk: openstack.connection.Connection
) -> None:
    # The quota is lowered on a project of the test's own, so nobody else using `demo` is refused meanwhile.
    admin_sdk.compute.update_quota_set(isolated_project.project_id, instances=1)
    cloud = open_cloud(isolated_project.access)
    # Nova's API counts an instance once the conductor has written it to the cell database; a create
    # racing that is let through and refused later by the conductor's recheck (the server goes to ERROR
    # with "Quota exceeded" as its fault). Waiting for ACTIVE makes the synchronous refusal certain.
    wait_for_status(cloud, cloud.create_server(plain_spec).id, "ACTIVE")

    with pytest.raises(CloudQuotaExceeded) as raised:
        cloud.create_server(replace(plain_spec, name=f"{plain_spec.name}-over"))

    assert "Quota exceeded for instances" in raised.value.message
    assert [server.name for server in cloud.list_servers()] == [plain_spec.name]
