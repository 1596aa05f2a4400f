#!/usr/bin/env python3
"""Reference agent of the VDI broker for Linux desktops (docs/agent-protocol.md).

Standard library only: it runs on the desktop, not in the broker's Lambda package.

    broker_agent.py register --broker https://broker.example/api      # from cloud-init's registration file
    broker_agent.py register --broker URL --instance-uuid U --registration-token T
    broker_agent.py event login --user alice
    broker_agent.py heartbeat --every 30 --count 0                     # 0: for ever
    broker_agent.py run --every 30                                     # heartbeats + session watch + commands

The agent token is kept in a state file readable by root only (`--state`); when the broker sends a new
one (the desktop changed hands), it replaces the old one in the file before anything else is sent, and
it is never printed. Events that cannot be delivered (the broker unreachable) are kept in the state file
and sent first, in order, next time.
Commands from the broker (log out, lock, disconnect) are printed, carried out (`--commands execute`),
or simulated (`--commands simulate`: reported back as done, for tests and demonstrations).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

VERSION = "1.0"
DEFAULT_STATE = "/var/lib/vdi-broker-agent/state.json"
DEFAULT_REGISTRATION = "/etc/vdi-broker-agent/registration.json"
INSTANCE_ID_FILE = "/var/lib/cloud/data/instance-id"  # cloud-init: the Nova instance UUID
EVENTS = ("startup", "login", "logout", "disconnect", "reconnect", "lock", "unlock", "idle", "active",
          "heartbeat")
# The event that reports a command carried out.
COMMAND_EVENT = {"logout": "logout", "lock": "lock", "disconnect": "disconnect"}
DEFAULT_EXEC = {
    "logout": "loginctl terminate-user {user}",
    "lock": "loginctl lock-sessions",
    "disconnect": "",  # no portable way; set --exec-disconnect for your remoting stack (e.g. xrdp)
}
EXIT_REFUSED = 3  # the broker refused the token: register again
MAX_PENDING = 500


class BrokerError(Exception):
    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"HTTP {status}: {body}")
        self.status = status
        self.body = body


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def shown(reply: dict[str, Any]) -> dict[str, Any]:
    """A reply as printed (stdout often ends up in the journal): without the agent token."""
    if not reply.get("agent_token"):
        return {k: v for k, v in reply.items() if k != "agent_token"}
    return {**{k: v for k, v in reply.items() if k != "agent_token"}, "agent_token_rotated": True}


# ----------------------------------------------------------------------------------------- state


def load_state(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return {}


def save_state(path: Path, state: dict[str, Any]) -> None:
    """Write atomically, readable by the owner only (it holds the agent token); a directory made for it
    is the owner's only too."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".state-")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(state, handle, indent=2)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# ------------------------------------------------------------------------------------------- HTTP


