"""A deficit of 120 against the real local OpenStack: one check reserves it all, writes the records in
bounded batches and has Nova accept 120 creates, in a throw-away project whose quotas an admin raised."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from chalicelib.clouds import use_cloud_factory
from chalicelib.domain import provisioning as rules
from chalicelib.domain.caller import Caller
from chalicelib.jobs.worker import handle_message
from chalicelib.schemas.centers import CenterCreate, CenterDefinition
from chalicelib.schemas.pools import PoolBody
from chalicelib.services import centers, pools, provisioning, scan
from chalicelib.store.desktops import DesktopStore, PoolCounters
from localdev.openstack import sdk
from tests.fixtures.aws import AwsStack
from tests.integration.provisioning.conftest import dynamodb_request_sizes

pytestmark = [
    pytest.mark.openstack,
    pytest.mark.filterwarnings("ignore::openstack.warnings.RemovedInSDK50Warning"),
]

TENANT = 4
ADMIN = Caller(tenant_id=TENANT, user_id=1, login="boss", role="Administrator")
DEFICIT = 120
desktops = DesktopStore()
counters = PoolCounters()


def servers_once_built(project_id: str, timeout: float = 300) -> list[Any]:
    """The project's servers once Nova lists all of them (bounded: a create it never built fails here)."""
    deadline = time.monotonic() + timeout
    while True:
        servers = list(sdk.admin().compute.servers(all_projects=True, project_id=project_id))
        if len(servers) >= DEFICIT or time.monotonic() > deadline:
            return servers
        time.sleep(2)


def test_a_deficit_of_120_is_created_in_the_real_nova_by_one_check(
    aws: AwsStack, real_openstack: object
) -> None:
    use_cloud_factory(None)
    with sdk.scratch_project("deficit", instances=DEFICIT + 10, ports=DEFICIT + 20) as project:
        access = project.access
        center = centers.create_center(
            ADMIN,
            "openstack",
            CenterCreate(center_definition=CenterDefinition(
                name="big", vc_url=access.auth_url, vc_domain=access.domain, vc_datacenter=access.project,
                vc_name=access.username, vc_password=access.password, vc_version=access.region or "",
                allow_cleartext_password=int(access.auth_url.startswith("http://")), build_limit=DEFICIT)),
        )
        pool = pools.create_pool(ADMIN, PoolBody.model_validate({
            "name": "big",
            "pool_definition": {"restrict_by": "C", "server_ids": [int(center.id)]},
            "provision": {
                "provision_on_off": 1, "provision_threshold": DEFICIT, "provision_max": DEFICIT,
                "provision_vm_name": "big-{SEQUENCE:3}",
                "center": {"type": "openstack", "id": int(center.id), "image": "cirros-fake",
                           "flavor": "m1.tiny", "network": "private", "availability_zone": "az1"},
            },
        }))
        pool_id = int(pool.id)
        checks = [m for m in aws.queued() if m["type"] == "pool.check"]
        assert [m["pool_id"] for m in checks] == [pool_id]
        with dynamodb_request_sizes() as sizes:
            handle_message(json.dumps(checks[0]))  # the worker's check: every create answered on return

        servers = servers_once_built(project.id)
        # A loaded Nova may answer a create after the adapter stopped waiting: the record then has no
        # instance yet, the create is never sent again, and the scheduled scan links the server, as below.
        scan.scan_center(TENANT, int(center.id))
        names = sorted(server.name for server in servers)
        assert names == [f"big-{n:03d}" for n in range(1, DEFICIT + 1)]
        records = {int(d.id): d for d in desktops.of_pool(TENANT, pool_id)}
        assert counters.total(TENANT, pool_id) == DEFICIT == len(records)
        assert counters.reservation(TENANT, pool_id) is None
        for server in servers:
            record = records[int(server.metadata[rules.METADATA_DESKTOP])]
            assert (record.instance_id, record.name) == (server.id, server.name)
        assert sizes.largest("TransactWriteItems") <= 100 and sizes.largest("BatchWriteItem") <= 25
        assert provisioning.check_pool(TENANT, pool_id, "again") == 0
        assert len(list(sdk.admin().compute.servers(all_projects=True, project_id=project.id))) == DEFICIT
