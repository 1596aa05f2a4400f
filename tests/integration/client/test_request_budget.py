"""The DynamoDB requests of one login, counted through botocore's events (a regression fails here).

The Leostream figure is 30 database queries per login; the budget here is 5 for a local user who
already holds one desktop, with the process warm (its in-process caches filled) and 1 more for the very
first login of a process (the login domain is not cached yet)."""

from __future__ import annotations

from chalicelib.services import client_cache, client_login
from chalicelib.store.metrics import count_requests
from tests.integration.client.conftest import USER_PASSWORD, ClientApi, ClientWorld

BUDGET = 5


def login() -> client_login.LoginResult:
    return client_login.login(client_login.LoginRequest("alice", USER_PASSWORD, "acme"))


def test_a_login_holding_one_desktop_stays_within_budget(world: ClientWorld, client: ClientApi) -> None:
    pool = world.pool()
    plan = world.plan("rdp", "rdp")
    world.assign(world.policy(), pool, plan_protocol_id=plan)
    world.desktop(pool)
    world.user("alice")
    client.login("alice")  # the desktop is now assigned

    client_cache.clear_all()  # a fresh Lambda instance
    with count_requests() as cold:
        result = login()
    assert len(result.offer.desktops) == 1 and not result.offer.claimed
    with count_requests() as warm:
        login()
    print(f"\nDynamoDB requests per login: warm {warm.total} {warm.calls}; cold {cold.total} {cold.calls}")
    assert warm.total <= BUDGET, warm.calls
    assert warm.total == 4, warm.calls  # login state, policy, held desktops, audit
    assert cold.total <= warm.total + 2, cold.calls  # + login domain, + protocol plan


def test_a_login_with_its_own_policy_and_no_plan(world: ClientWorld, client: ClientApi) -> None:
    pool = world.pool()
    world.assign(world.policy("mine", default=False), pool)
    world.desktop(pool)
    world.user("alice", policy_name="mine")
    client.login("alice")
    with count_requests() as warm:
        login()
    assert warm.total <= BUDGET - 1, warm.calls
    assert warm.by_operation == {"BatchGetItem": 1, "GetItem": 1, "Query": 1, "TransactWriteItems": 1}


def test_the_count_sees_every_table_once_per_call(world: ClientWorld) -> None:
    from chalicelib.store import stores

    with count_requests() as counted:
        stores.users.find_by_login(world.tenant.tenant_id, "nobody")
        stores.policies.list(world.tenant.tenant_id)
    assert counted.total == 2
    assert [c.split()[0] for c in counted.calls] == ["GetItem", "Query"]
    assert counted.calls[0].endswith("users")
