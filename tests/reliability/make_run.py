"""`make run` as a process of its own, for the tests of its server and of its stop (test_make_run.py).

`started_make_run()` runs `localdev/run.py` as `make run` does, on free ports, with BROKER_OPENSTACK=external
(no local OpenStack: the shared one on this machine is neither started nor stopped) and returns once it
printed that it is running; `pointed_at(run)` points this process at its moto server, to seed records and
read what the server wrote.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.fixtures.aws import reset_broker_caches

ROOT = Path(__file__).resolve().parents[2]
MAKE_RUN_ADMIN_PASSWORD = "make-run-admin-pw-1"
READY_LINE = "Ctrl-C stops everything."
# Starting takes a few seconds; on a loaded machine much longer, which must not fail the test.
START_TIMEOUT_SECONDS = 300.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def port_is_free(port: int) -> bool:
    """A server could listen on it again (as servers do, with SO_REUSEADDR: closed connections may linger)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


@dataclass
class MakeRun:
    process: subprocess.Popen[str]
    broker_port: int
    aws_port: int
    output: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.broker_port}"

    def aws_environment(self) -> dict[str, str]:
        """What run.py sets for itself (localdev/run.py: local_environment)."""
        return {
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{self.aws_port}",
            "BROKER_STAGE": "local",
            "BROKER_QUEUE_NAME": "broker-local-provisioning",
        }

    def printed(self) -> str:
        """What it printed, its admin password masked (failure messages are read by the secrets watch)."""
        return "".join(self.output).replace(MAKE_RUN_ADMIN_PASSWORD, "<admin password>")

    def session_processes(self) -> list[int]:
        """Every live process of its session (it is started as a session leader): it and its children."""
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            with contextlib.suppress(OSError, IndexError, ValueError):
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[3]) == self.process.pid and fields[0] != "Z":  # field 6 of stat: the session
                    found.append(int(entry.name))
        return found


def _child_environment(broker_port: int, aws_port: int) -> dict[str, str]:
    """This process' environment without the tests' AWS and broker settings, as in a user's shell."""
    inherited = {name: value for name, value in os.environ.items()
                 if not name.startswith(("AWS_", "BROKER_")) and not name.lower().endswith("_proxy")}
    return {
        **inherited,
        "BROKER_OPENSTACK": "external",
        "BROKER_PORT": str(broker_port),
        "BROKER_AWS_PORT": str(aws_port),
        "BROKER_ADMIN_PASSWORD": MAKE_RUN_ADMIN_PASSWORD,
        "BROKER_LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }


@contextlib.contextmanager
def started_make_run() -> Iterator[MakeRun]:
    broker_port, aws_port = free_port(), free_port()
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "localdev" / "run.py")], cwd=ROOT,
        env=_child_environment(broker_port, aws_port), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )
    run = MakeRun(process, broker_port, aws_port)
    ready = threading.Event()

    def read_output() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            run.output.append(line)
            if READY_LINE in line:
                ready.set()
        ready.set()  # it exited: nothing more will come

    reader = threading.Thread(target=read_output, name="make-run-output", daemon=True)
    reader.start()
    try:
        ready.wait(START_TIMEOUT_SECONDS)
        if process.poll() is not None or READY_LINE not in "".join(run.output):
            raise AssertionError(f"make run did not start (exit {process.poll()}):\n{run.printed()}")
        yield run
    finally:
        if process.poll() is None:  # the test did not stop it: stop it as a user would, then for sure
            process.terminate()
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, 9)
                process.wait()
        reader.join(timeout=10)


@contextlib.contextmanager
def pointed_at(run: MakeRun) -> Iterator[None]:
    """This process' broker code reads and writes the tables of `run`'s moto server while the block runs."""
    from chalicelib.store.binding import ensure_bound

    names = {*run.aws_environment(), "AWS_SESSION_TOKEN", "BROKER_TABLE_PREFIX", "BROKER_SECRET_PREFIX",
             "BROKER_DYNAMODB_ENDPOINT", "BROKER_QUEUE_URL"}
    saved = {name: os.environ.get(name) for name in names}
    for name in names:
        os.environ.pop(name, None)
    os.environ.update(run.aws_environment())
    reset_broker_caches()
    try:
        ensure_bound()
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        reset_broker_caches()

