"""Issue 7: the LDAP server goes down in the middle of a stream of logins: 503s, no 500s, nothing
half-written, and the broker recovers by itself when the directory comes back.

The broker is served over HTTP on 127.0.0.1 (as `make run` serves it: localdev/http_server.py), DynamoDB is
moto (the `aws` fixture), the directory is a real slapd of the test's own (`private_slapd`), taken down the
real way while logins are in flight, at a moment when at least one of them waits for slapd's answer: SIGKILL
(connections reset, then refused) or SIGSTOP (connections accepted by the kernel and never answered: each
login waits for the authentication server's receive timeout, 2 s here). See docs/reliability.md, "LDAP
outage mid-run".
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from app import app
from chalicelib.services import lockout
from chalicelib.settings import reset_settings
from chalicelib.store import stores
from chalicelib.store.models import AuditRecord, DesktopRecord
from tests.fixtures.ldap import SeedTree, SlapdServer
from tests.integration.api.builders import stored_state
from tests.integration.auth_servers.conftest import ldap_server_body
from tests.integration.client.conftest import (  # noqa: F401 - fixtures used here
    ClientWorld,
    api,
    fast_and_fresh,
    system_sid,
    tenant,
    world,
)
from tests.integration.lifecycle.conftest import served

pytestmark = pytest.mark.ldap

DOMAIN = "example.org"
GROUP = "load-users"  # the only way to a desktop: the rule of this group (read by a group search)
STREAM_USERS = 24
VICTIM = "load24"  # hammered with its right password during the outage: must not end up locked
WRONG = "load25"  # one real 401 before the outage, wrong passwords during it: only the 401 counts
THREADS = 8
DESKTOPS = 30
MAX_FAILURES = 3  # the lockout limit for this test: a handful of 503s would exceed it if they counted
OUTAGE_PROBES = MAX_FAILURES + 1
UNAVAILABLE_MESSAGE = (
    f"The directory (LDAP) of domain '{DOMAIN}' cannot be reached right now; try again in 30 seconds."
)
SETTLE_SECONDS = 30.0
# What a login waits for the frozen directory before its 503 (the healthy one answers in milliseconds).
OUTAGE_TIMEOUTS = {"connect_timeout_seconds": 2.0, "receive_timeout_seconds": 2.0}


def password_of(login: str) -> str:
    return f"{login}-secret-pw"


def load_users_ldif(tree: SeedTree, logins: list[str]) -> str:
    """inetOrgPersons for `logins` and the group that gives them desktops (members by DN)."""
    entries = [
        f"dn: uid={login},{tree.people_base}\nobjectClass: inetOrgPerson\nuid: {login}\n"
        f"cn: Load {login}\nsn: {login}\nuserPassword: {password_of(login)}\n"
        for login in logins
    ]
    members = "".join(f"member: uid={login},{tree.people_base}\n" for login in logins)
    entries.append(f"dn: cn={GROUP},{tree.groups_base}\nobjectClass: groupOfNames\ncn: {GROUP}\n{members}")
    return "\n".join(entries)


# --- logins over HTTP ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Attempt:
    login: str
    right_password: bool
    started: float
    ended: float
    status: int
    body: Any
    retry_after: str | None

    @property
    def desktops(self) -> list[int]:
        return [d["id"] for d in self.body["desktops"]] if self.status == 200 else []


def post_login(url: str, login: str, password: str) -> tuple[int, Any, str | None]:
    """POST /client/v1/login straight to the served broker (no proxy can be in the way)."""
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=60)
    try:
        body = json.dumps({"user_login": login, "password": password, "domain": DOMAIN})
        headers = {"Content-Type": "application/json"}
        connection.request("POST", "/client/v1/login", body=body, headers=headers)
        response = connection.getresponse()
        raw = response.read()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw.decode(errors="replace")
        return response.status, parsed, response.getheader("Retry-After")
    finally:
        connection.close()


@dataclass
class LoginStream:
    """`THREADS` clients logging in over HTTP without a pause: each takes the next user who has not
    logged in yet (or, when none is left, logs a done one in again) and retries a 503 after 0.1 s, as a
    client would after Retry-After (shortened)."""

    url: str
    fresh: deque[str]
    attempts: list[Attempt] = field(default_factory=list)
    done: list[str] = field(default_factory=list)
    in_flight: dict[int, float] = field(default_factory=dict)  # thread id -> start of its request
    lock: threading.Lock = field(default_factory=threading.Lock)
    running: threading.Event = field(default_factory=threading.Event)
    stopping: threading.Event = field(default_factory=threading.Event)

    def client(self, index: int) -> None:
        current: str | None = None
        again = index
        while not self.stopping.is_set():
            with self.lock:
                if self.running.is_set() and current is None and (self.fresh or self.done):
                    if self.fresh:
                        current = self.fresh.popleft()
                    else:
                        current = self.done[again % len(self.done)]
                        again += THREADS
                go = self.running.is_set() and current is not None
                if go:
                    self.in_flight[index] = time.monotonic()
            if not go or current is None:
                time.sleep(0.01)
                continue
            attempt = self.attempt(current, True, release=index)
            if attempt.status == 503:
                time.sleep(0.1)
                continue
            with self.lock:
                if attempt.status == 200 and current not in self.done:
                    self.done.append(current)
            current = None

    def attempt(self, login: str, right_password: bool, release: int | None = None) -> Attempt:
        started = time.monotonic()
        try:
            password = password_of(login) if right_password else "not-the-password"
            status, body, retry_after = post_login(self.url, login, password)
        except Exception as error:  # a dropped connection is a failure of its own: keep it for the asserts
            status, body, retry_after = -1, repr(error), None
        attempt = Attempt(login, right_password, started, time.monotonic(), status, body, retry_after)
        with self.lock:
            self.attempts.append(attempt)
            if release is not None:
                self.in_flight.pop(release, None)
        return attempt

    def pause(self) -> None:
        """No new request; returns when none is in flight."""
        self.running.clear()
        self.wait_for(lambda: not self.in_flight, "the stream's requests in flight to finish")

    def wait_for(self, condition: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + SETTLE_SECONDS
        while True:
            with self.lock:
                if condition():
                    return
            if time.monotonic() > deadline:
                pytest.fail(f"timed out waiting for {what}; statuses so far: "
                            f"{Counter(a.status for a in self.attempts)}")
            time.sleep(0.02)

    def count(self, status: int, after: float = 0.0) -> int:
        return sum(1 for a in self.attempts if a.status == status and a.started > after)


@contextmanager
def login_stream(url: str, logins: list[str]) -> Iterator[LoginStream]:
    stream = LoginStream(url, deque(logins))
    stream.running.set()
    threads = [threading.Thread(target=stream.client, args=(i,), name=f"client-{i}") for i in range(THREADS)]
    for thread in threads:
        thread.start()
    try:
        yield stream
    finally:
        stream.stopping.set()
        for thread in threads:
            thread.join(timeout=SETTLE_SECONDS)


# --- what is stored -----------------------------------------------------------------------------------


def audit_events(tenant_id: int) -> list[AuditRecord]:
    return list(AuditRecord.query(tenant_id, consistent_read=True))


def everything(tenant_id: int) -> dict[str, Any]:
    """Every item of the broker's tables (stored_state) and the tenant's whole audit log, but for the
    login attempt items: every attempt takes a slot before the directory is asked and gives it back when
    the directory cannot answer (what they hold is checked apart: `in_flight_or_failed`)."""
    tables = stored_state()
    tables["markers"] = [item for item in tables["markers"] if '"login-attempts#' not in item]
    return {"tables": tables, "audit": sorted(e.event_key for e in audit_events(tenant_id))}


def in_flight_or_failed(tenant_id: int, login: str) -> tuple[int, int]:
    """(slots still taken, failures) of a login's current attempt window."""
    state = lockout.state(tenant_id, login)
    return state.slots, state.failures


