"""Drive the local OpenStack (install.sh, start.sh, stop.sh) from Python: the test fixture and `make run`.

    python -m localdev.openstack.stack install|start|stop|status

The scripts hold the real work; this module only runs them with their output in log files, waits, and
turns failures into exceptions that carry the tail of the log. Paths follow env.sh exactly.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SCRIPTS_DIR = Path(__file__).resolve().parent
KEYSTONE_URL = "http://127.0.0.1:5000/v3"
KEYSTONE_PORT = 5000
REGION = "RegionOne"
DOMAIN = "Default"
PASSWORD = "secret"  # noqa: S105 (the local cloud's published test password)
DEMO_PROJECT = "demo"
DEMO_USER = "demo"
ADMIN_PROJECT = "admin"
ADMIN_USER = "admin"

# start.sh's exit codes (see its header).
EXIT_NOT_INSTALLED = 2
EXIT_REFUSED = 3

INSTALL_TIMEOUT_SECONDS = 1800.0
START_TIMEOUT_SECONDS = 420.0
STOP_TIMEOUT_SECONDS = 60.0
LOG_TAIL_LINES = 40


class StackError(RuntimeError):
    """A script failed; the message ends with the tail of its log."""


class StackRefused(StackError):
    """start.sh refused: the stack already runs, or a port it needs is taken by something else."""


@dataclass(frozen=True)
class StackPaths:
    venv: Path
    run_dir: Path
    installed_marker: Path
    ready_marker: Path
    install_log: Path
    start_log: Path
    stop_log: Path
    lock_file: Path

    @property
    def keystone_pid_file(self) -> Path:
        return self.run_dir / "pids" / "keystone.pid"


def lock_file_hash() -> str:
    """First 12 hex digits of sha256(requirements.lock): names the venv, as env.sh does."""
    return hashlib.sha256((SCRIPTS_DIR / "requirements.lock").read_bytes()).hexdigest()[:12]


def stack_paths() -> StackPaths:
    cache_home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    default_venv = cache_home / "broker-openstack" / f"venv-{lock_file_hash()}"
    venv = Path(os.environ.get("BROKER_OPENSTACK_VENV") or default_venv)
    run_dir = Path(os.environ.get("BROKER_OPENSTACK_RUN") or "/tmp/broker-openstack/run")
    # Logs sit beside the run dir, not in it: start.sh wipes the run dir before it writes anything.
    logs_prefix = run_dir.parent / run_dir.name
    return StackPaths(
        venv=venv,
        run_dir=run_dir,
        installed_marker=venv / ".broker-openstack-installed",
        ready_marker=run_dir / "READY",
        install_log=venv.parent / f"{venv.name}-install.log",
        start_log=Path(f"{logs_prefix}-start.log"),
        stop_log=Path(f"{logs_prefix}-stop.log"),
        lock_file=Path(f"{logs_prefix}.lock"),
    )


def _tail(log_file: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        return "\n".join(log_file.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


_thread_lock = threading.RLock()
_lock_depth = 0


@contextmanager
def locked() -> Iterator[None]:
    """Hold the stack's lock: serialises install/start/stop and the fixture's bookkeeping across
    processes (pytest-xdist workers, a parallel `make run`). Re-entrant within one process."""
    global _lock_depth
    with _thread_lock:
        handle = None
        if _lock_depth == 0:
            lock_file = stack_paths().lock_file
            lock_file.parent.mkdir(parents=True, exist_ok=True)
            handle = lock_file.open("w")
            fcntl.flock(handle, fcntl.LOCK_EX)
        _lock_depth += 1
        try:
            yield
        finally:
            _lock_depth -= 1
            if handle is not None:
                fcntl.flock(handle, fcntl.LOCK_UN)
                handle.close()


def _run_script(script: str, log_file: Path, timeout: float) -> int:
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("w") as log:
        try:
            return subprocess.run(
                ["bash", str(SCRIPTS_DIR / script)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, timeout=timeout, check=False,
            ).returncode
        except subprocess.TimeoutExpired as exc:
            raise StackError(
                f"{script} did not finish within {timeout:.0f} s; log {log_file}:\n{_tail(log_file)}"
            ) from exc


def is_installed() -> bool:
    return stack_paths().installed_marker.is_file()


def ensure_installed(timeout: float = INSTALL_TIMEOUT_SECONDS) -> Path:
    """Install the services' venv unless already there (a first install takes 2-3 minutes). Returns it."""
    paths = stack_paths()
    if paths.installed_marker.is_file():
        return paths.venv
    with locked():
        if not paths.installed_marker.is_file():  # another process may have installed while we waited
            returncode = _run_script("install.sh", paths.install_log, timeout)
            if returncode != 0 or not paths.installed_marker.is_file():
                raise StackError(f"install.sh failed (exit {returncode}); log {paths.install_log}:\n"
                                 f"{_tail(paths.install_log)}")
    return paths.venv


def keystone_answers(timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(KEYSTONE_URL, timeout=timeout) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _process_group_alive(pid_file: Path) -> bool:
    try:
        os.killpg(int(pid_file.read_text().strip()), 0)
    except (OSError, ValueError):
        return False
    return True


def is_running() -> bool:
    """True when a stack started from our run dir finished starting and Keystone answers.

    Keystone answering alone is not enough: it could be someone else's cloud on port 5000.
    """
    paths = stack_paths()
    return (
        paths.ready_marker.is_file()
        and _process_group_alive(paths.keystone_pid_file)
        and keystone_answers()
    )


def start(timeout: float = START_TIMEOUT_SECONDS) -> bool:
    """Start a fresh stack and return once it is READY (about 90 s). Returns False, doing nothing, when
    ours already runs; True when this call started it.

    Raises StackRefused when a port is taken by something else, StackError with the log tail otherwise.
    """
    ensure_installed()
    paths = stack_paths()
    with locked():
        if is_running():
            return False
        returncode = _run_script("start.sh", paths.start_log, timeout)
        if returncode == EXIT_REFUSED:
            raise StackRefused(f"start.sh refused to start:\n{_tail(paths.start_log, 5)}")
        if returncode != 0 or not paths.ready_marker.is_file():
            raise StackError(f"start.sh failed (exit {returncode}); log {paths.start_log}, service logs in "
                             f"{paths.run_dir / 'log'}:\n{_tail(paths.start_log)}")
    return True


def stop(timeout: float = STOP_TIMEOUT_SECONDS) -> None:
    """Stop exactly the processes start.sh recorded in the run dir (nothing else, whatever its name)."""
    paths = stack_paths()
    with locked():
        returncode = _run_script("stop.sh", paths.stop_log, timeout)
        if returncode != 0:
            raise StackError(f"stop.sh failed (exit {returncode}):\n{_tail(paths.stop_log)}")


def main(argv: list[str]) -> int:
    commands = {"install": ensure_installed, "start": start, "stop": stop}
    if len(argv) != 1 or argv[0] not in (*commands, "status"):
        print("usage: python -m localdev.openstack.stack install|start|stop|status", file=sys.stderr)
        return 64
    if argv[0] == "status":
        paths = stack_paths()
        print(f"venv {paths.venv} installed={is_installed()}\nrun dir {paths.run_dir} running={is_running()}")
        return 0 if is_running() else 1
    try:
        commands[argv[0]]()
    except StackError as error:
        print(error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
