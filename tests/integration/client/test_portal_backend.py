"""What the portal needs of the API (docs/portal.md): the login domains listed on the sign-in page, a new
offer for a signed-in user, the pool assignment's `prevent_release`, and a busy login told apart from a
lockout."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from chalicelib.domain.caller import SYSTEM_TENANT_ID, Caller
from chalicelib.schemas.admin import TenantBody
from chalicelib.services import client_cache, lockout, tenants
from chalicelib.store import login_names
from chalicelib.store.metrics import count_requests
from chalicelib.store.repos import AuditStore
from tests.integration.api.builders import stored_state
from tests.integration.api.conftest import Api, TenantAdmin
from tests.integration.client.conftest import ClientApi, ClientWorld

SYSTEM = Caller(tenant_id=SYSTEM_TENANT_ID, user_id=0, login="admin", role="Administrator")


def listed(api: Api) -> list[str]:
    reply = api.call("GET", "/client/v1/domains")  # public: no token, no session
    assert reply.status == 200, reply.body
    return reply.body["domains"]


def set_listed(api: Api, system_sid: str, tenant_id: int, flag: Any, **more: Any) -> Any:
    return api.call("PUT", f"/rest/v1/tenants/{tenant_id}", {"listed_at_login": flag, **more}, sid=system_sid)


# --- the listed login domains ------------------------------------------------------------------------------


def test_only_tenants_that_chose_it_are_listed(api: Api, system_sid: str, tenant: TenantAdmin,
                                               other_tenant: TenantAdmin) -> None:
    assert listed(api) == []  # the default: nobody is enumerated
    shown = api.call("GET", f"/rest/v1/tenants/{tenant.tenant_id}", sid=system_sid)
    assert shown.body["listed_at_login"] == 0
    reply = set_listed(api, system_sid, other_tenant.tenant_id, 1, login_domains=["globex.example"])
    assert reply.status == 200 and reply.body["listed_at_login"] == 1
    client_cache.clear_all()  # as another Lambda instance would see it once its cache entry expired
    assert listed(api) == ["globex", "globex.example"]  # acme (not listed) stays unknown
    # a listed tenant's granted domains follow its changes
    set_listed(api, system_sid, other_tenant.tenant_id, 1, login_domains=["g.example", "globex.example"])
    assert listed(api) == ["g.example", "globex", "globex.example"]
    reply = set_listed(api, system_sid, other_tenant.tenant_id, 0)
    assert reply.status == 200 and reply.body["listed_at_login"] == 0
    assert listed(api) == []


def test_a_tenant_can_be_listed_from_its_creation(api: Api, system_sid: str) -> None:
    created = api.call("POST", "/rest/v1/tenants", {"name": "Initech", "listed_at_login": 1,
                                                    "login_domains": ["initech.example"]}, sid=system_sid)
    assert created.status == 201 and created.body["stored_data"]["listed_at_login"] == 1
    assert listed(api) == ["Initech", "initech.example"]
    # a later change of notes alone keeps it listed
    assert set_listed(api, system_sid, created.body["stored_data"]["id"], 1, notes="x").status == 200
    client_cache.clear_all()
    assert listed(api) == ["Initech", "initech.example"]


def test_the_public_list_is_one_get_and_then_cached(api: Api, system_sid: str, tenant: TenantAdmin) -> None:
    set_listed(api, system_sid, tenant.tenant_id, 1)
    client_cache.clear_all()
    with count_requests() as counted:
        names = tenants.listed_login_names()
    assert "acme" in names
    assert counted.by_operation == {"GetItem": 1}  # one item, never a Scan or a Query over tenants
    with count_requests() as counted:
        assert tenants.listed_login_names() == names
    assert counted.total == 0
    reply = api.call("GET", "/client/v1/domains")
    assert reply.headers["Cache-Control"] == "max-age=60"


def test_tenants_listed_at_once_are_all_listed(api: Api, system_sid: str) -> None:
    """Each tenant's entry is a key of its own in the one listing item: saves at the same moment never
    overwrite each other (a read-modify-write of the whole list would lose all but one)."""
    names = [f"t{n}" for n in range(8)]
    ids = [api.call("POST", "/rest/v1/tenants", {"name": name}, sid=system_sid).body["stored_data"]["id"]
           for name in names]
    start = threading.Barrier(len(ids))
    errors: list[Exception] = []

    def list_one(tenant_id: int) -> None:
        from chalicelib.schemas.admin import TenantUpdate

        start.wait(timeout=60)
        try:
            tenants.update_tenant(SYSTEM, tenant_id, TenantUpdate(listed_at_login=1))
        except Exception as error:  # collected: the assertion below names it
            errors.append(error)

    threads = [threading.Thread(target=list_one, args=(tenant_id,)) for tenant_id in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    client_cache.clear_all()
    assert listed(api) == sorted(names)


def test_the_listing_has_a_bound_and_a_refused_listing_changes_nothing(
        api: Api, system_sid: str, tenant: TenantAdmin, other_tenant: TenantAdmin,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(login_names, "MAX_LISTED_TENANTS", 1)
    assert set_listed(api, system_sid, tenant.tenant_id, 1).status == 200
    before = stored_state()
    refused = set_listed(api, system_sid, other_tenant.tenant_id, 1)
    assert refused.status == 400 and refused.body["errors"][0]["path"] == "/body/listed_at_login"
    created = api.call("POST", "/rest/v1/tenants", {"name": "late", "listed_at_login": 1}, sid=system_sid)
    assert created.status == 400 and created.body["errors"][0]["path"] == "/body/listed_at_login"
    assert stored_state() == before  # neither the tenant nor its name was saved
    # re-saving the tenant already listed is not a new entry
    assert set_listed(api, system_sid, tenant.tenant_id, 1, login_domains=["example.org"]).status == 200


@pytest.mark.parametrize("value", [2, -1, "yes", None, [1]])
def test_a_bad_listed_flag_is_bad_data(api: Api, system_sid: str, tenant: TenantAdmin, value: Any) -> None:
    before = stored_state()
    reply = set_listed(api, system_sid, tenant.tenant_id, value)
    assert reply.status == 400 and reply.body["errors"][0]["path"] == "/body/listed_at_login"
    assert stored_state() == before


def test_a_tenant_administrator_cannot_list_its_tenant(api: Api, tenant: TenantAdmin) -> None:
    reply = api.call("PUT", f"/rest/v1/tenants/{tenant.tenant_id}", {"listed_at_login": 1}, sid=tenant.sid)
    assert reply.status in (401, 403)
    assert listed(api) == []


def test_the_service_lists_through_the_tenant_body(aws: Any) -> None:
    tenants.create_tenant(SYSTEM, TenantBody(name="Umbrella", listed_at_login=1))
    assert tenants.listed_login_names() == ["Umbrella"]


# --- a new offer for a signed-in user -----------------------------------------------------------------------


def one_pool(world: ClientWorld, desktops: int = 0, **assignment: Any) -> int:
    pool = world.pool()
    world.assign(world.policy(), pool, **assignment)
    for _ in range(desktops):
        world.desktop(pool)
    world.user("alice")
    return pool


def test_nothing_at_login_then_a_desktop_on_the_next_offer(world: ClientWorld, client: ClientApi) -> None:
    pool = one_pool(world)
    login = client.login("alice")
    assert login.body["desktops"] == [] and login.headers["Retry-After"] == "30"
    again = client.call("POST", "/client/v1/offer")
    assert again.status == 200 and again.body["desktops"] == []
    assert again.body["retry_after"] == 30 and again.headers["Retry-After"] == "30"
    assert "No desktop is available right now" in again.body["message"]
    desktop = world.desktop(pool)
    again = client.call("POST", "/client/v1/offer")
    assert again.status == 200 and "Retry-After" not in again.headers
    [offered] = again.body["desktops"]
    assert offered["id"] == desktop.id and offered["address"] == "203.0.113.1"
    assert "token" not in again.body and "message" not in again.body
    assert world.desktop_record(desktop.id).assigned_user_id is not None
    assert client.call("GET", "/client/v1/desktops").body["desktops"] == [offered]
    events = sorted(AuditStore().list(world.tenant.tenant_id, limit=100), key=lambda e: e.event_key)
    offers = [e for e in events if e.type == "client.offer"]
    assert [e.details["offered"] for e in offers] == [[], [desktop.id]]
    assert [e.desktop_id for e in events if e.type == "client.assigned"] == [desktop.id]


def test_a_new_offer_never_exceeds_the_policy(world: ClientWorld, client: ClientApi) -> None:
    pool = one_pool(world, desktops=1)
    [held] = client.login("alice").body["desktops"]
    world.desktop(pool)
    for _ in range(2):
        again = client.call("POST", "/client/v1/offer")
        assert [d["id"] for d in again.body["desktops"]] == [held["id"]]  # held again, nothing claimed
    assert world.desktop_record(world.desktops[1].id).assigned_user_id is None


def test_a_new_offer_needs_a_live_token(world: ClientWorld, client: ClientApi) -> None:
    pool = one_pool(world)
    assert client.call("POST", "/client/v1/offer", token=None).status == 401
    client.login("alice")
    assert client.call("POST", "/client/v1/logout").status == 200
    world.desktop(pool)
    assert client.call("POST", "/client/v1/offer").status == 401  # revoked: nothing claimed for it
    assert world.desktop_record(world.desktops[0].id).assigned_user_id is None


def test_a_new_offer_uses_the_policy_chosen_at_login(world: ClientWorld, client: ClientApi) -> None:
    """The token carries the login's policy; a user whose policy offers nothing is told so, no retry."""
    world.pool()
    world.policy("empty")  # the default policy, without any pool assignment
    world.user("alice")
    client.login("alice")
    again = client.call("POST", "/client/v1/offer")
    assert again.body["desktops"] == [] and "Retry-After" not in again.headers
    assert "no policy that offers desktops" in again.body["message"]


