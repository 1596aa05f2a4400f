"""One user's logins racing each other never take more desktops than the policy allows, even while the
indexes answer with an older view (DynamoDB's global secondary indexes lag; moto's do not, so the test
replays an older answer: chalicelib/store/indexes.py)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from chalicelib.domain.errors import BrokerError, TooManyAttempts
from chalicelib.services import client_login
from chalicelib.store import indexes, stores
from chalicelib.store.claims import DesktopClaims
from chalicelib.store.models import DesktopRecord
from tests.integration.client.conftest import USER_PASSWORD, ClientWorld

LOGINS = 20
BUSY_RETRIES = 500  # a client honouring Retry-After; at most five logins of one name are verified at once


def race_logins(tenant_name: str, count: int = LOGINS) -> list[Any]:
    started = threading.Barrier(count)
    results: list[Any] = []
    lock = threading.Lock()

    def one() -> None:
        started.wait(timeout=60)
        result: Any = None
        for _ in range(BUSY_RETRIES):
            try:
                result = client_login.login(client_login.LoginRequest("alice", USER_PASSWORD, tenant_name))
                break
            except TooManyAttempts as busy:  # more logins of one name at once than slots: come back
                result = busy
                time.sleep(0.02)
            except BrokerError as error:
                result = error
                break
        with lock:
            results.append(result)

    threads = [threading.Thread(target=one) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    assert len(results) == count
    return results


def assigned_to(tenant_id: int, user_id: int) -> list[int]:
    """From the table itself, read consistently: what the user really holds."""
    return sorted(int(d.id) for d in DesktopRecord.query(tenant_id, consistent_read=True)
                  if d.assigned_user_id is not None and int(d.assigned_user_id) == user_id)


@pytest.mark.parametrize(("policy_fields", "assignment_fields", "allowed"), [
    ({"max_desktops": 1}, {}, 1),
    ({}, {"offer_quantity": 2}, 2),
    ({"max_desktops": 3}, {"offer_quantity": 5}, 3),
])
def test_parallel_logins_of_one_user_with_a_stale_index(world: ClientWorld, policy_fields: dict,
                                                        assignment_fields: dict, allowed: int) -> None:
    pool = world.pool()
    world.assign(world.policy(**policy_fields), pool, **assignment_fields)
    for _ in range(12):
        world.desktop(pool)
    alice = world.user("alice")
    with indexes.recording() as before:  # the view every login will get: all twelve free
        assert len(DesktopClaims().free_in_pool(world.tenant.tenant_id, pool)) == 12
    with indexes.replaying(before):
        results = race_logins(world.tenant.name)
    held = assigned_to(world.tenant.tenant_id, alice)
    assert len(held) == allowed, held
    assert all(not isinstance(r, BaseException) for r in results), results
    for result in results:  # every login offers what the user holds, never more
        assert sorted(d.id for d in result.offer.desktops) == held
    user = stores.users.find_by_login(world.tenant.tenant_id, "alice")
    assert user is not None and sorted(user.held or ()) == held
    # each desktop was claimed by exactly one login
    assert sorted(d.id for r in results for d in r.offer.claimed) == held
