"""`make run`'s own server and its stop (issue 12, section 3), against `localdev/run.py` as a process of its
own with moto's server inside it (BROKER_OPENSTACK=external: the shared local OpenStack is left alone).

* 200 clients connect at once (4 processes of 50 threads, released together by one barrier), each logging
  a different end user in on a fresh connection: every one is answered 200 with a desktop, none is reset
  or refused, and the server recorded exactly one login per user (its audit events): none lost, none twice.
  Chalice's local server, which `make run` used before, reset most of such a burst (listen backlog 5).
* SIGTERM (what a process manager sends) and SIGINT (Ctrl-C) stop everything: exit status 0, no process of
  its session left, its ports free again.
* Whatever the moment of the signal, the local OpenStack services are stopped when `make run` started
  them, also while they were still starting, and left running when they were someone else's (run.main in
  this process, with the stack's start and stop recorded instead of run).
"""

from __future__ import annotations

import contextlib
import io
import multiprocessing
import os
import signal
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
import requests

from chalicelib.store.models import AuditRecord, DesktopRecord
from tests.reliability.login_world import LOGIN_PASSWORD, LOGIN_TENANT, seed_login_world
from tests.reliability.make_run import (
    MAKE_RUN_ADMIN_PASSWORD,
    free_port,
    pointed_at,
    port_is_free,
    started_make_run,
)

CLIENTS, CLIENT_PROCESSES = 200, 4
# Bounds, not measurements: a loaded machine may answer slowly, which must not fail these tests.
ANSWER_TIMEOUT_SECONDS = 900.0
STOP_TIMEOUT_SECONDS = 120.0


def _log_in_together(url: str, logins: list[str], barrier: Any, results: Any) -> None:
    """One client process: a thread per login, all waiting at the barrier (shared by every process), then
    each POSTs its login on a connection of its own (requests.post opens one and never retries)."""

    def log_in(login: str) -> None:
        outcome: dict[str, Any] = {"login": login}
        try:
            barrier.wait(timeout=ANSWER_TIMEOUT_SECONDS)
            body = {"user_login": login, "password": LOGIN_PASSWORD, "domain": LOGIN_TENANT}
            reply = requests.post(f"{url}/client/v1/login", json=body, timeout=ANSWER_TIMEOUT_SECONDS)
            outcome["status"] = reply.status_code
            outcome["desktops"] = [d["id"] for d in reply.json().get("desktops", [])]
        except Exception as error:  # a reset, a refused connection: the failure this test is about
            outcome["status"] = "no answer"
            outcome["error"] = repr(error)
        results.put(outcome)

    threads = [threading.Thread(target=log_in, args=(login,)) for login in logins]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_200_clients_at_once_are_each_answered_once() -> None:
    with started_make_run() as run:
        with pointed_at(run):
            world = seed_login_world(users=CLIENTS, desktops=CLIENTS)
        logins = [f"user{index:03d}" for index in range(CLIENTS)]
        context = multiprocessing.get_context("spawn")
        barrier, results = context.Barrier(CLIENTS), context.Queue()
        shares = [logins[i::CLIENT_PROCESSES] for i in range(CLIENT_PROCESSES)]
        clients = [context.Process(target=_log_in_together, args=(run.url, share, barrier, results))
                   for share in shares]
        for client in clients:
            client.start()
        outcomes = [results.get(timeout=ANSWER_TIMEOUT_SECONDS) for _ in logins]
        for client in clients:
            client.join(timeout=60)

        unanswered = [o for o in outcomes if o["status"] != 200]
        assert unanswered == [], f"{len(unanswered)} of {CLIENTS} not answered 200, e.g. {unanswered[:3]}"
        assert sorted(o["login"] for o in outcomes) == logins
        assert all(len(o["desktops"]) == 1 for o in outcomes)
        assert len({o["desktops"][0] for o in outcomes}) == CLIENTS  # no desktop handed out twice
        with pointed_at(run):
            tenant_id = world["tenant_id"]
            events = AuditRecord.query(tenant_id, consistent_read=True)
            recorded = Counter(event.user for event in events if event.type == "client.login")
            rows = DesktopRecord.query(tenant_id, consistent_read=True)
            holders = Counter(int(d.assigned_user_id) for d in rows if d.assigned_user_id is not None)
    assert sorted(recorded) == logins, "a login the server never saw"
    assert set(recorded.values()) == {1}, f"logins handled twice: {[u for u, n in recorded.items() if n > 1]}"
    assert len(holders) == CLIENTS and set(holders.values()) == {1}


