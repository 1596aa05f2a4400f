"""End to end against the real OpenStack services: a center and a pool saved through the services, the
worker provisioning into a real Nova (fake hypervisor), Cinder volumes and Neutron floating IPs."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace

import pytest

from chalicelib.clouds import open_cloud, use_cloud_factory
from chalicelib.domain import provisioning as rules
from chalicelib.domain.caller import Caller
from chalicelib.domain.cloud import CenterAccess
from chalicelib.jobs.worker import handle_message
from chalicelib.schemas.centers import CenterCreate, CenterDefinition
from chalicelib.schemas.pools import PoolBody
from chalicelib.services import centers, pools, provisioning, scan
from chalicelib.store import stores
from chalicelib.store.aws import client
from chalicelib.store.desktops import DesktopStore
from localdev.demo import demo_provision_center
from localdev.openstack import sdk
from tests.fixtures.aws import AwsStack

pytestmark = pytest.mark.openstack

TENANT = 3
ADMIN = Caller(tenant_id=TENANT, user_id=1, login="boss", role="Administrator")
desktops = DesktopStore()


def run_worker(aws: AwsStack, until: object, timeout: float = 120.0) -> None:
    """Deliver queued messages (delays ignored) until `until()` holds."""
    sqs = client("sqs")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if until():  # type: ignore[operator]
            return
        batch = sqs.receive_message(QueueUrl=aws.queue_url, MaxNumberOfMessages=10).get("Messages", [])
        for message in batch:
            sqs.delete_message(QueueUrl=aws.queue_url, ReceiptHandle=message["ReceiptHandle"])
            handle_message(message["Body"])
        if not batch:
            time.sleep(1)
    raise AssertionError("the worker did not get there in time")


@pytest.fixture
def demo_center(aws: AwsStack, openstack_demo: CenterAccess) -> Iterator[int]:
    use_cloud_factory(None)
    record = centers.create_center(
        ADMIN,
        "openstack",
        CenterCreate(center_definition=CenterDefinition(
            name=f"real-{uuid.uuid4().hex[:6]}",
            vc_url=openstack_demo.auth_url,
            allow_cleartext_password=1,  # the local Keystone is http:// on loopback
            vc_domain=openstack_demo.domain,
            vc_datacenter=openstack_demo.project,
            vc_name=openstack_demo.username,
            vc_password=openstack_demo.password,
        )),
    )
    yield int(record.id)


@pytest.fixture
def fresh_project(real_openstack: object) -> Iterator[CenterAccess]:
    """A project of its own (the demo user a member, a `web` security group), so that what others left
    in `demo` cannot join the pool under test; removed with everything in it afterwards."""
    with sdk.scratch_project(
        "e2e", instances=10, cores=40, ram=64 * 1024, security_groups=["web"]
    ) as project:
        yield project.access


def associated_floating_ips(access: CenterAccess) -> dict[str, str]:
    """Neutron's truth (Nova's view of a new floating IP lags): floating address -> fixed address."""
    conn = sdk.connect(access)
    return {ip.floating_ip_address: ip.fixed_ip_address for ip in conn.network.ips() if ip.port_id}


def server_fixed(server: object) -> tuple[str, ...]:
    return server.fixed_addresses  # type: ignore[attr-defined]


def _cleanup(access: CenterAccess, prefix: str) -> None:
    cloud = open_cloud(access)
    for server in cloud.list_servers():
        if server.name.startswith(prefix):
            cloud.delete_server(server.id, delete_volumes=True)


def test_center_check_reads_the_inventory_and_goes_online(aws: AwsStack, demo_center: int) -> None:
    assert scan.check_center(TENANT, demo_center)
    center = stores.centers.get(TENANT, demo_center)
    assert center.status == centers.STATUS_ONLINE
    inventory = center.inventory or {}
    assert "cirros-fake" in [i["name"] for i in inventory["images"]]
    assert "m1.tiny" in [f["name"] for f in inventory["flavors"]]
    assert {"private", "public"} <= {n["name"] for n in inventory["networks"]}
    assert "fake" in [v["name"] for v in inventory["volume_types"]]


def test_wrong_password_shows_the_center_offline_with_a_reason(
    aws: AwsStack, openstack_demo: CenterAccess
) -> None:
    use_cloud_factory(None)
    record = centers.create_center(
        ADMIN,
        "openstack",
        CenterCreate(center_definition=CenterDefinition(
            name="wrong-pw",
            vc_url=openstack_demo.auth_url,
            allow_cleartext_password=1,  # the local Keystone is http:// on loopback
            vc_datacenter="demo",
            vc_name="demo",
            vc_password="nope",
        )),
    )
    assert not scan.check_center(TENANT, int(record.id))
    center = stores.centers.get(TENANT, record.id)
    assert center.status == centers.STATUS_OFFLINE
    assert "password" in center.status_message.lower() or "auth" in center.status_message.lower()


@pytest.mark.parametrize("center_type", ["openstack", "virtuozzo"])
def test_pool_provisions_boot_from_volume_with_floating_ip_and_security_group(
    aws: AwsStack, fresh_project: CenterAccess, center_type: str
) -> None:
    use_cloud_factory(None)
    prefix = f"e2e{uuid.uuid4().hex[:5]}-"
    center = centers.create_center(
        ADMIN,
        center_type,
        CenterCreate(center_definition=CenterDefinition(
            name=f"c-{prefix}",
            vc_url=fresh_project.auth_url,
            allow_cleartext_password=1,  # the local Keystone is http:// on loopback
            vc_datacenter=fresh_project.project,
            vc_name=fresh_project.username,
            vc_password=fresh_project.password,
        )),
    )
    pool = pools.create_pool(
        ADMIN,
        PoolBody.model_validate(
            {
                "name": f"p-{prefix}",
                "pool_definition": {"restrict_by": "C", "server_ids": [int(center.id)]},
                "provision": {
                    "provision_on_off": 1,
                    "provision_threshold": 2,
                    "provision_max": 3,
                    "provision_vm_name": prefix + "{SEQUENCE:2}",
                    "provision_vm_name_next_value": 5,
                    # What `make run`'s demo pool asks for: a new volume, a floating IP, security group web.
                    "center": demo_provision_center(
                        int(center.id),
                        type=center_type,
                        # the local cloud's compute host is in zone az1 (VHI's default `nova` is a unit test)
                        availability_zone="az1",
                    ),
                },
            }
        ),
    )
    pool_id = int(pool.id)
    try:

        def ready() -> bool:
            members = desktops.of_pool(TENANT, pool_id)
            return len(members) == 2 and all(d.lifecycle == "active" for d in members)

        run_worker(aws, ready)
        cloud = open_cloud(fresh_project)
        servers = {s.name: s for s in cloud.list_servers() if s.name.startswith(prefix)}
        assert sorted(servers) == [prefix + "05", prefix + "06"]
        for desktop in desktops.of_pool(TENANT, pool_id):
            server = servers[desktop.name]
            assert server.id == desktop.instance_id
            assert server.metadata[rules.METADATA_DESKTOP] == str(desktop.id)
            assert server.metadata[rules.METADATA_POOL] == str(pool_id)
            assert server.volume_ids, "booted from a new volume"
            (address,) = desktop.floating_addresses
            assert associated_floating_ips(fresh_project).get(address) in server_fixed(server), address
            assert server.availability_zone == "az1"
            assert desktop.available and desktop.power_state == "running"
        # A user is assigned one: the pool grows to its maximum, not past it.
        first = desktops.of_pool(TENANT, pool_id)[0]
        first = desktops.save(replace(first, assigned_user_id=42))
        assert provisioning.check_pool(TENANT, pool_id, "assigned") == 1
        assert provisioning.check_pool(TENANT, pool_id, "again") == 0
        run_worker(aws, lambda: all(d.lifecycle == "active" for d in desktops.of_pool(TENANT, pool_id)))
        assert len([s for s in cloud.list_servers() if s.name.startswith(prefix)]) == 3
    finally:
        _cleanup(fresh_project, prefix)


def test_requests_per_provisioned_desktop_are_counted(aws: AwsStack, openstack_demo: CenterAccess) -> None:
    use_cloud_factory(None)
    prefix = f"cnt{uuid.uuid4().hex[:5]}-"
    cloud = open_cloud(openstack_demo)
    cloud.inventory()  # warm: token and name resolution are counted apart
    center = centers.create_center(
        ADMIN,
        "openstack",
        CenterCreate(center_definition=CenterDefinition(
            name=f"c-{prefix}",
            vc_url=openstack_demo.auth_url,
            allow_cleartext_password=1,  # the local Keystone is http:// on loopback
            vc_datacenter="demo",
            vc_name="demo",
            vc_password=openstack_demo.password,
        )),
    )
    pool = pools.create_pool(
        ADMIN,
        PoolBody.model_validate(
            {
                "name": f"p-{prefix}",
                "pool_definition": {"restrict_by": "C", "server_ids": [int(center.id)]},
                "provision": {
                    "provision_on_off": 1,
                    "provision_threshold": 4,
                    "provision_max": 4,
                    "provision_vm_name": prefix + "{SEQUENCE}",
                    "center": {
                        "type": "openstack",
                        "id": int(center.id),
                        "image": "cirros-fake",
                        "flavor": "m1.tiny",
                        "network": "private",
                    },
                },
            }
        ),
    )
    try:
        cloud.reset_request_counts()
        created = provisioning.check_pool(TENANT, int(pool.id), "count")
        counts = cloud.request_counts
        assert created == 4
        # per desktop: the name look-up and the create; token and id resolution are counted apart
        assert counts.other / created <= 3, json.dumps(counts.as_dict())
    finally:
        _cleanup(openstack_demo, prefix)
