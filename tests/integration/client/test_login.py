"""POST /client/v1/login: authentication, policy choice and the offer, through the HTTP layer on moto."""

from __future__ import annotations

from dataclasses import replace

from chalicelib.services import client_login
from chalicelib.store.desktops import DesktopStore
from tests.fixtures.aws import AwsStack
from tests.integration.api.conftest import Api, TenantAdmin
from tests.integration.client.conftest import (
    USER_PASSWORD,
    ClientApi,
    ClientWorld,
    make_tenant,
    queued_of_type,
)


def basic(world: ClientWorld, desktops: int = 1, **assignment: object) -> tuple[int, int]:
    pool = world.pool()
    policy = world.policy()
    world.assign(policy, pool, **assignment)
    for _ in range(desktops):
        world.desktop(pool)
    return pool, policy


def test_a_local_user_gets_a_desktop_with_its_address(world: ClientWorld, client: ClientApi) -> None:
    pool, _ = basic(world)
    world.user("alice")
    reply = client.login("alice")
    assert reply.headers.get("Cache-Control") == "no-store"
    body = reply.body
    assert body["token_type"] == "Bearer" and body["token"].count(".") == 2
    [desktop] = body["desktops"]
    assert desktop == {
        "id": world.desktops[0].id,
        "name": "desk-001",
        "pool_id": pool,
        "status": "running",
        "protocol": "rdp",
        "address": "203.0.113.1",
        "port": 3389,
        "can_release": True,
    }
    record = world.desktop_record(desktop["id"])
    assert (
        record.assigned_user_id is not None
        and world.stored_user_key(record.id) == f"{world.tenant.tenant_id}#{record.assigned_user_id}"
    )
    assert "message" not in body and "Retry-After" not in reply.headers


def test_the_same_desktop_is_offered_again_at_the_next_login(world: ClientWorld, client: ClientApi) -> None:
    basic(world, desktops=3)
    world.user("alice")
    first = client.login("alice").body["desktops"]
    second = client.login("alice").body["desktops"]
    assert [d["id"] for d in first] == [d["id"] for d in second]
    held = [d for d in world.desktops if world.desktop_record(d.id).assigned_user_id is not None]
    assert len(held) == 1


def test_two_users_get_two_different_desktops(world: ClientWorld, client: ClientApi) -> None:
    basic(world, desktops=2)
    world.user("alice")
    world.user("bob")
    a = client.login("alice").body["desktops"]
    b = client.login("bob").body["desktops"]
    assert len(a) == len(b) == 1
    assert a[0]["id"] != b[0]["id"]


def test_nothing_available_says_so_with_retry_after_and_queues_one_check(
    world: ClientWorld, client: ClientApi, aws: AwsStack
) -> None:
    pool, _ = basic(world, desktops=1)
    for name in ("alice", "bob", "carol", "dave"):
        world.user(name)
    aws.queued()
    assert client.login("alice").body["desktops"]
    for name in ("bob", "carol", "dave"):
        reply = client.login(name)
        assert reply.status == 200
        assert reply.body["desktops"] == []
        assert reply.body["retry_after"] == 30
        assert reply.headers["Retry-After"] == "30"
        assert "No desktop is available right now" in reply.body["message"]
    checks = queued_of_type(aws, "pool.check")
    assert [(c["tenant_id"], c["pool_id"]) for c in checks] == [(world.tenant.tenant_id, pool)]


def test_provisioning_under_way_is_said_when_the_pool_provisions(
    world: ClientWorld, client: ClientApi
) -> None:
    pool = world.pool("growing", provisioning=True)
    world.assign(world.policy(), pool)
    world.user("alice")
    reply = client.login("alice")
    assert reply.body["desktops"] == []
    assert "Provisioning of new desktops is under way" in reply.body["message"]
    assert reply.headers["Retry-After"] == "30"


def test_the_pending_check_marker_expires_so_a_later_login_checks_again(
    world: ClientWorld, client: ClientApi, aws: AwsStack
) -> None:
    from chalicelib.store.pending_checks import clear_pending_check

    pool, _ = basic(world, desktops=0)
    world.user("alice")
    aws.queued()
    client.login("alice")
    client.login("alice")
    assert len(queued_of_type(aws, "pool.check")) == 1
    clear_pending_check(world.tenant.tenant_id, pool)  # what the worker does when the check runs
    client.login("alice")
    assert len(queued_of_type(aws, "pool.check")) == 1


def test_unavailable_desktops_are_never_offered(world: ClientWorld, client: ClientApi) -> None:
    pool, _ = basic(world, desktops=0)
    world.desktop(pool, available=False)
    world.desktop(pool, lifecycle="provisioning")
    world.desktop(pool, lifecycle="error", power_state="error")
    world.desktop(pool, power_state="building")
    good = world.desktop(pool)
    world.user("alice")
    world.user("bob")
    assert [d["id"] for d in client.login("alice").body["desktops"]] == [good.id]
    assert client.login("bob").body["desktops"] == []


