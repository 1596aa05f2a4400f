"""An installation for the benches, in moto: a tenant, its centers and pools saved through the services (as
an admin saves them), and each pool's desktops written in batches (as provisioning would have left them,
a quarter assigned), each with its instance in its center's in-memory cloud when `cloud_of` is given
(the cloud of a project, by the project's name: each center is a project of its own).

Used by the pool_stats bench and by the idle-cost bench (bench/cost.py). Call inside an AWS context
(`tests.fixtures.aws.aws_stack_context`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

ADMIN_LOGIN = "bench"
TENANT_ID = 1


@dataclass
class Installation:
    tenant_id: int
    center_ids: list[int] = field(default_factory=list)
    pool_ids: list[int] = field(default_factory=list)
    desktops: int = 0


def seed_installation(
    *, pools: int, desktops_per_pool: int, centers: int = 1, provisioning: bool = False,
    cloud_of: Callable[[str], Any] | None = None,
) -> Installation:
    from chalicelib.clock import utc_iso
    from chalicelib.domain import provisioning as rules
    from chalicelib.domain.caller import Caller
    from chalicelib.domain.cloud import ServerSpec
    from chalicelib.schemas.centers import CenterCreate, CenterDefinition
    from chalicelib.schemas.pools import PoolBody
    from chalicelib.services import centers as center_service
    from chalicelib.services import pools as pool_service
    from chalicelib.store.desktops import DesktopStore, PoolCounters, center_key, pool_key, user_key
    from chalicelib.store.models import DesktopRecord, TenantRecord

    tenant_id = TENANT_ID
    now = utc_iso()
    TenantRecord(tenant_id=0, id=tenant_id, name="bench", doc={}, created=now, updated=now).save()
    admin = Caller(tenant_id=tenant_id, user_id=1, login=ADMIN_LOGIN, role="Administrator")
    installation = Installation(tenant_id)
    for n in range(centers):
        definition = CenterDefinition(
            name=f"center-{n}", vc_url="http://127.0.0.1:5000/v3", vc_datacenter=f"project-{n}",
            vc_name="bench", vc_password="bench-center-password", allow_cleartext_password=1)
        center = center_service.create_center(admin, "openstack", CenterCreate(center_definition=definition))
        installation.center_ids.append(int(center.id))
    store, counters = DesktopStore(), PoolCounters()
    stopped: list[tuple[Any, str]] = []
    for n in range(pools):
        center_id = installation.center_ids[n % centers]
        cloud = cloud_of(f"project-{n % centers}") if cloud_of is not None else None
        pool = pool_service.create_pool(admin, PoolBody.model_validate({
            "name": f"pool-{n}",
            "pool_definition": {"restrict_by": "C", "server_ids": [center_id]},
            "provision": {
                "provision_on_off": int(provisioning),
                "provision_threshold": max(1, desktops_per_pool // 10),
                "provision_max": desktops_per_pool,
                "provision_vm_name": f"p{n}-{{SEQUENCE:3}}",
                "center": {"type": "openstack", "id": center_id, "image": "cirros-fake", "flavor": "m1.tiny",
                           "network": "private"},
            },
        }))
        pool_id = int(pool.id)
        installation.pool_ids.append(pool_id)
        ids = store.new_ids(desktops_per_pool)
        with DesktopRecord.batch_write() as batch:  # pynamodb sends it 25 items at a time
            for index, desktop_id in enumerate(ids):
                name = f"p{n}-{index + 1:03d}"
                instance_id, addresses = f"i-{desktop_id}", [f"198.51.100.{index % 250 + 1}"]
                if cloud is not None:
                    server = cloud.create_server(ServerSpec(
                        name=name, image="cirros-fake", flavor="m1.tiny", network="private",
                        metadata={rules.METADATA_DESKTOP: str(desktop_id), rules.METADATA_POOL: str(pool_id),
                                  rules.METADATA_TENANT: str(tenant_id)}))
                    instance_id, addresses = server.id, list(server.fixed_addresses)
                    if index % 3 == 0:
                        stopped.append((cloud, server.id))
                assigned = 1000 + desktop_id if index % 4 == 0 else None
                batch.save(DesktopRecord(
                    tenant_id=tenant_id, id=desktop_id, name=name, display_name=name, center_id=center_id,
                    center_key=center_key(tenant_id, center_id), pool_id=pool_id,
                    pool_key=pool_key(tenant_id, pool_id), instance_id=instance_id,
                    power_state="running" if index % 3 else "stopped", available=True, deletable=False,
                    lifecycle="active", assigned_user_id=assigned,
                    user_key=user_key(tenant_id, assigned) if assigned else None,
                    doc={"created_by_broker": True, "fixed_addresses": addresses, "floating_addresses": []},
                    created=now, updated=now))
        counters.try_reserve(tenant_id, pool_id, None, desktops_per_pool)
        installation.desktops += desktops_per_pool
    if cloud_of is not None:
        from chalicelib.domain.cloud import PowerAction

        for n in range(centers):
            cloud_of(f"project-{n}").advance_builds()
        for cloud, server_id in stopped:
            cloud.power(server_id, PowerAction.STOP)
    return installation