@pytest.mark.parametrize("signal_number", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stop_signal_ends_every_process_and_frees_the_ports(signal_number: int) -> None:
    with started_make_run() as run:
        answer = requests.post(f"{run.url}/rest/v1/session/login", timeout=ANSWER_TIMEOUT_SECONDS,
                               json={"user_login": "admin", "password": MAKE_RUN_ADMIN_PASSWORD})
        assert answer.status_code == 200
        # an idle keep-alive connection must not hold the stop up
        idle = socket.create_connection(("127.0.0.1", run.broker_port))
        run.process.send_signal(signal_number)
        try:
            code = run.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        finally:
            idle.close()
        left = run.session_processes()
        printed = run.printed()
    assert code == 0, printed
    assert left == [], f"processes of make run still alive: {left}"
    assert port_is_free(run.broker_port) and port_is_free(run.aws_port)
    assert "stopped" in printed.splitlines()[-1], printed


# --- the local OpenStack: stopped when make run started it, whatever the moment ---------------------------


class FakeStack:
    """Stands in for localdev.openstack.stack: records start and stop; `on_start` runs inside start()."""

    def __init__(self, running: bool, on_start: Callable[[], None] = lambda: None) -> None:
        self.running = running
        self.on_start = on_start
        self.calls: list[str] = []

    def is_running(self) -> bool:
        return self.running

    def ensure_installed(self) -> None:
        self.calls.append("install")

    def start(self) -> bool:
        self.calls.append("start")
        self.on_start()
        self.running = True
        return True

    def stop(self) -> None:
        self.calls.append("stop")
        self.running = False


def _signal_myself_when_serving(port: int) -> None:
    def watch() -> None:
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                time.sleep(0.1)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, daemon=True).start()


def _interrupted_while_starting() -> None:
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(STOP_TIMEOUT_SECONDS)  # the handler raises here, as it would during start.sh
    raise AssertionError("SIGTERM did not interrupt the start")


@pytest.fixture
def run_module(monkeypatch: pytest.MonkeyPatch) -> Any:
    """localdev.run, its ports free ones, its environment changes undone afterwards."""
    from localdev import demo, run
    from tests.fixtures.aws import reset_broker_caches

    monkeypatch.setattr(run, "AWS_PORT", free_port())
    monkeypatch.setattr(run, "BROKER_PORT", free_port())
    for name, value in {**run.local_environment(), "BROKER_ADMIN_PASSWORD": MAKE_RUN_ADMIN_PASSWORD}.items():
        monkeypatch.setenv(name, value)
    for name in ("BROKER_OPENSTACK", "BROKER_TABLE_PREFIX", "BROKER_SECRET_PREFIX",
                 "BROKER_DYNAMODB_ENDPOINT", "BROKER_QUEUE_URL", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(demo, "seed", lambda password: [])
    # moto's backends live as long as this process: the live desktop's records (and processes) belong to
    # the runs of make run as a process of its own (test_make_run_live_desktop.py)
    monkeypatch.setenv("BROKER_LIVE_DESKTOP", "off")
    reset_broker_caches()
    yield run
    reset_broker_caches()


def _run_main(run_module: Any) -> int:
    # run.py prints the admin password, as `make run` must; here nobody reads it (nor the secrets watch)
    with contextlib.redirect_stdout(io.StringIO()):
        return int(run_module.main())


def _use_stack(monkeypatch: pytest.MonkeyPatch, fake: FakeStack) -> None:
    from localdev.openstack import stack

    for name in ("is_running", "ensure_installed", "start", "stop"):
        monkeypatch.setattr(stack, name, getattr(fake, name))


def test_the_openstack_it_started_is_stopped(run_module: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeStack(running=False)
    _use_stack(monkeypatch, fake)
    _signal_myself_when_serving(run_module.BROKER_PORT)
    assert _run_main(run_module) == 0
    assert fake.calls == ["install", "start", "stop"]


def test_an_openstack_interrupted_while_starting_is_stopped(run_module: Any,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeStack(running=False, on_start=_interrupted_while_starting)
    _use_stack(monkeypatch, fake)
    assert _run_main(run_module) == 0
    assert fake.calls == ["install", "start", "stop"]


def test_a_refused_start_stops_nothing(run_module: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """start.sh refuses when the ports are taken or a stack runs from the same directory (one whose Keystone
    was too slow to answer is_running): that stack, maybe the one others use, must be left alone."""
    from localdev.openstack.stack import StackRefused

    def refuse() -> None:
        raise StackRefused("port 5000 on 127.0.0.1 is already taken")

    fake = FakeStack(running=False, on_start=refuse)
    _use_stack(monkeypatch, fake)
    with pytest.raises(StackRefused):
        _run_main(run_module)
    assert fake.calls == ["install", "start"]


def test_someone_elses_openstack_is_left_running(run_module: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeStack(running=True)
    _use_stack(monkeypatch, fake)
    _signal_myself_when_serving(run_module.BROKER_PORT)
    assert _run_main(run_module) == 0
    assert fake.calls == []
    assert fake.running