def assigned_desktops(tenant_id: int) -> dict[int, list[int]]:
    """user id -> the desktops the table says are assigned to them."""
    held: dict[int, list[int]] = {}
    for record in DesktopRecord.query(tenant_id, consistent_read=True):
        if record.assigned_user_id is not None:
            held.setdefault(int(record.assigned_user_id), []).append(int(record.id))
    return held


def failures_of(tenant_id: int, login: str) -> int:
    return lockout.state(tenant_id, login).failures


def waiting_requests(port: int) -> set[tuple[str, str]]:
    """Open connections to the directory's port holding bytes slapd has not read (its side of them, in
    /proc/net/tcp: state 01 = established, rx_queue > 0): requests whose clients wait for an answer."""
    waiting: set[tuple[str, str]] = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, remote, state, queues = line.split()[1:5]
        if state == "01" and int(local.rsplit(":", 1)[1], 16) == port and int(queues.split(":")[1], 16):
            waiting.add((local, remote))
    return waiting


def freeze_mid_login(server: SlapdServer) -> float:
    """SIGSTOP slapd at a moment when some login is waiting for its answer, so the fault cuts a login in
    the middle of its LDAP exchange: a request slapd has not read on a connection still open 0.2 s after
    the freeze (a client that only sent its unbind would have closed it). If none, thaw and try again.
    Returns when the freeze that stayed began."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while True:
        frozen_at = time.monotonic()
        server.pause()
        first = waiting_requests(server.port)
        if first:
            time.sleep(0.2)
            if first & waiting_requests(server.port):
                return frozen_at
        server.resume()
        assert time.monotonic() < deadline, "no login was ever caught waiting for the directory"
        time.sleep(0.05)


def assert_unavailable(attempt: Attempt) -> None:
    """The documented 503: the Leostream error body, the end-user text, Retry-After: 30."""
    assert attempt.status == 503, attempt
    assert attempt.body["error_status"] == "SERVICE_UNAVAILABLE", attempt
    assert attempt.body["error_message"] == UNAVAILABLE_MESSAGE, attempt
    assert attempt.retry_after == "30", attempt


# --- the test ------------------------------------------------------------------------------------------


@pytest.fixture
def directory_world(world: ClientWorld, private_slapd: SlapdServer) -> ClientWorld:  # noqa: F811 - fixture
    """One pool of `DESKTOPS` desktops, reached only through the rule of group `load-users`, which every
    load user is in; groups are read with a group search, so a login is four LDAP round trips (service
    bind, user search, user bind, group search): an outage can cut it at any of them."""
    tree = private_slapd.openldap
    logins = [f"load{i:02d}" for i in range(STREAM_USERS + 2)]
    private_slapd.add_entries(load_users_ldif(tree, logins))
    pool = world.pool("load")
    policy = world.policy("Load users", default=False)
    world.assign(policy, pool)
    for _ in range(DESKTOPS):
        world.desktop(pool)
    body = ldap_server_body(
        private_slapd,
        domain=DOMAIN,
        group_membership="group_search",
        group_search_base=tree.groups_base,
        group_member_attribute="member",
        rules=[{"group": GROUP, "policy_id": policy}],
        **OUTAGE_TIMEOUTS,
    )
    reply = world.api.call("POST", "/rest/v1/auth-servers", body, sid=world.tenant.sid)
    assert reply.status == 201, reply.body
    return world


@pytest.mark.parametrize("fault", ["killed", "hung"])
def test_ldap_outage_mid_run(
    fault: str, directory_world: ClientWorld, private_slapd: SlapdServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BROKER_LOGIN_MAX_FAILURES", str(MAX_FAILURES))
    reset_settings()  # read again (the aws fixture resets them at the end)
    tenant_id = directory_world.tenant.tenant_id
    stream_logins = [f"load{i:02d}" for i in range(STREAM_USERS)]
    bring_back = private_slapd.start if fault == "killed" else private_slapd.resume

    with served(app) as url, login_stream(url, stream_logins) as stream, ThreadPoolExecutor(8) as probes:
        # 1. The directory is up: logins stream in, and one wrong password is a plain 401.
        stream.wait_for(lambda: len(stream.done) >= THREADS, "logins before the outage")
        wrong = stream.attempt(WRONG, right_password=False)
        assert wrong.status == 401 and wrong.body["error_status"] == "INVALID_CREDENTIALS", wrong
        assert failures_of(tenant_id, WRONG) == 1

        # 2. Down, while logins are in flight, one of them at least in the middle of its LDAP exchange.
        frozen_at = freeze_mid_login(private_slapd)
        if fault == "killed":
            private_slapd.kill()  # SIGKILL: what it was answering is reset, new connections refused
        down_at = time.monotonic()
        stream.wait_for(lambda: all(start > down_at for start in stream.in_flight.values()),
                        "the logins caught by the outage to finish")
        directory_world.api.aws.queued()  # the pool checks the earlier logins asked for
        before = everything(tenant_id)
        # Well past the lockout limit: the victim with its password, WRONG with a wrong one, the two in
        # parallel (each login's own attempts one after the other: more of one login at once than its
        # slots would be told to come back in a second instead, see docs/client-api.md).
        def probe_series(login: str, right_password: bool) -> list[Attempt]:
            return [stream.attempt(login, right_password) for _ in range(OUTAGE_PROBES)]

        series = [probes.submit(probe_series, VICTIM, True), probes.submit(probe_series, WRONG, False)]
        for probe in (attempt for one in series for attempt in one.result()):
            assert_unavailable(probe)
        stream.wait_for(lambda: stream.count(503, after=down_at) >= 2 * THREADS, "503s during the outage")
        stream.pause()

        # Nothing at all was written by a login the directory could not answer.
        assert everything(tenant_id) == before
        assert directory_world.api.aws.queued() == [], "a login during the outage queued a message"
        with stream.lock:
            succeeded = {a.login for a in stream.attempts if a.status == 200}
            only_503 = {a.login for a in stream.attempts if a.status == 503} - succeeded
        assert VICTIM in only_503 and len(only_503) >= 2
        logged = Counter((event.user, event.type) for event in audit_events(tenant_id))
        for login in only_503:
            assert stores.users.find_by_login(tenant_id, login) is None, login
            # a failed login names the user only when the broker knows it (WRONG never signed in yet)
            assert [kind for user, kind in logged.elements() if user == login] == [], login
            assert failures_of(tenant_id, login) == (1 if login == WRONG else 0), login  # the 401 only
            # every slot a 503 took was given back: only the 401's failure still holds one
            assert in_flight_or_failed(tenant_id, login) == ((1, 1) if login == WRONG else (0, 0)), login

        # 3. Back: the same broker, no restart, logs everyone in again.
        bring_back()
        up_at = time.monotonic()
        stream.running.set()
        victim_back = stream.attempt(VICTIM, True)
        assert victim_back.status == 200 and len(victim_back.desktops) == 1, victim_back  # not 429
        wrong_back = stream.attempt(WRONG, True)
        assert wrong_back.status == 200 and len(wrong_back.desktops) == 1, wrong_back
        stream.wait_for(lambda: not stream.fresh and len(stream.done) == STREAM_USERS
                        and stream.count(200, after=up_at) >= 2 * THREADS, "logins after the outage")
        stream.pause()

    attempts = stream.attempts
    by_status = Counter(a.status for a in attempts)
    # Only 200, the one expected 401, and the documented 503: never a 500 or any other status.
    assert set(by_status) <= {200, 401, 503}, [a for a in attempts if a.status not in (200, 401, 503)][:5]
    assert by_status[401] == 1
    for attempt in attempts:
        if attempt.status == 503:
            assert_unavailable(attempt)
        if attempt.ended < frozen_at:
            assert attempt.status in (200, 401), attempt  # before the outage
        elif attempt.started > down_at and attempt.ended < up_at:
            assert attempt.status == 503, attempt  # during it
        elif attempt.started > up_at:
            assert attempt.status == 200, attempt  # after it
    caught = [a for a in attempts if a.started < down_at and a.ended > frozen_at]
    assert any(a.status == 503 for a in caught), f"the outage cut no login: {caught}"

    # Every user: one desktop, the one every 200 named; none assigned twice; the audit log and the
    # lockout counters tell exactly what the 200s and the 401 did, nothing from the 503s.
    everyone = [*stream_logins, VICTIM, WRONG]
    held = assigned_desktops(tenant_id)
    events = Counter((event.user, event.type) for event in audit_events(tenant_id))
    handed_out: list[int] = []
    for login in everyone:
        replies = [a for a in attempts if a.login == login and a.status == 200]
        named = {tuple(a.desktops) for a in replies}
        assert len(named) == 1 and len(next(iter(named))) == 1, (login, named)
        desktop = next(iter(named))[0]
        handed_out.append(desktop)
        user = stores.users.find_by_login(tenant_id, login)
        assert user is not None and user.is_local == 0, login
        assert held.get(int(user.id)) == [desktop], (login, held.get(int(user.id)))
        assert events[(login, "user.created")] == 1, login
        assert events[(login, "client.login")] == len(replies), login
        assert events[(login, "client.assigned")] == 1, login
        assert events[(login, "client.login_failed")] == 0, login
        # a success gives its own slot back and leaves the window's failures to age out with it
        assert failures_of(tenant_id, login) == (1 if login == WRONG else 0), login
    assert events[(None, "client.login_failed")] == 1  # WRONG's one 401, before it was a known user
    assert len(set(handed_out)) == len(everyone)
    assert sorted(d for desktops in held.values() for d in desktops) == sorted(handed_out)
    print(f"\n{fault}: {len(attempts)} logins {dict(by_status)}, {len(caught)} in flight at the fault "
          f"({Counter(a.status for a in caught)}), outage {up_at - down_at:.1f} s")
