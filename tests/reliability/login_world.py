"""A tenant of end users and free desktops, for the login load tests (the service, HTTP and `make run`'s
server): seeded straight into the store, so that only the logins are measured."""

from __future__ import annotations

from typing import Any

from argon2 import PasswordHasher

LOGIN_PASSWORD = "load-test-pw-1"
LOGIN_TENANT = "acme"


def seed_login_world(users: int, desktops: int, favor: int = 0) -> dict[str, Any]:
    """In the AWS this process is pointed at: a tenant (LOGIN_TENANT), a pool of `desktops` free desktops, a
    default policy offering one, `users` local users (user000, user001, ...) with LOGIN_PASSWORD."""
    from dataclasses import replace

    from chalicelib.domain.caller import SYSTEM_TENANT_ID
    from chalicelib.domain.entities.policies import Policy, PoolAssignment
    from chalicelib.domain.entities.pools import Pool, PoolDefinition, Provision
    from chalicelib.domain.entities.tenants import Tenant
    from chalicelib.domain.entities.users import User
    from chalicelib.store import stores
    from chalicelib.store.desktops import DesktopStore

    tenant_id = stores.tenants.create(Tenant(tenant_id=SYSTEM_TENANT_ID, name=LOGIN_TENANT)).id
    pool_id = stores.pools.create(Pool(
        tenant_id=tenant_id, name="load",
        pool_definition=PoolDefinition(restrict_by="C", server_ids=[1]),
        provision=Provision(provision_on_off=0),
    )).id
    stores.policies.create(Policy(
        tenant_id=tenant_id, name="Default", is_default=1, max_desktops=0, single_desktop_only=0,
        pool_assignments=(PoolAssignment(id=1, pool_id=pool_id, backup_pool_id=0, offer_quantity=1,
                                         favor_previous_assigned=favor, power_on=0, start_if_stopped=0,
                                         kiosk=0, display_mode="name", plan_protocol_id=0),),
    ))
    store = DesktopStore()
    for index in range(desktops):
        record = store.new(
            tenant_id,
            1,
            pool_id,
            f"load-{index:03d}",
            display_name=f"Load {index}",
            lifecycle="active",
            available=True,
            deletable=False,
            power_state="running",
            fixed_addresses=(f"198.51.100.{index % 250 + 1}",),
            floating_addresses=(f"203.0.113.{index % 250 + 1}",),
        )
        store.save(replace(record, created=f"2026-01-01T00:{index // 60:02d}:{index % 60:02d}Z"))
    # argon2id with small costs: the algorithm is the one production verifies, the load is the claims
    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(LOGIN_PASSWORD)
    for index in range(users):
        stores.users.create(User(tenant_id=tenant_id, login=f"user{index:03d}", name=f"User {index}",
                                 is_local=1, role="User", password_hash=cheap))
    return {"tenant_id": tenant_id, "pool_id": pool_id}
