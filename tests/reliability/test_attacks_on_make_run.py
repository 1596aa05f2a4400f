"""Issue 11's attacks, replayed the way its checker replays them: against `make run`'s own process, over
HTTP only, as an attacker would (the store is read only to see that nothing changed, and written only to
give a user desktops, which no API does). Each attack must fail with a 4xx and change nothing.

The same attacks are covered one by one, with their defences removed, by the integration tests that
docs/security.md names; this file proves they hold end to end on the server a user runs.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.reliability.make_run import MAKE_RUN_ADMIN_PASSWORD, MakeRun, pointed_at, started_make_run

TIMEOUT = 300.0  # a bound for a loaded machine, not a measurement


class Http:
    def __init__(self, url: str) -> None:
        self.url = url

    def call(self, method: str, path: str, body: Any = None, sid: str | None = None,
             token: str | None = None, raw: bytes | None = None) -> requests.Response:
        headers = {"Content-Type": "application/json"}
        if sid:
            headers["Authorization"] = sid
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return requests.request(method, self.url + path, json=None if raw is not None else body, data=raw,
                                headers=headers, timeout=TIMEOUT)

    def admin(self, login: str, password: str, domain: str | None = None) -> str:
        body = {"user_login": login, "password": password, **({"domain": domain} if domain else {})}
        reply = self.call("POST", "/rest/v1/session/login", body)
        assert reply.status_code == 200, reply.text
        return str(reply.json()["sid"])


@pytest.fixture(scope="module")
def run() -> Iterator[MakeRun]:
    with started_make_run() as started:
        yield started


@pytest.fixture(scope="module")
def http(run: MakeRun) -> Http:
    return Http(run.url)


@pytest.fixture(scope="module")
def system(http: Http) -> str:
    return http.admin("admin", MAKE_RUN_ADMIN_PASSWORD)


def new_tenant(http: Http, system: str, name: str, domains: list[str] | None = None) -> str:
    """A tenant and its administrator; the administrator's sid."""
    body = {"name": name, "login_domains": domains or []}
    created = http.call("POST", "/rest/v1/tenants", body, sid=system)
    assert created.status_code == 201, created.text
    tenant_id = created.json()["stored_data"]["id"]
    user = http.call("POST", "/rest/v1/users", {"is_local": 1, "user_login": "boss", "name": "Boss",
                                                "password": "boss-pw-123", "role_name": "Administrator",
                                                "tenant_id": tenant_id}, sid=system)
    assert user.status_code == 201, user.text
    return http.admin("boss", "boss-pw-123", domain=name)


# Nothing listens on these loopback ports: whatever the broker tried to reach would be refused at once.
ATTACKER_LDAP = "ldaps://127.0.0.9:1636"
KEYSTONE = "https://127.0.0.1:15999/v3"
ATTACKER_KEYSTONE = "https://127.0.0.9:15999/v3"


def ldap_server(domain: str, **overrides: Any) -> dict[str, Any]:
    """The attacker's directory (never contacted: the squat is refused before)."""
    return {"name": f"dir-{domain}", "type": "ldap", "domain": domain, "urls": [ATTACKER_LDAP],
            "bind_dn": "cn=x,dc=evil", "bind_password": "evil-bind-pw", "search_base": "dc=evil",
            **overrides}


def test_the_domain_squat_fails_in_either_order_and_racing(http: Http, system: str) -> None:
    squatter = new_tenant(http, system, "squatco")
    # before the victim exists
    first = http.call("POST", "/rest/v1/auth-servers", ldap_server("victimco"), sid=squatter)
    assert 400 <= first.status_code < 500, first.text
    victim = new_tenant(http, system, "victimco")
    # after it exists
    second = http.call("POST", "/rest/v1/auth-servers", ldap_server("victimco"), sid=squatter)
    assert 400 <= second.status_code < 500, second.text
    assert http.call("GET", "/rest/v1/auth-servers", sid=squatter).json() == []
    assert http.call("GET", "/rest/v1/users", sid=victim).status_code == 200
    # racing: tenant "racingco" created while the name is granted to the squatter, ten of each at once
    squatter_id = next(t["id"] for t in http.call("GET", "/rest/v1/tenants", sid=system).json()
                       if t["name"] == "squatco")
    statuses: list[tuple[str, int]] = []
    lock = threading.Lock()

    def attempt(kind: str) -> None:
        if kind == "tenant":
            reply = http.call("POST", "/rest/v1/tenants", {"name": "racingco"}, sid=system)
        else:
            reply = http.call("PUT", f"/rest/v1/tenants/{squatter_id}", {"login_domains": ["racingco"]},
                              sid=system)
        with lock:
            statuses.append((kind, reply.status_code))

    threads = [threading.Thread(target=attempt, args=(kind,)) for kind in ("tenant", "grant") * 10]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=TIMEOUT)
    tenants = [t["name"] for t in http.call("GET", "/rest/v1/tenants", sid=system).json()]
    granted = http.call("GET", f"/rest/v1/tenants/{squatter_id}", sid=system).json()["login_domains"]
    assert (tenants.count("racingco"), "racingco" in granted) in ((1, False), (0, True)), (tenants, granted)
    assert {status for _, status in statuses} <= {200, 201, 409}, statuses