def call(broker: str, path: str, body: dict[str, Any], token: str | None = None, timeout: float = 10,
         attempts: int = 3) -> dict[str, Any]:
    """POST JSON; retries connection errors and 5xx with a short backoff. BrokerError on 4xx."""
    data = json.dumps(body).encode()
    headers = {"Content-Type": "application/json", "User-Agent": f"vdi-broker-agent/{VERSION}"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    url = broker.rstrip("/") + path
    if not url.startswith(("https://", "http://")):
        raise ValueError(f"the broker's URL must be http(s): {broker!r}")
    last: Exception | None = None
    for attempt in range(attempts):
        request = urllib.request.Request(url, data=data, headers=headers, method="POST")  # noqa: S310 - checked
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - http(s) only
                text = response.read().decode() or "{}"
                return json.loads(text)
        except urllib.error.HTTPError as error:
            text = error.read().decode(errors="replace")
            try:
                parsed: Any = json.loads(text)
            except ValueError:
                parsed = text
            if error.code < 500:
                raise BrokerError(error.code, parsed) from None
            last = BrokerError(error.code, parsed)
        except (urllib.error.URLError, OSError, TimeoutError) as error:
            last = error
        time.sleep(min(4.0, 0.5 * 2**attempt))
    assert last is not None
    raise last


# ---------------------------------------------------------------------------------- registration


def register(args: argparse.Namespace) -> int:
    state_path = Path(args.state)
    registration: dict[str, Any] = {}
    if args.registration_file and Path(args.registration_file).exists():
        registration = json.loads(Path(args.registration_file).read_text())
    token = args.registration_token or registration.get("registration_token")
    broker = args.broker or registration.get("broker_url")
    instance = args.instance_uuid
    if not instance and Path(INSTANCE_ID_FILE).exists():
        instance = Path(INSTANCE_ID_FILE).read_text().strip()
    missing = [name for name, value in (("--broker", broker), ("--registration-token", token),
                                        ("--instance-uuid", instance)) if not value]
    if missing:
        print(f"missing: {', '.join(missing)}", file=sys.stderr)
        return 2
    body = {"instance_uuid": instance, "registration_token": token, "hostname": os.uname().nodename,
            "agent_version": VERSION, "os": f"{os.uname().sysname} {os.uname().release}"}
    try:
        reply = call(broker, "/agent/v1/register", body)
    except BrokerError as error:
        print(json.dumps({"registered": False, "status": error.status, "error": error.body}))
        return EXIT_REFUSED if error.status in (401, 403) else 1
    save_state(state_path, {"broker": broker, "desktop_id": reply["desktop_id"],
                            "agent_token": reply["agent_token"],
                            "heartbeat_seconds": reply.get("heartbeat_seconds", 30), "pending": []})
    print(json.dumps({"registered": True, "desktop_id": reply["desktop_id"],
                      "heartbeat_seconds": reply.get("heartbeat_seconds")}))
    return 0


# ----------------------------------------------------------------------------------------- events


@dataclass
class Agent:
    state_path: Path
    commands: str = "print"  # print, simulate or execute
    exec_commands: dict[str, str] | None = None

    def state(self) -> dict[str, Any]:
        state = load_state(self.state_path)
        if not state.get("agent_token"):
            raise SystemExit("not registered: run `register` first")
        return state

    def send(self, event: str, user: str | None = None, at: str | None = None,
             details: dict[str, Any] | None = None, command_done: str | None = None) -> dict[str, Any] | None:
        """Send the event (after any kept from before); keep it if the broker cannot be reached."""
        state = self.state()
        body: dict[str, Any] = {"event": event, "time": at or now_iso()}
        if user:
            body["user"] = user
        if details:
            body["details"] = details
        if command_done:
            body["command_done"] = command_done
        pending = list(state.get("pending") or [])
        if event != "heartbeat":
            pending.append(body)
        queue = pending or [body]
        reply = None
        while queue:
            try:
                reply = call(state["broker"], "/agent/v1/events", queue[0], state["agent_token"])
            except BrokerError as error:
                if error.status in (401, 403):
                    latest = load_state(self.state_path).get("agent_token")
                    if latest and latest != state["agent_token"]:  # another run of the agent took a new one
                        state["agent_token"] = latest
                        continue
                    print(json.dumps({"error": "the broker refused the agent token; register again"}),
                          file=sys.stderr)
                    raise SystemExit(EXIT_REFUSED) from None
                queue.pop(0)  # a 4xx will not get better by sending it again
                continue
            except OSError as error:
                state["pending"] = ([b for b in queue if b["event"] != "heartbeat"])[-MAX_PENDING:]
                save_state(self.state_path, state)
                print(json.dumps({"error": f"broker unreachable: {error}", "kept": len(state["pending"])}),
                      file=sys.stderr)
                return None
            queue.pop(0)
            new_token = reply.get("agent_token")
            if new_token and new_token != state["agent_token"]:
                # The desktop changed hands: keep the new token before sending anything else with it (the
                # old one works until the broker has seen the new one once).
                state["agent_token"] = new_token
                state["pending"] = [b for b in queue if b["event"] != "heartbeat"]
                save_state(self.state_path, state)
        if state.get("pending"):
            state["pending"] = []
            save_state(self.state_path, state)
        if reply is not None:
            self.handle_command(reply)
        return reply

    def handle_command(self, reply: dict[str, Any]) -> None:
        command = reply.get("command")
        if not command:
            return
        done = set(load_state(self.state_path).get("commands_done") or [])
        if command["id"] in done:
            return
        print(json.dumps({"command": command}), flush=True)
        if self.commands == "print":
            return
        user = (reply.get("session") or {}).get("user")
        details: dict[str, Any] = {"command": command["action"]}
        if self.commands == "execute":
            template = (self.exec_commands or DEFAULT_EXEC).get(command["action"], "")
            if not template:
                details["result"] = "unsupported"
            else:
                argv = [part.format(user=user or "") for part in shlex.split(template)]
                result = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)  # noqa: S603
                details["result"] = f"exit {result.returncode}"
        state = load_state(self.state_path)
        state["commands_done"] = [*list(state.get("commands_done") or [])[-20:], command["id"]]
        save_state(self.state_path, state)
        # Report the outcome: the session event the command led to (the session watcher of `run` would
        # also see it), marked as the command's.
        carried_out = self.commands == "simulate" or details.get("result") == "exit 0"
        event = COMMAND_EVENT[command["action"]] if carried_out else "heartbeat"
        self.send(event, user=user, details=details, command_done=command["id"])


def event(args: argparse.Namespace, agent: Agent) -> int:
    details = dict(item.split("=", 1) for item in args.detail or [])
    reply = agent.send(args.name, user=args.user, at=args.time, details=details)
    if reply is None:
        return 1
    print(json.dumps(shown(reply)))
    return 0


def heartbeat(args: argparse.Namespace, agent: Agent) -> int:
    sent = 0
    while True:
        reply = agent.send("heartbeat")
        if reply is not None:
            print(json.dumps(shown(reply)), flush=True)
        sent += 1
        if args.count and sent >= args.count:
            return 0 if reply is not None else 1
        time.sleep(args.every)


# ------------------------------------------------------------------------------- session watching


