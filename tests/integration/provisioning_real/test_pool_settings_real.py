"""What a pool asks for, read back from the real Nova and Cinder: the instance's security groups, its
volume's type and `delete_on_termination`; the new desktop unavailable as the pool says; the volume still
there after the desktop is deleted. The pool is provisioned by the pool_stats schedule, invoked as
EventBridge invokes it (its own check at save is dropped). In a throw-away project, with a volume type of
its own (created as admin) so that a type that was ignored is told from Cinder's default."""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import openstack.exceptions
import pytest

from app import app
from chalicelib.clock import utc_iso
from chalicelib.clouds import use_cloud_factory
from chalicelib.domain.caller import Caller
from chalicelib.jobs.schedules import scheduled_event
from chalicelib.jobs.worker import handle_message
from chalicelib.schemas.centers import CenterCreate, CenterDefinition
from chalicelib.schemas.pools import PoolBody
from chalicelib.services import centers, desktop_actions, pools, scan
from chalicelib.store.desktops import DesktopStore
from chalicelib.store.models import TenantRecord
from localdev.openstack import sdk
from tests.fixtures.aws import AwsStack

pytestmark = [
    pytest.mark.openstack,
    pytest.mark.filterwarnings("ignore::openstack.warnings.RemovedInSDK50Warning"),
    pytest.mark.filterwarnings("ignore::openstack.warnings.RemovedInSDK60Warning"),
]

TENANT = 8
ADMIN = Caller(tenant_id=TENANT, user_id=1, login="boss", role="Administrator")
SETTLE_SECONDS = 180.0
desktops = DesktopStore()


def wait_for(condition: Callable[[], Any], what: str, timeout: float = SETTLE_SECONDS) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting until {what}")
        time.sleep(1)
    return value


def run_worker(aws: AwsStack, until: Callable[[], bool], what: str) -> None:
    """Deliver every queued message to the worker (delays are 0 in the tests) until `until()` holds."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while not until():
        if time.monotonic() > deadline:
            pytest.fail(f"the worker did not get there: {what}")
        batch = aws.queued()
        for message in batch:
            handle_message(json.dumps(message))
        if not batch:
            time.sleep(1)


@pytest.fixture
def volume_type(real_openstack: object) -> Iterator[str]:
    """A volume type of this test's own (Cinder's default here is `fake`)."""
    admin = sdk.admin()
    made = admin.block_storage.create_type(name=f"gold-{uuid.uuid4().hex[:6]}")
    yield str(made.name)
    for _ in range(30):  # a volume on its way out still holds the type for a moment
        try:
            admin.block_storage.delete_type(made, ignore_missing=True)
            return
        except openstack.exceptions.HttpException:
            time.sleep(2)


def test_the_pools_settings_are_what_nova_and_cinder_hold(
    aws: AwsStack, real_openstack: object, volume_type: str
) -> None:
    use_cloud_factory(None)
    now = utc_iso()  # the schedules go through the tenants
    TenantRecord(tenant_id=0, id=TENANT, name="settings", doc={}, created=now, updated=now).save()
    with sdk.scratch_project("settings", instances=4, security_groups=["web"]) as project:
        access = project.access
        center = centers.create_center(ADMIN, "openstack", CenterCreate(center_definition=CenterDefinition(
            name="settings", vc_url=access.auth_url, vc_domain=access.domain, vc_datacenter=access.project,
            vc_name=access.username, vc_password=access.password, vc_version=access.region or "",
            allow_cleartext_password=int(access.auth_url.startswith("http://")))))
        assert scan.check_center(TENANT, int(center.id))  # the inventory the pool is checked against
        pool = pools.create_pool(ADMIN, PoolBody.model_validate({
            "name": "settings",
            "pool_definition": {"restrict_by": "C", "server_ids": [int(center.id)]},
            "provision": {
                "provision_on_off": 1, "provision_threshold": 1, "provision_max": 1,
                "provision_vm_name": "set-{SEQUENCE}", "mark_unavailable": 1, "mark_deletable": 1,
                "center": {"type": "openstack", "id": int(center.id), "image": "cirros-fake",
                           "flavor": "m1.tiny", "network": "private", "availability_zone": "az1",
                           "security_groups": ["web"], "create_new_volume": 1, "new_volume_size": 1,
                           "new_volume_type": volume_type, "delete_volume_on_instance_delete": 0},
            },
        }))
        pool_id = int(pool.id)
        aws.queued()  # the check queued at save is lost: the schedule must find the pool on its own
        app.handler_map["pool_stats_job"](scheduled_event("pool_stats_job"), None)

        def ready() -> bool:
            members = desktops.of_pool(TENANT, pool_id)
            return len(members) == 1 and members[0].lifecycle == "active"

        run_worker(aws, ready, "the pool's desktop is ready")
        [desktop] = desktops.of_pool(TENANT, pool_id)
        assert desktop.available is False, "initialise as unavailable was ignored"
        admin = sdk.admin()
        server = admin.compute.get_server(desktop.instance_id)
        assert sorted(group["name"] for group in server.security_groups) == ["web"]
        [attached] = server.attached_volumes
        assert attached["delete_on_termination"] is False
        volume = admin.block_storage.get_volume(attached["id"])
        assert volume.volume_type == volume_type

        desktop_actions.request_action(ADMIN, int(desktop.id), "delete")
        run_worker(aws, lambda: desktops.get(TENANT, int(desktop.id)).lifecycle == "deleted", "deleted")
        wait_for(lambda: not list(admin.compute.servers(all_projects=True, project_id=project.id)),
                 "the instance is gone from Nova")
        survivor = wait_for(lambda: (v := admin.block_storage.find_volume(
            attached["id"], all_projects=True)) is not None and v.status == "available" and v,
            "the volume is detached (a volume deleted with its instance would be gone)", timeout=60)
        assert survivor.id == attached["id"] and survivor.volume_type == volume_type
        with contextlib.suppress(openstack.exceptions.HttpException):
            admin.block_storage.delete_volume(survivor)  # not the pool's any more: the test's to remove
