"""A user changed or deleted by an administrator: what it could do until then ends at once.

The attack this closes: a deleted user's client token stayed valid until it expired, `connect` kept
handing out its desktop's address, and its desktops stayed assigned to nobody who could release them.
"""

from __future__ import annotations

from typing import Any

from chalicelib import clock
from chalicelib.store import stores
from tests.integration.api.builders import stored_state
from tests.integration.api.conftest import ADMIN_PASSWORD, Api, TenantAdmin
from tests.integration.client.conftest import USER_PASSWORD, ClientApi, ClientWorld


def user_id(api: Api, tenant: TenantAdmin, login: str) -> int:
    users = api.call("GET", "/rest/v1/users", sid=tenant.sid).body
    return next(u["id"] for u in users if u["user_login"] == login)


def put_user(api: Api, sid: str, user: int, body: dict[str, Any]) -> Any:
    return api.call("PUT", f"/rest/v1/users/{user}", body, sid=sid)


def holding_world(world: ClientWorld, count: int = 2) -> tuple[int, list[int]]:
    pool = world.pool()
    world.assign(world.policy(), pool, offer_quantity=count)
    for _ in range(count + 1):
        world.desktop(pool)
    return world.user("alice"), [d.id for d in world.desktops]


def test_a_deleted_user_loses_token_connect_and_desktops(world: ClientWorld, client: ClientApi, api: Api,
                                                         tenant: TenantAdmin, aws: Any) -> None:
    alice, _ = holding_world(world)
    held = [d["id"] for d in client.login("alice").body["desktops"]]
    assert len(held) == 2
    assert client.call("POST", f"/client/v1/desktops/{held[0]}/connect").status == 200
    aws.queued()
    assert api.call("DELETE", f"/rest/v1/users/{alice}", sid=tenant.sid).status == 204
    for method, path in (("GET", "/client/v1/desktops"), ("POST", f"/client/v1/desktops/{held[0]}/connect"),
                         ("POST", f"/client/v1/desktops/{held[1]}/release")):
        reply = client.call(method, path)
        assert reply.status == 401, (path, reply.body)
    for desktop_id in held:
        record = world.desktop_record(desktop_id)
        assert record.assigned_user_id is None and world.stored_user_key(desktop_id) is None
    events = [e for e in stores.audit.list(world.tenant.tenant_id, limit=100) if e.type == "client.release"]
    assert sorted(int(e.desktop_id) for e in events) == sorted(held)
    # a user of the same name created later is someone else: the old token does not open it
    world.user("alice")
    assert client.call("GET", "/client/v1/desktops").status == 401


def test_a_deleted_administrators_sessions_end(api: Api, tenant: TenantAdmin, system_sid: str) -> None:
    boss = user_id(api, tenant, "boss")
    assert api.call("GET", "/rest/v1/pools", sid=tenant.sid).status == 200
    assert api.call("DELETE", f"/rest/v1/users/{boss}", sid=system_sid).status == 404  # another tenant's user
    other_admin = api.call("POST", "/rest/v1/users",
                           {"is_local": 1, "user_login": "second", "name": "Second",
                            "password": "second-pw-1", "role_name": "Administrator"}, sid=tenant.sid)
    second_sid = api.login("second", "second-pw-1", domain=tenant.name)
    assert api.call("DELETE", f"/rest/v1/users/{other_admin.body['stored_data']['id']}",
                    sid=tenant.sid).status == 204
    assert api.call("GET", "/rest/v1/pools", sid=second_sid).status == 401


def test_put_user_changes_name_role_policy_and_enabled(world: ClientWorld, client: ClientApi, api: Api,
                                                       tenant: TenantAdmin) -> None:
    alice, _ = holding_world(world, count=1)
    world.policy("special", default=False)
    reply = put_user(api, tenant.sid, alice, {"name": "Alice A.", "role_name": "read-only administrator",
                                              "policy_name": "special", "notes": "n"})
    assert reply.status == 200, reply.body
    shown = reply.body
    assert (shown["name"], shown["role_name"], shown["policy_name"], shown["enabled"]) == (
        "Alice A.", "Read-only Administrator", "special", 1)
    assert put_user(api, tenant.sid, alice, {"policy_name": None}).body.get("policy_name") is None
    client.login("alice")
    token = client.token
    disabled = put_user(api, tenant.sid, alice, {"enabled": 0})
    assert disabled.status == 200 and disabled.body["enabled"] == 0
    assert client.call("GET", "/client/v1/desktops", token=token).status == 401
    refused = client.login("alice", expect=401)
    assert refused.body == client.login("alice", "wrong", expect=401).body  # no hint that it is disabled
    put_user(api, tenant.sid, alice, {"enabled": 1})
    client.login("alice")