def read_sessions(command: str | None) -> list[dict[str, Any]]:
    """The graphical sessions on this machine: [{"id", "user", "locked", "idle", "connected"}].

    With `command`, its JSON output (tests, other remoting stacks); else loginctl's view."""
    if command:
        output = subprocess.run(shlex.split(command), capture_output=True, text=True, check=True).stdout  # noqa: S603
        return json.loads(output or "[]")
    loginctl = shutil.which("loginctl") or "/usr/bin/loginctl"
    listed = subprocess.run([loginctl, "list-sessions", "--no-legend"], capture_output=True, text=True,  # noqa: S603
                            check=False).stdout
    sessions = []
    for line in listed.splitlines():
        parts = line.split()
        if len(parts) < 3:
            continue
        properties = ["-p", "Type", "-p", "State", "-p", "IdleHint", "-p", "LockedHint", "-p", "Name"]
        shown = subprocess.run([loginctl, "show-session", parts[0], *properties],  # noqa: S603
                               capture_output=True, text=True, check=False).stdout
        props = dict(line.split("=", 1) for line in shown.splitlines() if "=" in line)
        if props.get("Type") not in ("x11", "wayland", "mir"):
            continue
        sessions.append({"id": parts[0], "user": props.get("Name") or parts[2],
                         "locked": props.get("LockedHint") == "yes", "idle": props.get("IdleHint") == "yes",
                         "connected": props.get("State") == "active"})
    return sessions


def session_events(before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[tuple[str, str]]:
    """The events that turn one observed session (None: no session) into the next: [(event, user)]."""
    if after is None:
        return [] if before is None else [("logout", before["user"])]
    user = after["user"]
    events: list[tuple[str, str]] = []
    if before is None or before.get("id") != after.get("id"):
        if before is not None:
            events.append(("logout", before["user"]))
        events.append(("login", user))
        before = {"locked": False, "idle": False, "connected": True}
    if before.get("connected", True) != after.get("connected", True):
        events.append(("reconnect" if after.get("connected", True) else "disconnect", user))
    if before.get("locked") != after.get("locked"):
        events.append(("lock" if after.get("locked") else "unlock", user))
    if before.get("idle") != after.get("idle"):
        events.append(("idle" if after.get("idle") else "active", user))
    return events


def run(args: argparse.Namespace, agent: Agent) -> int:
    """Heartbeats every `--every` seconds, session changes as they are seen, commands as they come."""
    agent.send("startup", details={"agent_version": VERSION})
    current: dict[str, Any] | None = None
    loops = 0
    while True:
        try:
            sessions = read_sessions(args.sessions_command)
        except (OSError, subprocess.CalledProcessError, ValueError) as error:
            print(json.dumps({"error": f"cannot read sessions: {error}"}), file=sys.stderr)
            sessions = [] if current is None else [current]
        observed = sessions[0] if sessions else None
        changes = session_events(current, observed)
        for name, user in changes:
            agent.send(name, user=user)
        current = observed
        if not changes:
            agent.send("heartbeat")
        loops += 1
        if args.iterations and loops >= args.iterations:
            return 0
        time.sleep(args.every)


# -------------------------------------------------------------------------------------------- CLI


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    main.add_argument("--state", default=os.environ.get("BROKER_AGENT_STATE", DEFAULT_STATE))
    main.add_argument("--commands", choices=("print", "simulate", "execute"), default="print",
                      help="what to do with the broker's commands (default: print them)")
    for action in DEFAULT_EXEC:
        main.add_argument(f"--exec-{action}", help=f"command line for '{action}' ({{user}} is the user)")
    sub = main.add_subparsers(dest="command", required=True)
    reg = sub.add_parser("register", help="exchange the one-time registration token for an agent token")
    reg.add_argument("--broker")
    reg.add_argument("--instance-uuid")
    reg.add_argument("--registration-token")
    reg.add_argument("--registration-file", default=DEFAULT_REGISTRATION)
    ev = sub.add_parser("event", help="report one session event")
    ev.add_argument("name", choices=EVENTS)
    ev.add_argument("--user")
    ev.add_argument("--time", help="ISO 8601 or epoch seconds (default: now)")
    ev.add_argument("--detail", action="append", help="key=value, repeatable")
    hb = sub.add_parser("heartbeat", help="send heartbeats")
    hb.add_argument("--every", type=float, default=30)
    hb.add_argument("--count", type=int, default=1, help="how many (0: for ever)")
    rn = sub.add_parser("run", help="the agent's service: heartbeats, session changes, commands")
    rn.add_argument("--every", type=float, default=30)
    rn.add_argument("--iterations", type=int, default=0, help="stop after this many rounds (0: never)")
    rn.add_argument("--sessions-command", help="a command printing the sessions as JSON (default: loginctl)")
    return main


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "register":
        return register(args)
    overrides = {a: getattr(args, f"exec_{a}") for a in DEFAULT_EXEC if getattr(args, f"exec_{a}")}
    agent = Agent(Path(args.state), args.commands, {**DEFAULT_EXEC, **overrides})
    if args.command == "event":
        return event(args, agent)
    if args.command == "heartbeat":
        return heartbeat(args, agent)
    return run(args, agent)


if __name__ == "__main__":
    raise SystemExit(main())
