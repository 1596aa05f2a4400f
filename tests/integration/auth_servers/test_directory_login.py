"""End users of LDAP and Active Directory servers logging in, against the session's real slapd."""

from __future__ import annotations

import pytest

from chalicelib.store import stores
from tests.fixtures.ldap import SlapdServer
from tests.integration.api.conftest import TEST_LOGIN_DOMAINS, Api
from tests.integration.auth_servers.conftest import ad_server_body, ldap_server_body
from tests.integration.client.conftest import ClientApi, ClientWorld, make_tenant

pytestmark = pytest.mark.ldap


def add_server(world: ClientWorld, body: dict) -> dict:
    reply = world.api.call("POST", "/rest/v1/auth-servers", body, sid=world.tenant.sid)
    assert reply.status == 201, reply.body
    return reply.body["stored_data"]


def desktops_of(reply_body: dict) -> list[int]:
    return [d["id"] for d in reply_body["desktops"]]


@pytest.fixture
def ldap_world(world: ClientWorld, slapd_server: SlapdServer) -> dict:
    """Pool "staff" for members of vdi-users (by DN), pool "design" for Design Team (by name, first rule),
    pool "general" through the tenant's default policy."""
    staff_pool, design_pool, general_pool = world.pool("staff"), world.pool("design"), world.pool("general")
    staff = world.policy("Staff", default=False)
    design = world.policy("Design", default=False)
    general = world.policy("General", default=True)
    world.assign(staff, staff_pool)
    world.assign(design, design_pool)
    world.assign(general, general_pool)
    for pool in (staff_pool, staff_pool, design_pool, general_pool):
        world.desktop(pool)
    server = add_server(
        world,
        ldap_server_body(
            slapd_server,
            rules=[
                {"group": "Design Team", "policy_id": design},
                {
                    "group": "cn=vdi-users,ou=groups,dc=example,dc=org",
                    "policy_id": staff,
                    "role_name": "User",
                },
            ],
        ),
    )
    return {"staff": staff_pool, "design": design_pool, "general": general_pool, "server": server}


def test_group_rules_pick_the_policy(world: ClientWorld, ldap_world: dict, slapd_server: SlapdServer) -> None:
    client = ClientApi(world.api, "example.org")
    accounts = slapd_server.openldap
    alice = client.login("alice", accounts.account("alice").password).body  # Design Team is the first rule
    bob = client.login("bob", accounts.account("bob").password).body  # vdi-users
    carol = client.login("carol", accounts.account("carol").password).body  # no group: the default policy
    assert [d["pool_id"] for d in alice["desktops"]] == [ldap_world["design"]]
    assert [d["pool_id"] for d in bob["desktops"]] == [ldap_world["staff"]]
    assert [d["pool_id"] for d in carol["desktops"]] == [ldap_world["general"]]
    assert all(d["address"].startswith("203.0.113.") for d in alice["desktops"] + bob["desktops"])


def test_first_login_creates_a_directory_user_once(
    world: ClientWorld, ldap_world: dict, slapd_server: SlapdServer
) -> None:
    client = ClientApi(world.api, "EXAMPLE.org")
    password = slapd_server.openldap.account("bob").password
    first = client.login("bob", password).body
    second = client.login("BOB", password).body
    assert desktops_of(first) == desktops_of(second)
    user = stores.users.find_by_login(world.tenant.tenant_id, "bob")
    assert user is not None and user.password_hash is None
    assert user.is_local == 0 and user.auth_server_id == ldap_world["server"]["id"]
    assert user.name == "Bob Builder" and user.role == "User"
    listed = world.api.call("GET", "/rest/v1/users", sid=world.tenant.sid).body
    assert [u["user_login"] for u in listed].count("bob") == 1