def test_a_held_desktop_made_unavailable_is_not_offered_and_another_is_claimed(
    world: ClientWorld, client: ClientApi
) -> None:
    basic(world, desktops=2)
    world.user("alice")
    [first] = client.login("alice").body["desktops"]
    record = world.desktop_record(first["id"])
    DesktopStore().save(replace(record, available=False))
    [second] = client.login("alice").body["desktops"]
    assert second["id"] != first["id"]


def test_offer_quantity_max_desktops_and_display_name(world: ClientWorld, client: ClientApi) -> None:
    pool_a, pool_b = world.pool("a"), world.pool("b")
    policy = world.policy(max_desktops=3)
    world.assign(policy, pool_a, offer_quantity=2, display_mode="display_name")
    world.assign(policy, pool_b, offer_quantity=2)
    for pool in (pool_a, pool_a, pool_a, pool_b, pool_b):
        world.desktop(pool)
    world.user("alice")
    desktops = client.login("alice").body["desktops"]
    assert [d["pool_id"] for d in desktops] == [pool_a, pool_a, pool_b]
    assert desktops[0]["name"].startswith("Desk ") and desktops[2]["name"].startswith("desk-")


def test_the_backup_pool_serves_when_the_primary_is_empty(
    world: ClientWorld, client: ClientApi, aws: AwsStack
) -> None:
    primary, backup = world.pool("primary"), world.pool("backup")
    world.assign(world.policy(), primary, backup_pool_id=backup)
    spare = world.desktop(backup)
    world.user("alice")
    aws.queued()
    desktops = client.login("alice").body["desktops"]
    assert [(d["id"], d["pool_id"]) for d in desktops] == [(spare.id, backup)]
    assert sorted(c["pool_id"] for c in queued_of_type(aws, "pool.check")) == sorted([primary, backup])


def test_address_is_the_fixed_one_without_floating_ip(world: ClientWorld, client: ClientApi) -> None:
    pool, _ = basic(world, desktops=0)
    world.desktop(pool, fixed="198.51.100.77", floating=None)
    world.user("alice")
    assert client.login("alice").body["desktops"][0]["address"] == "198.51.100.77"


def test_oldest_first_and_previously_assigned_orders(world: ClientWorld, client: ClientApi) -> None:
    pool, _ = basic(world, desktops=0, favor_previous_assigned=2)
    world.desktop(pool, "newer", created="2026-05-01T00:00:00Z")
    oldest = world.desktop(pool, "oldest", created="2026-01-01T00:00:00Z")
    world.desktop(pool, "middle", created="2026-03-01T00:00:00Z")
    world.user("alice")
    assert client.login("alice").body["desktops"][0]["id"] == oldest.id


def test_previously_assigned_desktop_comes_back_after_release(world: ClientWorld, client: ClientApi) -> None:
    basic(world, desktops=6, favor_previous_assigned=1)
    world.user("alice")
    [first] = client.login("alice").body["desktops"]
    assert client.call("POST", f"/client/v1/desktops/{first['id']}/release").status == 200
    for _ in range(3):
        [again] = client.login("alice").body["desktops"]
        assert again["id"] == first["id"]
        client.call("POST", f"/client/v1/desktops/{again['id']}/release")


def test_start_if_stopped_queues_a_start_and_does_not_wait(
    world: ClientWorld, client: ClientApi, aws: AwsStack
) -> None:
    pool, _ = basic(world, desktops=0, start_if_stopped=1)
    stopped = world.desktop(pool, power_state="stopped")
    world.user("alice")
    aws.queued()
    [desktop] = client.login("alice").body["desktops"]
    assert desktop["status"] == "starting"
    starts = queued_of_type(aws, "desktop.power")
    assert starts == [
        {
            "type": "desktop.power",
            "tenant_id": world.tenant.tenant_id,
            "desktop_id": stopped.id,
            "action": "start",
            "reason": "offered to a user",
        }
    ]
    assert world.desktop_record(stopped.id).power_state == "stopped"  # the worker starts it, not the login


def test_without_start_flags_a_stopped_desktop_is_offered_as_stopped(
    world: ClientWorld, client: ClientApi, aws: AwsStack
) -> None:
    pool, _ = basic(world, desktops=0)
    world.desktop(pool, power_state="stopped")
    world.user("alice")
    aws.queued()
    assert client.login("alice").body["desktops"][0]["status"] == "stopped"
    assert queued_of_type(aws, "desktop.power") == []


def test_kiosk_offers_one_desktop_marked_kiosk(world: ClientWorld, client: ClientApi) -> None:
    normal, kiosk = world.pool("normal"), world.pool("kiosk")
    policy = world.policy()
    world.assign(policy, normal, offer_quantity=2)
    world.assign(policy, kiosk, kiosk=1, offer_quantity=3)
    for pool in (normal, normal, kiosk, kiosk):
        world.desktop(pool)
    world.user("alice")
    desktops = client.login("alice").body["desktops"]
    assert [(d["pool_id"], d.get("kiosk")) for d in desktops] == [(kiosk, True)]


