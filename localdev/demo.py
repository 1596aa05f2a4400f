"""Demo records for `make run`: a tenant with an administrator, a center on the local OpenStack's demo
project, a pool that keeps itself stocked, a default policy and an end user."""

from __future__ import annotations

import os
from typing import Any

from chalicelib.domain.caller import SYSTEM_TENANT_ID, Caller
from chalicelib.domain.errors import NotUnique
from chalicelib.schemas.admin import TenantBody, UserAdd
from chalicelib.schemas.centers import CenterCreate, CenterDefinition
from chalicelib.schemas.policies import PolicyBody, PoolAssignmentBody
from chalicelib.schemas.pools import PoolBody
from chalicelib.services import centers, policies, pools, tenants, users

DEMO_TENANT = "demo"
DEMO_ADMIN = "demo-admin"
DEMO_USER = "alice"
DEMO_USER_PASSWORD = os.environ.get("BROKER_DEMO_USER_PASSWORD", "alice-demo-pw")
KEYSTONE = os.environ.get("BROKER_DEMO_KEYSTONE", "http://127.0.0.1:5000/v3")


def demo_provision_center(center_id: int, **overrides: Any) -> dict[str, Any]:
    """The `center` part of the demo pool's provisioning: the local cloud's cirros-fake on m1.tiny in the
    private network, booted from a new 1 GB volume of type fake that goes with the instance, a floating
    IP, security group `web`. `overrides` replace or add settings (the real-provisioning test uses it)."""
    return {
        "type": "openstack",
        "id": center_id,
        "image": "cirros-fake",
        "flavor": "m1.tiny",
        "network": "private",
        "assign_floating_ip": 1,
        "security_groups": ["web"],
        "create_new_volume": 1,
        "new_volume_type": "fake",
        "new_volume_size": "1",
        "delete_volume_on_instance_delete": 1,
        **overrides,
    }


def seed(admin_password: str) -> list[str]:
    system = Caller(tenant_id=SYSTEM_TENANT_ID, user_id=0, login="admin", role="Administrator")
    try:
        # listed on the portal's sign-in page (docs/portal.md): a demo tenant has nobody to hide from
        tenant = tenants.create_tenant(system, TenantBody(name=DEMO_TENANT, listed_at_login=1))
    except NotUnique:
        return [f"demo tenant '{DEMO_TENANT}' already exists (kept as it is)"]
    tenant_id = int(tenant.id)
    users.create_user(
        system,
        UserAdd(
            is_local=1,
            user_login=DEMO_ADMIN,
            name="Demo administrator",
            password=admin_password,
            role_name="Administrator",
            tenant_id=tenant_id,
        ),
    )
    admin = Caller(tenant_id=tenant_id, user_id=0, login=DEMO_ADMIN, role="Administrator")
    center = centers.create_center(
        admin,
        "openstack",
        CenterCreate(center_definition=CenterDefinition(
            name="Local OpenStack",
            vc_url=KEYSTONE,
            vc_domain="Default",
            vc_project_domain="Default",
            vc_datacenter="demo",
            vc_name="demo",
            vc_password="secret",  # noqa: S106 - the local OpenStack's documented demo password
            notes="The demo project of localdev/openstack",
            # The local OpenStack's Keystone is plain http:// on loopback; a real one is https://.
            allow_cleartext_password=int(KEYSTONE.startswith("http://")),
        )),
    )
    pool = pools.create_pool(
        admin,
        PoolBody.model_validate(
            {
                "name": "Demo desktops",
                "display_name": "Demo desktops",
                "pool_definition": {"restrict_by": "C", "server_ids": [int(center.id)]},
                "provision": {
                    "provision_on_off": 1,
                    "provision_threshold": 2,
                    "provision_max": 4,
                    "provision_vm_name": "demo-{SEQUENCE:3}",
                    "provision_vm_name_next_value": 1,
                    "provision_vm_display_name": "Demo desktop {SEQUENCE}",
                    "mark_deletable": 1,
                    "center": demo_provision_center(
                        int(center.id),
                        provisioning_actions=[
                            {
                                "prov_action_action": "set_available",
                                "prov_action_wait_value": 0,
                                "prov_action_wait_unit": "seconds",
                            }
                        ],
                    ),
                },
            }
        ),
    )
    policy = policies.create_policy(admin, PolicyBody(name="Default", is_default=1))
    policies.add_assignment(admin, int(policy.id), PoolAssignmentBody(pool_id=int(pool.id)))
    users.create_user(
        admin,
        UserAdd(
            is_local=1,
            user_login=DEMO_USER,
            name="Alice Demo",
            password=DEMO_USER_PASSWORD,
            role_name="User",
            policy_name="Default",
        ),
    )
    return [
        f"demo tenant   '{DEMO_TENANT}': admin '{DEMO_ADMIN}' (admin's password, domain '{DEMO_TENANT}')",
        f"demo center   'Local OpenStack' -> {KEYSTONE} project demo",
        "demo pool     'Demo desktops': keeps 2 unassigned, at most 4 (names demo-001, demo-002, ...)",
        f"end user      '{DEMO_USER}' / '{DEMO_USER_PASSWORD}', domain '{DEMO_TENANT}'",
    ]