# --- prevent_release ------------------------------------------------------------------------------------


def test_a_user_may_not_release_what_the_assignment_keeps(world: ClientWorld, client: ClientApi) -> None:
    kept_pool = world.pool("kept")
    free_pool = world.pool("free")
    policy = world.policy()
    kept = world.assign(policy, kept_pool, prevent_release=1)
    world.assign(policy, free_pool)
    assert kept["prevent_release"] == 1
    shown = world.api.call("GET", f"/rest/v1/policies/{policy}/pool-assignments/{kept['id']}",
                           sid=world.tenant.sid)
    assert shown.body["prevent_release"] == 1
    world.desktop(kept_pool)
    world.desktop(free_pool)
    world.user("alice")
    desktops = {d["pool_id"]: d for d in client.login("alice").body["desktops"]}
    assert desktops[kept_pool]["can_release"] is False and desktops[free_pool]["can_release"] is True
    refused = client.call("POST", f"/client/v1/desktops/{desktops[kept_pool]['id']}/release")
    assert refused.status == 403 and refused.body["error_status"] == "INSUFFICIENT_PERMISSIONS"
    assert world.desktop_record(desktops[kept_pool]["id"]).assigned_user_id is not None
    assert client.call("POST", f"/client/v1/desktops/{desktops[free_pool]['id']}/release").status == 200
    assert world.desktop_record(desktops[free_pool]["id"]).assigned_user_id is None


def test_prevent_release_is_a_flag(world: ClientWorld) -> None:
    pool = world.pool()
    policy = world.policy()
    reply = world.api.call("POST", f"/rest/v1/policies/{policy}/pool-assignments",
                           {"pool_id": pool, "prevent_release": 2}, sid=world.tenant.sid)
    assert reply.status == 400 and reply.body["errors"][0]["path"] == "/body/prevent_release"


# --- a busy login is not a lockout ------------------------------------------------------------------------


def test_a_busy_login_says_so_apart_from_a_lockout(world: ClientWorld, client: ClientApi,
                                                   tenant: TenantAdmin) -> None:
    one_pool(world, desktops=1)
    held = [lockout.attempt(tenant.tenant_id, "alice") for _ in range(5)]  # five logins being checked
    busy = client.login("alice", expect=429)
    assert busy.body["error_status"] == "LOGIN_BUSY" and busy.headers["Retry-After"] == "1"
    for slot in held:
        lockout.give_back(slot)
    for _ in range(5):
        client.login("alice", "wrong", expect=401)
    locked = client.login("alice", expect=429)
    assert locked.body["error_status"] == "TOO_MANY_ATTEMPTS" and int(locked.headers["Retry-After"]) > 1