def test_the_users_own_policy_wins_over_the_default(world: ClientWorld, client: ClientApi) -> None:
    default_pool, special_pool = world.pool("default"), world.pool("special")
    world.assign(world.policy("Default", default=True), default_pool)
    world.assign(world.policy("Special", default=False), special_pool)
    world.desktop(default_pool)
    world.desktop(special_pool)
    world.user("alice", policy_name="Special")
    world.user("bob")
    assert client.login("alice").body["desktops"][0]["pool_id"] == special_pool
    assert client.login("bob").body["desktops"][0]["pool_id"] == default_pool


def test_no_policy_at_all_says_so_without_retry(world: ClientWorld, client: ClientApi) -> None:
    world.user("alice")
    reply = client.login("alice")
    assert reply.body["desktops"] == []
    assert "no policy" in reply.body["message"]
    assert "Retry-After" not in reply.headers


def test_protocol_plan_sets_protocol_and_port(world: ClientWorld, client: ClientApi) -> None:
    plan = world.plan("vnc", "vnc", port=5901)
    basic(world, plan_protocol_id=plan)
    world.user("alice")
    desktop = client.login("alice").body["desktops"][0]
    assert (desktop["protocol"], desktop["port"]) == ("vnc", 5901)


def test_the_domain_picks_the_tenant(
    api: Api, system_sid: str, tenant: TenantAdmin, world: ClientWorld
) -> None:
    other = make_tenant(api, system_sid, "globex")
    other_world = ClientWorld(api, other)
    basic(world)
    basic(other_world)
    world.user("alice", password="acme-pw-1")
    other_world.user("alice", password="globex-pw-1")
    acme = ClientApi(api, "acme")
    globex = ClientApi(api, "GLOBEX")
    a = acme.login("alice", "acme-pw-1").body["desktops"]
    g = globex.login("alice", "globex-pw-1").body["desktops"]
    assert a[0]["id"] == world.desktops[0].id and g[0]["id"] == other_world.desktops[0].id
    # each password only works in its own tenant
    acme.login("alice", "globex-pw-1", expect=401)
    globex.login("alice", "acme-pw-1", expect=401)


def test_a_token_of_one_tenant_never_sees_anothers_desktops(
    api: Api, system_sid: str, world: ClientWorld, client: ClientApi
) -> None:
    other = make_tenant(api, system_sid, "globex")
    other_world = ClientWorld(api, other)
    basic(other_world)
    basic(world)
    world.user("alice")
    client.login("alice")
    foreign = other_world.desktops[0].id
    for action in ("connect", "release"):
        assert client.call("POST", f"/client/v1/desktops/{foreign}/{action}").status == 404


def test_unknown_user_wrong_password_and_unknown_domain_get_one_answer(
    world: ClientWorld, client: ClientApi
) -> None:
    basic(world)
    world.user("alice")
    answers = [
        client.login("alice", "wrong-password", expect=401).body,
        client.login("nobody", USER_PASSWORD, expect=401).body,
        client.login("alice", USER_PASSWORD, domain="no-such-domain", expect=401).body,
        client.login("boss", "tenant-admin-pw", domain=None, expect=401).body,
    ]
    assert all(
        a == {"error_status": "INVALID_CREDENTIALS", "error_message": "Invalid user name or password"}
        for a in answers
    )


def test_a_directory_user_record_cannot_log_in_locally(world: ClientWorld, client: ClientApi) -> None:
    basic(world)
    from chalicelib.domain.entities.users import User
    from chalicelib.store import stores

    stores.users.create(User(tenant_id=world.tenant.tenant_id, login="remote", name="Remote", is_local=0,
                             role="User"))
    client.login("remote", USER_PASSWORD, expect=401)


def test_login_never_logs_or_audits_the_password(world: ClientWorld, client: ClientApi, caplog) -> None:
    import logging

    from chalicelib.store.repos import AuditStore

    basic(world)
    world.user("alice", password="Sup3r-Secret-pw")
    caplog.set_level(logging.DEBUG)
    client.login("alice", "Wr0ng-Secret-pw", expect=401)
    client.login("alice", "Sup3r-Secret-pw")
    text = caplog.text + repr(
        [e.attribute_values for e in AuditStore().list(world.tenant.tenant_id, limit=500)]
    )
    assert "Sup3r-Secret-pw" not in text and "Wr0ng-Secret-pw" not in text


def test_the_login_is_audited_with_its_offer_and_assignments(world: ClientWorld, client: ClientApi) -> None:
    from chalicelib.store.repos import AuditStore

    basic(world)
    world.user("alice")
    client.login("alice", "bad", expect=401)
    [desktop] = client.login("alice").body["desktops"]
    events = {e.type: e for e in AuditStore().list(world.tenant.tenant_id, limit=100)}
    assert events["client.login"].details["offered"] == [desktop["id"]]
    assert events["client.assigned"].desktop_id == desktop["id"]
    assert "client.login_failed" in events


def test_the_service_answers_like_the_route(world: ClientWorld) -> None:
    basic(world)
    world.user("alice")
    result = client_login.login(client_login.LoginRequest("ALICE ", USER_PASSWORD, "Acme"))
    assert result.login == "alice" and result.tenant_id == world.tenant.tenant_id
    assert [d.id for d in result.offer.desktops] == [world.desktops[0].id]