def test_wrong_password_unknown_and_locked_accounts_get_one_answer(
    world: ClientWorld, ldap_world: dict, slapd_server: SlapdServer
) -> None:
    client = ClientApi(world.api, "example.org")
    answers = [
        client.login("alice", "wrong", expect=401).body,
        client.login("nobody", "whatever", expect=401).body,
        client.login("dave", slapd_server.openldap.account("dave").password, expect=401).body,
        client.login("twin", "twin-password", expect=401).body,
        client.login("ali*", "x", expect=401).body,
    ]
    assert len({str(a) for a in answers}) == 1
    assert answers[0]["error_status"] == "INVALID_CREDENTIALS"
    assert stores.users.find_by_login(world.tenant.tenant_id, "nobody") is None


def test_directory_failures_count_towards_the_lockout(
    world: ClientWorld, ldap_world: dict, slapd_server: SlapdServer
) -> None:
    client = ClientApi(world.api, "example.org")
    for _ in range(5):
        client.login("alice", "wrong", expect=401)
    locked = client.login("alice", slapd_server.openldap.account("alice").password, expect=429)
    assert int(locked.headers["Retry-After"]) > 0


def test_active_directory_by_sam_account_name_upn_and_netbios(
    world: ClientWorld, slapd_server: SlapdServer
) -> None:
    pool = world.pool()
    world.assign(world.policy(), pool)
    world.desktop(pool)
    world.desktop(pool)
    add_server(world, ad_server_body(slapd_server))
    client = ClientApi(world.api, "corp.example")
    password = slapd_server.active_directory.account("erin").password
    by_sam = client.login("erin", password).body
    by_upn = client.login("erin@corp.example", password).body
    by_netbios = client.login("CORP\\erin", password).body
    no_domain = ClientApi(world.api, None).login("erin@corp.example", password).body  # domain from the UPN
    assert desktops_of(by_sam) == desktops_of(by_upn) == desktops_of(by_netbios) == desktops_of(no_domain)
    assert stores.users.find_by_login(world.tenant.tenant_id, "erin") is not None
    # disabled account, foreign NetBIOS domain
    client.login("frank", slapd_server.active_directory.account("frank").password, expect=401)
    client.login("OTHER\\erin", password, expect=401)


def test_unreachable_directory_is_503_and_does_not_count_as_a_failure(
    world: ClientWorld, slapd_server: SlapdServer
) -> None:
    pool = world.pool()
    world.assign(world.policy(), pool)
    world.desktop(pool)
    add_server(world, ldap_server_body(slapd_server, urls=[slapd_server.dead_url]))
    client = ClientApi(world.api, "example.org")
    for _ in range(6):
        reply = client.login("alice", "alice-wonderland-1", expect=503)
        assert reply.body["error_status"] == "SERVICE_UNAVAILABLE"
        assert reply.body["error_message"] == (
            "The directory (LDAP) of domain 'example.org' cannot be reached right now; "
            "try again in 30 seconds."
        )
        assert reply.headers["Retry-After"] == "30"
        assert "127.0.0.1" not in str(reply.body) and "broker-service-secret" not in str(reply.body)


def test_failover_to_the_next_url(world: ClientWorld, slapd_server: SlapdServer) -> None:
    pool = world.pool()
    world.assign(world.policy(), pool)
    world.desktop(pool)
    add_server(world, ldap_server_body(slapd_server, urls=[slapd_server.dead_url, slapd_server.url]))
    ClientApi(world.api, "example.org").login("alice", slapd_server.openldap.account("alice").password)


def test_a_wrong_service_password_is_503_naming_the_configuration(
    world: ClientWorld, slapd_server: SlapdServer
) -> None:
    add_server(world, ldap_server_body(slapd_server, bind_password="not-the-service-password"))
    reply = ClientApi(world.api, "example.org").login("alice", "alice-wonderland-1", expect=503)
    assert "refused the broker's service account" in reply.body["error_message"]
    assert "not-the-service-password" not in str(reply.body) and "cn=broker" not in str(reply.body)