def test_a_locked_end_user_is_not_an_oracle_at_the_admin_login(run: MakeRun, http: Http, system: str) -> None:
    admin = new_tenant(http, system, "oracleco")
    assert http.call("POST", "/rest/v1/users", {"is_local": 1, "user_login": "eve", "name": "Eve",
                                                "password": "eves-real-pw", "role_name": "User"},
                     sid=admin).status_code == 201
    for _ in range(5):
        assert http.call("POST", "/client/v1/login", {"user_login": "eve", "password": "nope",
                                                      "domain": "oracleco"}).status_code == 401
    locked_client = http.call("POST", "/client/v1/login", {"user_login": "eve", "password": "eves-real-pw",
                                                           "domain": "oracleco"})
    assert locked_client.status_code == 429
    for password in ("eves-real-pw", "another-guess"):
        reply = http.call("POST", "/rest/v1/session/login", {"user_login": "eve", "password": password,
                                                             "domain": "oracleco"})
        assert reply.status_code == 429, reply.text  # the same lock, whatever the password


def test_thirty_parallel_guesses_with_one_right_password(http: Http, system: str) -> None:
    admin = new_tenant(http, system, "guessco")
    assert http.call("POST", "/rest/v1/users", {"is_local": 1, "user_login": "gus", "name": "Gus",
                                                "password": "gus-real-pw", "role_name": "User"},
                     sid=admin).status_code == 201
    barrier = threading.Barrier(30)
    statuses: list[int] = []
    lock = threading.Lock()

    def guess(password: str) -> None:
        barrier.wait(timeout=TIMEOUT)
        reply = http.call("POST", "/client/v1/login", {"user_login": "gus", "password": password,
                                                       "domain": "guessco"})
        with lock:
            statuses.append(reply.status_code)

    passwords = [f"guess-{n}" for n in range(29)] + ["gus-real-pw"]
    threads = [threading.Thread(target=guess, args=(p,)) for p in passwords]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=TIMEOUT)
    counted = Counter(statuses)
    assert len(statuses) == 30 and set(counted) <= {200, 401, 429}, counted
    assert counted[401] <= 5, counted  # at most five wrong passwords verified in the window
    assert counted[200] <= 1


def test_a_deleted_user_keeps_nothing(run: MakeRun, http: Http, system: str) -> None:
    admin = new_tenant(http, system, "leaverco")
    user = http.call("POST", "/rest/v1/users", {"is_local": 1, "user_login": "lea", "name": "Lea",
                                                "password": "lea-real-pw", "role_name": "User"}, sid=admin)
    user_id = user.json()["stored_data"]["id"]
    tenant_id = next(t["id"] for t in http.call("GET", "/rest/v1/tenants", sid=system).json()
                     if t["name"] == "leaverco")
    pool = http.call("POST", "/rest/v1/pools", {"name": "p", "pool_definition": {
        "restrict_by": "A", "attributes": [{"vm_table_field": "name", "condition_type": "bw",
                                            "text_to_match": "lea-"}]}}, sid=admin)
    assert pool.status_code == 201, pool.text
    policy = http.call("POST", "/rest/v1/policies", {"name": "d", "is_default": 1}, sid=admin)
    policy_id = policy.json()["stored_data"]["id"]
    http.call("POST", f"/rest/v1/policies/{policy_id}/pool-assignments",
              {"pool_id": pool.json()["stored_data"]["id"]}, sid=admin)
    with pointed_at(run):  # a desktop record (no API creates one; nothing listens on its address)
        from chalicelib.store.desktops import DesktopStore

        record = DesktopStore().new(tenant_id, 1, pool.json()["stored_data"]["id"], "lea-001",
                                    display_name="Lea 1", lifecycle="active", available=True,
                                    deletable=False, power_state="running",
                                    fixed_addresses=("198.51.100.77",))
        DesktopStore().save(record)
    login = http.call("POST", "/client/v1/login", {"user_login": "lea", "password": "lea-real-pw",
                                                   "domain": "leaverco"}).json()
    [desktop] = login["desktops"]
    token = login["token"]
    assert http.call("POST", f"/client/v1/desktops/{desktop['id']}/connect", token=token).status_code == 200
    assert http.call("DELETE", f"/rest/v1/users/{user_id}", sid=admin).status_code == 204
    assert http.call("GET", "/client/v1/desktops", token=token).status_code == 401
    connect = http.call("POST", f"/client/v1/desktops/{desktop['id']}/connect", token=token)
    assert connect.status_code == 401 and "198.51.100.77" not in connect.text
    shown = http.call("GET", f"/rest/v1/desktops/{desktop['id']}", sid=admin).json()
    assert not shown.get("assigned_user_id") and not shown.get("assigned_user"), shown


def test_an_endpoint_change_without_the_password_changes_nothing(http: Http, system: str) -> None:
    admin = new_tenant(http, system, "centerco")
    body = {"center_definition": {
        "name": "cloud", "vc_url": KEYSTONE, "vc_domain": "Default", "vc_datacenter": "demo",
        "vc_name": "demo", "vc_password": "center-secret", "vc_version": "RegionOne",
        "allow_cleartext_password": int(KEYSTONE.startswith("http://"))}}
    created = http.call("POST", "/rest/v1/centers/openstack", body, sid=admin)
    assert created.status_code == 201, created.text
    center_id = created.json()["stored_data"]["id"]
    before = http.call("GET", f"/rest/v1/centers/openstack/{center_id}", sid=admin).json()
    moved = http.call("PUT", f"/rest/v1/centers/openstack/{center_id}",
                      {"center_definition": {"vc_url": ATTACKER_KEYSTONE}}, sid=admin)
    assert moved.status_code == 400 and "password" in moved.text, moved.text
    assert http.call("GET", f"/rest/v1/centers/openstack/{center_id}", sid=admin).json() == before


@pytest.mark.parametrize("path", ["/client/v1/login", "/rest/v1/session/login", "/rest/v1/pools"])
def test_a_deeply_nested_body_is_a_bad_request(http: Http, system: str, path: str) -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    reply = http.call("POST", path, raw=deep, sid=system if path.startswith("/rest/v1/pools") else None)
    assert reply.status_code == 400, reply.text
    assert reply.json()["error_status"] == "BAD_DATA"
