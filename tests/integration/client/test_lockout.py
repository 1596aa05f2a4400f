"""Logins are locked out after `max_failures` failed passwords within a window, whichever of the two login
routes they arrive at, however many arrive at once. The clock is a controlled one: no test here depends
on how fast the machine is."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator

import pytest

from chalicelib import clock
from chalicelib.domain.errors import BrokerError
from chalicelib.services import client_login, local_passwords
from chalicelib.settings import get_settings, reset_settings
from chalicelib.store.login_attempts import attempts_key
from chalicelib.store.models import MarkerRecord
from chalicelib.store.repos import AuditStore
from tests.fixtures.settings import set_setting
from tests.integration.api.conftest import Api, TenantAdmin
from tests.integration.client.conftest import USER_PASSWORD, ClientApi, ClientWorld


@pytest.fixture
def now() -> Iterator[clock.ControlledClock]:
    """Time stands still from the test's start (whole seconds) until the test moves it."""
    with clock.controlled(float(int(clock.time()))) as controlled:
        yield controlled


def use_settings(monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
    """Settings are read once and cached: set them now, outside a request (see test_sessions.py)."""
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    reset_settings()
    get_settings()


@pytest.fixture(autouse=True)
def fresh_settings() -> Iterator[None]:
    yield
    reset_settings()


def prepare(world: ClientWorld) -> None:
    pool = world.pool()
    world.assign(world.policy(), pool)
    world.desktop(pool)
    world.user("alice")


def test_five_failures_lock_even_the_right_password_out(world: ClientWorld, client: ClientApi,
                                                        now: clock.ControlledClock) -> None:
    prepare(world)
    for _ in range(5):
        client.login("alice", "wrong-password", expect=401)
    now.advance(10)
    locked = client.login("alice", USER_PASSWORD, expect=429)
    assert locked.body["error_status"] == "TOO_MANY_ATTEMPTS"
    assert locked.headers["Retry-After"] == "290"
    assert "try again in 290 seconds" in locked.body["error_message"]
    # no desktop was handed out while locked
    assert all(world.desktop_record(d.id).assigned_user_id is None for d in world.desktops)
    now.advance(290)
    client.login("alice")  # the lock ran out


def test_an_unknown_user_is_locked_out_the_same_way(world: ClientWorld, client: ClientApi,
                                                    now: clock.ControlledClock) -> None:
    prepare(world)
    answers = [client.login("ghost", "whatever", expect=401).body for _ in range(5)]
    assert len({str(a) for a in answers}) == 1
    assert client.login("ghost", "whatever", expect=429).headers["Retry-After"] == "300"


def test_a_success_gives_its_slot_back_but_the_window_keeps_its_failures(
        world: ClientWorld, client: ClientApi, now: clock.ControlledClock) -> None:
    """Releasing only its own slot keeps the bound exact however attempts interleave: at most five wrong
    passwords are verified in a window, successes in between or not."""
    prepare(world)
    for _ in range(4):
        client.login("alice", "wrong", expect=401)
    for _ in range(3):
        client.login("alice")
    state = MarkerRecord.get(attempts_key(world.tenant.tenant_id, "alice"), consistent_read=True)
    assert state.value == 4  # the four failures; the three successes took and gave back a slot each
    client.login("alice", "wrong", expect=401)
    client.login("alice", expect=429)
    now.advance(300)
    for _ in range(4):
        client.login("alice", "wrong", expect=401)
    client.login("alice")


def test_the_lock_is_per_login_and_per_tenant(world: ClientWorld, client: ClientApi, api: Api,
                                              other_tenant: TenantAdmin, now: clock.ControlledClock) -> None:
    prepare(world)
    world.user("bob")
    for _ in range(5):
        client.login("alice", "wrong", expect=401)
    client.login("alice", expect=429)
    client.login("ALICE ", expect=429)  # the same login, typed differently
    client.login("bob")
    ClientApi(api, other_tenant.name).login("alice", "wrong", expect=401)  # another tenant's alice


def test_the_limits_come_from_the_settings(world: ClientWorld, client: ClientApi, now: clock.ControlledClock,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    prepare(world)
    use_settings(monkeypatch, BROKER_LOGIN_MAX_FAILURES="2", BROKER_LOGIN_LOCKOUT_SECONDS="7")
    client.login("alice", "wrong", expect=401)
    client.login("alice", "wrong", expect=401)
    assert client.login("alice", expect=429).headers["Retry-After"] == "7"
    now.advance(6)
    assert client.login("alice", expect=429).headers["Retry-After"] == "1"
    now.advance(1)
    client.login("alice")  # the lock ran out


def test_failures_outside_the_window_do_not_add_up(world: ClientWorld, client: ClientApi,
                                                   now: clock.ControlledClock,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    prepare(world)
    use_settings(monkeypatch, BROKER_LOGIN_MAX_FAILURES="2", BROKER_LOGIN_FAILURE_WINDOW_SECONDS="60")
    client.login("alice", "wrong", expect=401)
    now.advance(60)
    client.login("alice", "wrong", expect=401)  # a new window: one failure in it
    client.login("alice")
    now.advance(59)
    client.login("alice", "wrong", expect=401)  # the second failure of that window locks
    client.login("alice", expect=429)


def test_the_admin_login_and_the_client_login_share_one_lock(
        world: ClientWorld, client: ClientApi, api: Api, tenant: TenantAdmin,
        now: clock.ControlledClock) -> None:
    """The admin login was an unlimited oracle for end users' passwords: it is counted and locked with
    the client login, and answers an end user's right password exactly like a wrong one."""
    prepare(world)

    def admin_login(login: str, password: str) -> tuple[int, dict]:
        reply = api.call("POST", "/rest/v1/session/login",
                         {"user_login": login, "password": password, "domain": tenant.name})
        return reply.status, reply.body

    right, wrong = admin_login("alice", USER_PASSWORD), admin_login("alice", "wrong")
    assert right == wrong == (401, {"error_status": "INVALID_CREDENTIALS",
                                    "error_message": "Invalid user name or password"})
    for _ in range(3):
        client.login("alice", "wrong", expect=401)
    # the fifth failure in the window (two at the admin login, three here) locked both routes
    assert admin_login("alice", USER_PASSWORD)[0] == 429
    assert client.login("alice", expect=429).headers["Retry-After"] == "300"
    # and the other way round: the tenant's administrator, locked by failures at the client login
    for _ in range(5):
        client.login("boss", "wrong", expect=401)
    assert admin_login("boss", "tenant-admin-pw")[0] == 429
    now.advance(300)
    assert admin_login("boss", "tenant-admin-pw")[0] == 200


def test_parallel_attempts_never_verify_more_than_the_limit(world: ClientWorld, tenant: TenantAdmin,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Thirty attempts at once, one of them with the right password: at most five passwords are verified
    in the window; the rest are refused before any verification."""
    prepare(world)
    verified: list[str] = []
    lock = threading.Lock()
    real_check = local_passwords.verify_password
    all_started = threading.Barrier(30)

    def counting_check(stored_hash: str | None, password: str) -> bool:
        with lock:
            verified.append(password)
        return real_check(stored_hash, password)

    monkeypatch.setattr(local_passwords, "verify_password", counting_check)
    outcomes: list[str] = []

    def attempt(password: str) -> None:
        all_started.wait(timeout=60)
        try:
            client_login.login(client_login.LoginRequest("alice", password, tenant.name))
            result = "logged in"
        except BrokerError as error:
            result = error.status
        with lock:
            outcomes.append(result)

    passwords = [f"guess-{n}" for n in range(29)] + [USER_PASSWORD]
    threads = [threading.Thread(target=attempt, args=(p,)) for p in passwords]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(outcomes) == 30
    wrong_verified = [p for p in verified if p != USER_PASSWORD]
    assert len(wrong_verified) <= 5
    assert outcomes.count("INVALID_CREDENTIALS") == len(wrong_verified)
    # refused before any verification: locked out, or busy (slots still held by attempts being checked)
    assert outcomes.count("TOO_MANY_ATTEMPTS") + outcomes.count("LOGIN_BUSY") == 30 - len(verified)
    # the right password logs in only if it was among the verified ones
    assert outcomes.count("logged in") == (1 if USER_PASSWORD in verified else 0)
    assert len(verified) <= 6  # five wrong ones, and the right one if its slot came before the window filled


def test_a_locked_login_is_audited_without_what_was_typed(world: ClientWorld, client: ClientApi,
                                                          now: clock.ControlledClock) -> None:
    prepare(world)
    for _ in range(6):
        client.login("alice", "wrong", expect=None)
    for _ in range(2):
        client.login("hunter2-typed-as-a-login", "wrong", expect=None)
    events = AuditStore().list(world.tenant.tenant_id, limit=100)
    types = [e.type for e in events]
    assert types.count("client.login_failed") == 7 and "client.login_locked" in types
    assert {e.user for e in events if e.type == "client.login_failed"} == {"alice", None}
    assert not any("hunter2" in str(e.attribute_values) for e in events)


def test_a_flood_of_failures_cannot_fill_the_audit_log(world: ClientWorld, client: ClientApi,
                                                       now: clock.ControlledClock,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    prepare(world)
    set_setting(monkeypatch, "audit_unauthenticated_per_minute", 5)

    def counts() -> Counter[str]:
        return Counter(e.type for e in AuditStore().list(world.tenant.tenant_id, limit=1000))

    before = counts()
    for n in range(12):
        client.login(f"guess{n}", "wrong", expect=401)
    assert counts() - before == Counter({"client.login_failed": 5, "audit.suppressed": 1})
    now.advance(60)  # a new minute, a new budget
    client.login("guess-next", "wrong", expect=401)
    assert counts() - before == Counter({"client.login_failed": 6, "audit.suppressed": 1})
