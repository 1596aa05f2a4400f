"""A real desktop and a real noVNC gateway on loopback, for `make run` and the gateway tests.

The desktops of the local OpenStack are records with nothing behind their addresses, so the live one is
started here: a virtual X display (Xvfb) with a terminal (xterm) and a VNC server (x11vnc) listening on a
loopback address only; and next to it a gateway as docs/gateway.md describes one: websockify serving noVNC's
files and checking each connection's token with its JWT plugin (the Debian packages `xvfb`, `x11vnc`,
`xterm`, `novnc`, `websockify`, `python3-jwcrypto`; see debian-packages.txt).

Every process is a child of the caller, in its session, and `LocalProcesses.stop()` ends them all (make run
calls it on Ctrl-C or SIGTERM).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

NOVNC_WEB = Path("/usr/share/novnc")
WEBSOCKIFY = "/usr/bin/websockify"
START_TIMEOUT_SECONDS = 60.0  # a bound, not a measurement: a loaded machine starts them slowly
STOP_TIMEOUT_SECONDS = 10.0
PROGRAMS = ("Xvfb", "x11vnc", "xsetroot", WEBSOCKIFY)
TERMINAL_MESSAGE = ("\n  This is make run's live desktop: an X display (Xvfb) on this machine,\n"
                    "  served by x11vnc on 127.0.0.1 and reached through the local noVNC gateway\n"
                    "  (websockify) with a token the broker signed for this desktop only, valid\n"
                    "  for one minute. The broker is not in this path: it only signed the link.\n")


class LiveDesktopError(RuntimeError):
    pass


def missing_programs(extra: tuple[str, ...] = ()) -> list[str]:
    """The programs of the live desktop and the gateway that are not installed (empty: all are)."""
    found = [p for p in (*PROGRAMS, *extra) if shutil.which(p) is None]
    return found + ([] if (NOVNC_WEB / "vnc.html").is_file() else [str(NOVNC_WEB / "vnc.html")])


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def wait_for_port(host: str, port: int, process: subprocess.Popen[bytes], what: str,
                  timeout: float = START_TIMEOUT_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise LiveDesktopError(f"{what} exited with status {process.returncode} before it listened")
        try:
            with socket.create_connection((host, port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise LiveDesktopError(f"{what} did not listen on {host}:{port} within {timeout:.0f} s")


@dataclass
class LocalProcesses:
    """Processes started for the live desktop and the gateway, stopped together, newest first."""

    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def spawn(self, command: list[str], log: Path | None = None,
              **options: object) -> subprocess.Popen[bytes]:
        output = log.open("ab") if log is not None else subprocess.DEVNULL
        try:
            process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=output,
                                       stderr=subprocess.STDOUT, **options)  # type: ignore[call-overload]
        finally:
            if log is not None:
                output.close()  # type: ignore[union-attr]
        self.processes.append(process)
        return process

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                process.terminate()
        for process in reversed(self.processes):
            try:
                process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes.clear()


@dataclass
class Desktop:
    display: str  # ":3"
    vnc_host: str
    vnc_port: int


def start_display(processes: LocalProcesses, width: int = 1024, height: int = 768) -> str:
    """A virtual X display on a free display number (Xvfb picks it and writes it to a pipe)."""
    read_end, write_end = os.pipe()
    try:
        # -noreset: without it Xvfb resets (the root window's colour too) when its last client leaves
        process = processes.spawn(["Xvfb", "-displayfd", str(write_end), "-screen", "0",
                                   f"{width}x{height}x24", "-nolisten", "tcp", "-noreset"],
                                  pass_fds=(write_end,))
    finally:
        os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        number = pipe.readline().strip()  # written once the display accepts clients; empty if Xvfb died
    if not number.isdigit():
        process.wait(timeout=STOP_TIMEOUT_SECONDS)
        raise LiveDesktopError(f"Xvfb did not start (status {process.returncode})")
    return f":{int(number)}"


def paint(display: str, colour: str) -> None:
    """Fill the root window with one colour (`#3366cc`)."""
    subprocess.run(["xsetroot", "-solid", colour], env={**os.environ, "DISPLAY": display},
                   check=True, timeout=30, stdin=subprocess.DEVNULL, capture_output=True)


def start_vnc(processes: LocalProcesses, display: str, host: str = "127.0.0.1",
              port: int | None = None) -> int:
    """x11vnc serving the display on `host` only (a loopback address), without a VNC password: on this
    development machine any local process could connect; a real desktop's VNC server accepts the
    gateway's address only (docs/gateway.md). Returns its port."""
    port = port or free_port(host)
    process = processes.spawn(["x11vnc", "-display", display, "-listen", host, "-rfbport", str(port),
                               "-no6", "-noipv6", "-nopw", "-forever", "-shared", "-quiet", "-noxdamage"],
                              env={**os.environ, "DISPLAY": display})
    wait_for_port(host, port, process, "x11vnc")
    return port


def start_desktop(processes: LocalProcesses, colour: str = "#3366cc", host: str = "127.0.0.1",
                  with_terminal: bool = False) -> Desktop:
    """A display painted `colour` (with a terminal on it for `make run`) and its VNC server on `host`."""
    display = start_display(processes)
    paint(display, colour)
    if with_terminal and shutil.which("xterm"):
        # A terminal window that shows a message and runs no shell: whoever opens the desktop through the
        # gateway must not get a shell of the user running make run.
        processes.spawn(["xterm", "-geometry", "90x12+40+40", "-title", "Live desktop", "-hold", "-e",
                         "printf", TERMINAL_MESSAGE], env={**os.environ, "DISPLAY": display})
    return Desktop(display, host, start_vnc(processes, display, host))


def gateway_command(key_file: Path, host: str, port: int) -> list[str]:
    """websockify as a noVNC gateway: noVNC's files and the WebSocket on one port, each connection opened
    to the host and port its token names, if the token verifies with the key and has not expired."""
    return [WEBSOCKIFY, "--web", str(NOVNC_WEB), "--token-plugin", "JWTTokenApi", "--token-source",
            str(key_file), f"{host}:{port}"]


def start_gateway(processes: LocalProcesses, key_file: Path, host: str = "127.0.0.1", port: int | None = None,
                  command: list[str] | None = None, log: Path | None = None) -> int:
    """The gateway on `host`; `command` replaces websockify's (the tests shift its clock). Its port."""
    port = port or free_port(host)
    process = processes.spawn(command or gateway_command(key_file, host, port), log=log)
    wait_for_port(host, port, process, "websockify")
    return port