def test_the_admin_can_test_a_server(world: ClientWorld, slapd_server: SlapdServer) -> None:
    good = add_server(world, ldap_server_body(slapd_server))
    bad = add_server(
        world,
        ldap_server_body(slapd_server, name="dead", domain="dead.example", urls=[slapd_server.dead_url]),
    )
    ok = world.api.call("POST", f"/rest/v1/auth-servers/{good['id']}/test", sid=world.tenant.sid)
    assert ok.status == 200 and ok.body["reachable"] == 1
    down = world.api.call("POST", f"/rest/v1/auth-servers/{bad['id']}/test", sid=world.tenant.sid)
    assert down.status == 503 and down.body["error_status"] == "SERVICE_UNAVAILABLE"


def test_servers_of_two_tenants_live_side_by_side(
    api: Api, system_sid: str, world: ClientWorld, slapd_server: SlapdServer
) -> None:
    """acme trusts the OpenLDAP tree, globex the AD tree: each domain reaches only its own tenant."""
    # corp.example moves from acme's grants to globex's: a login domain has one owner at a time
    acme_domains = [d for d in TEST_LOGIN_DOMAINS if d != "corp.example"]
    moved = api.call("PUT", f"/rest/v1/tenants/{world.tenant.tenant_id}", {"login_domains": acme_domains},
                     sid=system_sid)
    assert moved.status == 200, moved.body
    other = ClientWorld(api, make_tenant(api, system_sid, "globex", ("corp.example",)))
    for w in (world, other):
        pool = w.pool()
        w.assign(w.policy(), pool)
        w.desktop(pool)
    add_server(world, ldap_server_body(slapd_server))
    add_server(other, ad_server_body(slapd_server))
    alice = ClientApi(api, "example.org").login("alice", slapd_server.openldap.account("alice").password).body
    erin = (
        ClientApi(api, "corp.example")
        .login("erin", slapd_server.active_directory.account("erin").password)
        .body
    )
    assert desktops_of(alice) == [world.desktops[0].id]
    assert desktops_of(erin) == [other.desktops[0].id]
    assert stores.users.find_by_login(world.tenant.tenant_id, "erin") is None
    assert stores.users.find_by_login(other.tenant.tenant_id, "alice") is None
    # erin does not exist in the OpenLDAP tree, alice not in the AD tree
    ClientApi(api, "example.org").login(
        "erin", slapd_server.active_directory.account("erin").password, expect=401
    )
    ClientApi(api, "corp.example").login("alice", slapd_server.openldap.account("alice").password, expect=401)


def test_a_local_user_with_the_same_login_is_never_taken_over(
    world: ClientWorld, ldap_world: dict, slapd_server: SlapdServer
) -> None:
    world.user("alice", password="local-alice-pw")
    client = ClientApi(world.api, "example.org")
    client.login("alice", slapd_server.openldap.account("alice").password, expect=401)
    assert ClientApi(world.api, "acme").login("alice", "local-alice-pw").status == 200


def test_local_type_server_applies_its_any_user_rule(world: ClientWorld) -> None:
    special_pool, general_pool = world.pool("special"), world.pool("general")
    special = world.policy("Special", default=False)
    world.assign(special, special_pool)
    world.assign(world.policy("General"), general_pool)
    world.desktop(special_pool)
    world.desktop(general_pool)
    add_server(
        world,
        {
            "name": "Locals",
            "type": "local",
            "domain": "staff.acme",
            "rules": [{"any_user": 1, "policy_id": special}],
        },
    )
    world.user("alice")
    world.user("bob")
    via_server = ClientApi(world.api, "staff.acme").login("alice").body
    assert [d["pool_id"] for d in via_server["desktops"]] == [special_pool]
    via_tenant = ClientApi(world.api, "acme").login("bob").body
    assert [d["pool_id"] for d in via_tenant["desktops"]] == [general_pool]
