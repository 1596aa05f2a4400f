"""Tenant names and login domains are one namespace (ARCHITECTURE.md invariant 8).

The attack this closes: a tenant administrator set up a directory with domain `globex` before the
system administrator created tenant `globex`, and from then on globex's users sent their passwords to
the first tenant's directory. Now only the system administrator hands out login names (a tenant's name,
or a domain granted to a tenant), each reserved in the transaction that saves it, and a tenant's
authentication server can only serve a name its own tenant holds.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from chalicelib.domain.caller import SYSTEM_TENANT_ID, Caller
from chalicelib.domain.errors import BrokerError
from chalicelib.schemas.admin import TenantBody, TenantUpdate
from chalicelib.services import tenants
from chalicelib.store.login_names import LoginNames
from tests.integration.api.builders import secrets_state, stored_state
from tests.integration.api.conftest import Api, TenantAdmin, make_tenant
from tests.integration.auth_servers.conftest import minimal_ldap_body

SYSTEM = Caller(tenant_id=SYSTEM_TENANT_ID, user_id=0, login="admin", role="Administrator")


def add_server(api: Api, sid: str, domain: str, name: str = "dir") -> Any:
    return api.call("POST", "/rest/v1/auth-servers", minimal_ldap_body(name=name, domain=domain), sid=sid)


def owner_of(name: str) -> int | None:
    found = LoginNames().find(name, consistent=True)
    return None if found is None else found.owner_tenant_id


def test_a_tenant_cannot_squat_a_future_tenants_name(api: Api, system_sid: str, tenant: TenantAdmin,
                                                      aws: Any) -> None:
    before, secrets_before = stored_state(), secrets_state(aws)
    squat = add_server(api, tenant.sid, "globex")
    assert squat.status == 400 and squat.body["errors"][0]["path"] == "/body/domain"
    assert stored_state() == before and secrets_state(aws) == secrets_before  # nothing half-written
    globex = make_tenant(api, system_sid, "globex")
    assert owner_of("globex") == globex.tenant_id
    # globex's own users log in through the name, not through acme's directory
    api.call("POST", "/rest/v1/users", {"is_local": 1, "user_login": "gina", "name": "Gina",
                                        "password": "gina-pw-123", "role_name": "User"}, sid=globex.sid)
    assert api.login("boss", "tenant-admin-pw", domain="GLOBEX")


def test_no_tenant_is_granted_another_tenants_name_and_no_tenant_takes_a_granted_domain(
        api: Api, system_sid: str, tenant: TenantAdmin) -> None:
    make_tenant(api, system_sid, "globex")
    grant = api.call("PUT", f"/rest/v1/tenants/{tenant.tenant_id}",
                     {"login_domains": ["example.org", "Globex"]}, sid=system_sid)
    assert grant.status == 409 and grant.body["error_status"] == "NOT_UNIQUE"
    assert grant.body["errors"][0]["path"] == "/body/login_domains/1"
    assert owner_of("example.org") == tenant.tenant_id  # the refused save changed nothing
    assert api.call("GET", f"/rest/v1/tenants/{tenant.tenant_id}", sid=system_sid).body["login_domains"] == [
        "example.org", "corp.example", "corp", "dir.example", "l.example", "other.example", "moved.example",
        "staff.acme", "dead.example", "tls.example"]
    # the other order: a granted domain is not free for a new tenant's name
    taken = api.call("POST", "/rest/v1/tenants", {"name": "Corp.Example"}, sid=system_sid)
    assert taken.status == 409 and taken.body["errors"][0]["path"] == "/body/name"
    twice = api.call("POST", "/rest/v1/tenants", {"name": "initech", "login_domains": ["dir.example"]},
                     sid=system_sid)
    assert twice.status == 409 and twice.body["errors"][0]["path"] == "/body/login_domains/0"
    assert api.call("GET", "/rest/v1/tenants", sid=system_sid).body[-1]["name"] == "globex"


def test_racing_claims_of_one_name_end_with_exactly_one_owner(api: Api, system_sid: str,
                                                               tenant: TenantAdmin) -> None:
    """Ten tenants created with the same name and ten grants of it to acme, all at once."""
    outcomes: list[str] = []
    lock = threading.Lock()

    def attempt(action: Callable[[], Any], kind: str) -> None:
        try:
            action()
            result = kind
        except BrokerError as error:
            result = error.status
        with lock:
            outcomes.append(result)

    grant = TenantUpdate.model_validate({"login_domains": ["racer"]})
    actions = [(lambda: tenants.create_tenant(SYSTEM, TenantBody(name="racer")), "tenant")] * 10
    actions += [(lambda: tenants.update_tenant(SYSTEM, tenant.tenant_id, grant), "grant")] * 10
    threads = [threading.Thread(target=attempt, args=pair) for pair in actions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    winners = [o for o in outcomes if o in ("tenant", "grant")]
    assert len(outcomes) == 20
    # the grant is idempotent for its own tenant (a second identical save changes nothing), so either one
    # tenant named racer exists and acme holds nothing, or acme holds racer and no tenant has the name
    racers = [t for t in tenants.list_tenants(SYSTEM) if t.name == "racer"]
    acme = tenants.get_tenant(SYSTEM, tenant.tenant_id)
    if racers:
        assert len(racers) == 1 and "racer" not in acme.login_domains
        assert winners.count("tenant") == 1 and "grant" not in winners
        assert owner_of("racer") == int(racers[0].id)
    else:
        assert "racer" in acme.login_domains and "tenant" not in winners
        assert owner_of("racer") == tenant.tenant_id
    assert set(outcomes) - {"tenant", "grant"} <= {"NOT_UNIQUE", "CONFLICT"}


def test_two_servers_racing_for_one_domain(api: Api, tenant: TenantAdmin) -> None:
    replies: list[int] = []
    threads = [threading.Thread(target=lambda n=n: replies.append(
        add_server(api, tenant.sid, "dir.example", name=f"dir{n}").status)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(replies) == [201] + [400] * 5
    servers = api.call("GET", "/rest/v1/auth-servers", sid=tenant.sid).body
    assert len(servers) == 1
    assert LoginNames().find("dir.example", consistent=True).auth_server_id == servers[0]["id"]


def test_a_domain_in_use_cannot_be_taken_back_and_a_free_one_moves(api: Api, system_sid: str,
                                                                  tenant: TenantAdmin) -> None:
    assert add_server(api, tenant.sid, "dir.example").status == 201
    keep = [d for d in ("example.org", "corp.example") if d]
    refused = api.call("PUT", f"/rest/v1/tenants/{tenant.tenant_id}", {"login_domains": keep}, sid=system_sid)
    assert refused.status == 400 and refused.body["errors"][0]["path"] == "/body/login_domains"
    assert "dir.example" in refused.body["errors"][0]["message"]
    assert owner_of("other.example") == tenant.tenant_id
    # without dir.example among the removed ones the grants move
    kept = [*keep, "dir.example"]
    assert api.call("PUT", f"/rest/v1/tenants/{tenant.tenant_id}", {"login_domains": kept},
                    sid=system_sid).status == 200
    assert owner_of("other.example") is None
    globex = make_tenant(api, system_sid, "globex", ("other.example",))
    assert owner_of("other.example") == globex.tenant_id


def test_tenant_names_and_domains_are_checked(api: Api, system_sid: str, tenant: TenantAdmin) -> None:
    cases: list[tuple[str, str, dict[str, Any], str]] = [
        ("POST", "/rest/v1/tenants", {"name": "x", "login_domains": ["bad domain"]}, "/body/login_domains/0"),
        ("POST", "/rest/v1/tenants", {"name": "x", "login_domains": ["system"]}, "/body/login_domains/0"),
        ("POST", "/rest/v1/tenants", {"name": "x", "login_domains": ["a.example", "A.example"]},
         "/body/login_domains/1"),
        ("POST", "/rest/v1/tenants", {"name": "x", "login_domains": ["X"]}, "/body/login_domains/0"),
        ("POST", "/rest/v1/tenants", {"name": "x", "login_domains": ["d.example"] * 21},
         "/body/login_domains"),
        ("PUT", f"/rest/v1/tenants/{tenant.tenant_id}", {"name": "renamed"}, "/body/name"),
        ("PUT", f"/rest/v1/tenants/{tenant.tenant_id}", {"login_domains": None}, "/body/login_domains"),
    ]
    before = stored_state()
    for method, path, body, field in cases:
        reply = api.call(method, path, body, sid=system_sid)
        assert reply.status == 400, (body, reply.body)
        assert field in [e["path"] for e in reply.body["errors"]], (body, reply.body)
    assert stored_state() == before
    by_tenant_admin = api.call("PUT", f"/rest/v1/tenants/{tenant.tenant_id}", {"notes": "n"}, sid=tenant.sid)
    assert by_tenant_admin.status == 403
    same_name = api.call("PUT", f"/rest/v1/tenants/{tenant.tenant_id}", {"name": "ACME", "notes": "n"},
                         sid=system_sid)
    assert same_name.status == 200 and same_name.body["notes"] == "n"