# --- the live desktop (localdev/live_demo.py): an HTML5 desktop for a second demo user -------------------

LIVE_USER = "bob"
LIVE_USER_PASSWORD = os.environ.get("BROKER_DEMO_LIVE_USER_PASSWORD", "bob-demo-pw")


def demo_admin(admin_password: str) -> Caller:
    """The demo tenant's administrator; the tenant is made here when seed() did not run (BROKER_OPENSTACK=
    external) or found it already made."""
    system = Caller(tenant_id=SYSTEM_TENANT_ID, user_id=0, login="admin", role="Administrator")
    found = [t for t in tenants.list_tenants(system) if t.name == DEMO_TENANT]
    if found:
        tenant_id = int(found[0].id)
    else:
        tenant_id = int(tenants.create_tenant(system, TenantBody(name=DEMO_TENANT)).id)
        users.create_user(system, UserAdd(is_local=1, user_login=DEMO_ADMIN, name="Demo administrator",
                                          password=admin_password, role_name="Administrator",
                                          tenant_id=tenant_id))
    return Caller(tenant_id=tenant_id, user_id=0, login=DEMO_ADMIN, role="Administrator")


def seed_live_desktop(admin: Caller, vnc_host: str, vnc_port: int, gateway_url: str) -> tuple[str, list[str]]:
    """The live desktop's records: a local noVNC gateway, an uncategorized center with the desktop
    registered by hand, its pool, an HTML5 protocol plan through the gateway, a policy offering the pool and
    a user holding that policy. Returns the gateway's verification key (for its websockify) and what to
    print."""
    from chalicelib.schemas.centers import UncategorizedCenterCreate
    from chalicelib.schemas.desktops import DesktopRegister
    from chalicelib.schemas.gateways import GatewayBody
    from chalicelib.services import desktops, gateways, plans

    gateway = gateways.create_gateway(admin, GatewayBody(
        name="Local noVNC gateway", address=vnc_host, url=gateway_url,
        # loopback, plain http:// like the rest of make run; a real gateway is https://
        allow_cleartext=int(gateway_url.startswith("http://")), notes="localdev/live_demo.py"))
    center = centers.create_uncategorized(admin, UncategorizedCenterCreate.model_validate(
        {"center_definition": {"name": "Live desktops", "notes": "Desktops registered by hand (make run)"}}))
    pool = pools.create_pool(admin, PoolBody.model_validate({
        "name": "Live desktop", "display_name": "Live desktop",
        "pool_definition": {"restrict_by": "C", "server_ids": [int(center.id)]}}))
    desktops.register_desktop(admin, DesktopRegister(center_id=int(center.id), name="live-desktop",
                                                     display_name="Live desktop", address=vnc_host))
    plan = plans.create_plan(admin, "protocol", "In the browser (noVNC)", {
        "protocol": "html5", "port": vnc_port, "options": {"remote_protocol": "vnc"},
        "gateway_id": int(gateway.id), "notes": ""})
    policy = policies.create_policy(admin, PolicyBody(name="Live desktop"))
    policies.add_assignment(admin, int(policy.id), PoolAssignmentBody(pool_id=int(pool.id),
                                                                      plan_protocol_id=int(plan.id)))
    users.create_user(admin, UserAdd(is_local=1, user_login=LIVE_USER, name="Bob Demo",
                                     password=LIVE_USER_PASSWORD, role_name="User",
                                     policy_name="Live desktop"))
    return gateway.verification_key, [
        f"live desktop  'live-desktop' (Xvfb + x11vnc on {vnc_host}:{vnc_port}) behind the noVNC gateway "
        f"{gateway_url}",
        f"end user      '{LIVE_USER}' / '{LIVE_USER_PASSWORD}', domain '{DEMO_TENANT}': connects to the live "
        "desktop in the browser (HTML5)",
    ]