def test_a_new_password_ends_every_token_and_session_of_the_user(world: ClientWorld, client: ClientApi,
                                                                 api: Api, tenant: TenantAdmin) -> None:
    alice, _ = holding_world(world, count=1)
    with clock.controlled() as now:
        client.login("alice")
        old_token = client.token
        now.advance(1)
        assert put_user(api, tenant.sid, alice, {"password": "brand-new-pw"}).status == 200
        now.advance(1)
        assert client.call("GET", "/client/v1/desktops", token=old_token).status == 401
        client.login("alice", expect=401)
        client.login("alice", "brand-new-pw")
        assert client.call("GET", "/client/v1/desktops").status == 200


def test_bad_updates_name_the_field_and_change_nothing(world: ClientWorld, api: Api, tenant: TenantAdmin,
                                                       system_sid: str) -> None:
    alice, _ = holding_world(world, count=1)
    directory_user = api.call("POST", "/rest/v1/users", {"is_local": 0, "user_login": "dirk", "name": "Dirk",
                                                          "auth_server": "nope", "role_name": "User"},
                              sid=tenant.sid)
    assert directory_user.status == 400  # no such server: the directory case is covered in auth_servers
    boss = user_id(api, tenant, "boss")
    cases: list[tuple[int, dict[str, Any], str]] = [
        (alice, {"role_name": "Emperor"}, "/body/role_name"),
        (alice, {"policy_name": "no such policy"}, "/body/policy_name"),
        (alice, {"enabled": 2}, "/body/enabled"),
        (alice, {"password": "ab"}, "/body/password"),
        (alice, {"user_login": "renamed"}, "/body/user_login"),
        (alice, {"name": None}, "/body/name"),
        (alice, {"current_password": "x"}, "/body/current_password"),
        (boss, {"enabled": 0}, "/body/enabled"),
        (boss, {"role_name": "User"}, "/body/role_name"),
        (boss, {"password": "new-boss-pw"}, "/body/current_password"),
        (boss, {"password": "new-boss-pw", "current_password": "wrong"}, "/body/current_password"),
    ]
    before = stored_state()
    for target, body, field in cases:
        reply = put_user(api, tenant.sid, target, body)
        assert reply.status == 400, (body, reply.body)
        assert field in [e["path"] for e in reply.body["errors"]], (body, reply.body)
    assert stored_state() == before
    assert put_user(api, tenant.sid, 10**9, {"name": "x"}).status == 404
    assert put_user(api, system_sid, alice, {"name": "x"}).status == 404  # tenants are apart


def test_the_system_administrator_changes_the_deploy_time_password(api: Api, system_sid: str) -> None:
    admin = next(u["id"] for u in api.call("GET", "/rest/v1/users", sid=system_sid).body)
    with clock.controlled() as now:
        changed = put_user(api, system_sid, admin, {"password": "a-better-admin-pw",
                                                    "current_password": ADMIN_PASSWORD})
        assert changed.status == 200, changed.body
        now.advance(1)
        assert api.call("GET", "/rest/v1/tenants", sid=system_sid).status == 401  # its sessions ended
        old = api.call("POST", "/rest/v1/session/login", {"user_login": "admin", "password": ADMIN_PASSWORD})
        assert old.status == 401
        assert api.login("admin", "a-better-admin-pw")


def test_a_users_password_is_never_returned(api: Api, tenant: TenantAdmin, world: ClientWorld) -> None:
    alice, _ = holding_world(world, count=1)
    reply = put_user(api, tenant.sid, alice, {"password": "never-shown-pw"})
    assert "never-shown-pw" not in str(reply.body) and "password" not in str(reply.body)
    assert USER_PASSWORD not in str(api.call("GET", f"/rest/v1/users/{alice}", sid=tenant.sid).body)
