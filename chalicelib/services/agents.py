"""Desktop agents: registration with a one-time token, the agent token, and session events
(docs/agent-protocol.md).

Tokens name their desktop: `<tenant>.<desktop>.<secret>`, so checking one is a single GetItem of the
desktop, whose record holds only the token's SHA-256 (compared in constant time). A registration
token is written into the instance's user data at provisioning (or issued by an admin), expires
`BROKER_AGENT_REGISTRATION_SECONDS` after it was issued, and is consumed by the first registration: the
registration's write is conditional on the desktop's version, and a second registration with the same
token, even at the same moment, finds it gone. The agent token is rotated whenever the desktop's
assignment changes (chalicelib/domain/agent_tokens.py): the reply to the agent's next call carries the
new one.

An event costs one read (the authentication's) and at most one write; events that may start a plan's
steps (disconnect, idle, logout) read the desktop's plans too (one BatchGetItem, usually cached).
"""

from __future__ import annotations

import json
import logging
import secrets
from dataclasses import replace
from typing import Any

from chalicelib import clock
from chalicelib.clock import epoch_of, utc_iso
from chalicelib.domain import lifecycle as rules
from chalicelib.domain import sessions
from chalicelib.domain.agent_tokens import (
    AgentTokens,
    Presented,
    custody,
    parse_token,
    registration_expired,
    same_hash,
)
from chalicelib.domain.caller import Caller
from chalicelib.domain.desktop_lifecycle import DesktopLifecycle
from chalicelib.domain.entities.desktops import Desktop
from chalicelib.domain.errors import Conflict, ServiceUnavailable, Unauthorized
from chalicelib.domain.token_digest import token_hash
from chalicelib.schemas.agent import AgentEvent, AgentRegister
from chalicelib.services import audit, lifecycle_plans
from chalicelib.services.timers import Changes, live_command
from chalicelib.settings import get_settings
from chalicelib.store.desktops import DesktopStore

log = logging.getLogger("broker.agents")
desktops = DesktopStore()

AGENT_ROLE = "Agent"
REGISTRATION_PATH = "/etc/vdi-broker-agent/registration.json"
REFUSED = "Registration refused: unknown desktop, or a wrong, expired or already used registration token"
NOT_AN_AGENT = "Missing, unknown or revoked agent token"
EVENT_ATTEMPTS = 4
# The command each session state satisfies (the agent did what it was asked).
_SATISFIED_BY = {"logout": sessions.LOGGED_OUT, "lock": sessions.LOCKED, "disconnect": sessions.DISCONNECTED}
_NEEDS_PLANS = frozenset({sessions.DISCONNECT, sessions.IDLE_EVENT, sessions.LOGOUT})


# ------------------------------------------------------------------------------------------ tokens


def new_token(tenant_id: int, desktop_id: int) -> str:
    return f"{tenant_id}.{desktop_id}.{secrets.token_urlsafe(32)}"


def new_registration(desktop: Desktop, now: float | None = None) -> tuple[Desktop, str]:
    """A fresh registration token for the desktop, and the desktop holding its hash and expiry (the caller
    saves it). For a desktop the broker builds, `now` is when its record is reserved, moments before the
    instance is requested; the build then has at most BROKER_BUILD_TIMEOUT_SECONDS of the lifetime."""
    token = new_token(desktop.tenant_id, desktop.id)
    issued = clock.time() if now is None else now
    return replace(desktop, registration_hash=token_hash(token),
                   registration_expires_at=issued + get_settings().agent_registration_seconds), token


def _registration_expires_at(desktop: Desktop) -> float | None:
    """When the pending registration token expires. One issued before expiry existed counts from the
    desktop record's creation."""
    expires = desktop.registration_expires_at
    if isinstance(expires, int | float):
        return float(expires)
    created = epoch_of(desktop.created)
    return None if created is None else created + get_settings().agent_registration_seconds


def _custody(desktop: Desktop) -> str:
    return custody(desktop.assigned_user_id, desktop.last_offered)


def _with_tokens(desktop: Desktop, tokens: AgentTokens | None) -> Desktop:
    """The desktop keeping `tokens` (None: none, its agent token stops working), never the legacy hash."""
    return replace(desktop, agent_tokens=None if tokens is None else tokens.as_doc(), agent_token_hash=None)


def user_data_for(desktop: Desktop, token: str) -> str:
    """Cloud-init user data that leaves the registration for the agent in a root-only file.

    User data, not metadata: project members see an instance's metadata in `openstack server show`,
    while user data is returned only to the instance itself (and to cloud admins). Either way the
    token is good for one registration only (docs/agent-protocol.md)."""
    registration: dict[str, Any] = {"tenant_id": desktop.tenant_id, "desktop_id": desktop.id,
                                    "registration_token": token}
    public_url = get_settings().public_url
    if public_url:
        registration["broker_url"] = public_url
    config = {"write_files": [{"path": REGISTRATION_PATH, "permissions": "0600", "owner": "root:root",
                               "content": json.dumps(registration)}]}
    return "#cloud-config\n" + json.dumps(config)  # YAML is a superset of JSON


# ------------------------------------------------------------------------------------ registration


def _registration_problem(desktop: Desktop | None, body: AgentRegister, now: float) -> str | None:
    if desktop is None:
        return "no such desktop"
    if desktop.lifecycle == DesktopLifecycle.DELETED:
        return "the desktop is deleted"
    if not desktop.instance_id or desktop.instance_id.lower() != body.instance_uuid.lower():
        return "the instance UUID is not the desktop's"
    if not desktop.registration_hash:
        return "no registration token is pending (already used?)"
    if not same_hash(desktop.registration_hash, body.registration_token):
        return "wrong registration token"
    if registration_expired(_registration_expires_at(desktop), now):
        return "the registration token expired; an administrator can issue a new one"
    return None


def _refused(tenant_id: int, desktop: Desktop | None, problem: str, source_ip: str | None,
             instance_uuid: str) -> Unauthorized:
    """The one 401 of every refused registration, audited when it names a desktop. Unauthenticated: the
    one place to bound how many such events a caller can write into a tenant's log."""
    if desktop is not None:
        audit.record_unauthenticated(tenant_id, "agent.register_refused",
                                     f"Agent registration refused: {problem}", pool_id=desktop.pool_id,
                                     desktop_id=desktop.id,
                                     details={"source_ip": source_ip, "instance_uuid": instance_uuid})
    return Unauthorized(REFUSED)


def register(body: AgentRegister, source_ip: str | None = None, now: float | None = None) -> dict[str, Any]:
    """Exchange a desktop's one-time registration token for its agent token. `now`: the clock (tests)."""
    parsed = parse_token(body.registration_token)
    if parsed is None:
        raise Unauthorized(REFUSED)
    tenant_id, desktop_id = parsed
    settings = get_settings()
    for _ in range(3):
        desktop = desktops.find(tenant_id, desktop_id)
        at = clock.time() if now is None else now
        problem = _registration_problem(desktop, body, at)
        if problem is not None:
            raise _refused(tenant_id, desktop, problem, source_ip, body.instance_uuid)
        assert desktop is not None
        token = new_token(tenant_id, desktop_id)
        desktop = replace(_with_tokens(desktop, AgentTokens.issued(token, _custody(desktop))),
                          registration_hash=None, registration_expires_at=None, agent_seen_at=at,
                          agent={"registered_at": utc_iso(at), "hostname": body.hostname,
                                 "version": body.agent_version, "os": body.os, "source_ip": source_ip})
        try:
            Changes(desktop, at).save()
        except Conflict:
            continue  # changed meanwhile (maybe by the same token's other registration): check again
        audit.record(tenant_id, "agent.registered", f"Agent of desktop '{desktop.name}' registered",
                     pool_id=desktop.pool_id, desktop_id=desktop_id,
                     details={"hostname": body.hostname, "version": body.agent_version,
                              "source_ip": source_ip})
        return {"desktop_id": desktop_id, "agent_token": token,
                "heartbeat_seconds": settings.agent_heartbeat_seconds,
                "agent_window_seconds": settings.agent_window_seconds}
    raise ServiceUnavailable("The desktop is busy; register again", retry_after=2)


def issue_registration(caller: Caller, desktop_id: int) -> tuple[Desktop, str]:
    """An admin's new registration token (e.g. for a desktop the broker did not create, or an agent
    that lost its token); the desktop's current agent token stops working."""
    desktop = desktops.get(caller.tenant_id, desktop_id)
    if desktop.lifecycle == DesktopLifecycle.DELETED:
        raise Conflict(f"Desktop {desktop_id} is deleted")
    desktop, token = new_registration(desktop)
    changes = Changes(_with_tokens(desktop, None), clock.time())
    try:
        changes.save()
    except Conflict as error:
        raise Conflict(f"Desktop {desktop_id} was changed by someone else; try again") from error
    audit.record(caller.tenant_id, "agent.registration_issued",
                 f"New agent registration token for desktop '{desktop.name}'", user=caller.login,
                 pool_id=desktop.pool_id, desktop_id=desktop_id)
    return changes.desktop, token


# ---------------------------------------------------------------------------------- authentication


def authenticate(authorization: str | None) -> Caller:
    """The desktop an agent token belongs to (one consistent GetItem), as a Caller of its tenant. The
    token is the current one, or the one a rotation offered (docs/agent-protocol.md)."""
    token = (authorization or "").strip()
    if token[:7].lower() == "bearer ":
        token = token[7:].strip()
    parsed = parse_token(token)
    if parsed is None:
        raise Unauthorized(NOT_AN_AGENT)
    tenant_id, desktop_id = parsed
    desktop = _desktop_of(tenant_id, desktop_id, token)
    return Caller(tenant_id=tenant_id, user_id=0, login=f"agent:{desktop_id}", role=AGENT_ROLE,
                  extra={"desktop": desktop, "token": token})


def _desktop_of(tenant_id: int, desktop_id: int, token: str) -> Desktop:
    """The desktop, read consistently, if `token` is one of its usable agent tokens; else 401."""
    desktop = desktops.find(tenant_id, desktop_id)
    if desktop is None or desktop.lifecycle == DesktopLifecycle.DELETED:
        raise Unauthorized(NOT_AN_AGENT)
    presented = desktop.tokens.presented(token)
    if presented is Presented.RETIRED:
        _retired_token_used(desktop)
    if presented not in (Presented.CURRENT, Presented.NEXT):
        raise Unauthorized(NOT_AN_AGENT)
    return desktop


def _retired_token_used(desktop: Desktop) -> None:
    """A token a rotation replaced is used after the agent took the new one: a copy is in other hands (or
    the agent's state file was restored from a backup). Audited once: the retired hash is then dropped,
    so a caller holding the copy cannot fill the log."""
    now = clock.time()
    tokens = desktop.tokens
    changes = Changes(_with_tokens(desktop, replace(tokens, retired=None)), now)
    changes.audit("agent.retired_token_used", f"'{desktop.name}': an agent token replaced at a change of "
                  "assignment was used again; if the agent stopped, issue a new registration",
                  details={"custody": tokens.custody})
    try:
        changes.save()
    except Conflict:
        return  # changed meanwhile: the next use is audited instead
    changes.announce()


# ----------------------------------------------------------------------------------------- events


def _seen_write_seconds() -> float:
    """Write `agent_seen_at` at most this often when nothing else changes (heartbeats are cheap)."""
    return max(1.0, min(20.0, get_settings().agent_window_seconds / 4))


def _apply(desktop: Desktop, body: AgentEvent, now: float) -> tuple[Changes, bool, bool]:
    """Apply the event to the desktop in memory: (the changes; whether they need writing; whether the
    event changed the session)."""
    changes = Changes(desktop, now)
    dirty = now - float(desktop.agent_seen_at or 0) >= _seen_write_seconds()
    command = desktop.agent_command
    drop_command = False
    if command is not None:
        if body.command_done and command.get("id") == body.command_done:
            drop_command = True
            action = command.get("action")
            changes.audit("agent.command_done", f"'{desktop.name}': the agent reports '{action}' done",
                          details={"command": dict(command)})
        elif live_command(desktop, now) is None:
            drop_command = True
        dirty = dirty or drop_command
    changes.change(agent_seen_at=now, agent_command=None if drop_command else command)
    session = desktop.agent_session
    transition = sessions.apply_event(session, body.event, body.user, body.at, now, desktop.agent_last_event)
    if transition.applied:
        dirty = True
        after = transition.after
        extra: dict[str, Any] = {"session": after.as_doc(),
                                 "agent_last_event": (body.event, transition.event_at)}
        if body.event == sessions.STARTUP:
            extra["agent_started_at"] = utc_iso(now)
        pending = live_command(changes.desktop, now)
        if pending and _SATISFIED_BY.get(str(pending.get("action"))) == after.state:
            extra["agent_command"] = None
        changes.change(**extra)
        details: dict[str, Any] = {"state": after.state, "before": session.state, **body.details}
        if desktop.assigned_user_id is not None:
            details["assigned_user_id"] = desktop.assigned_user_id
        changes.audit(f"session.{body.event}", f"'{desktop.name}': {body.event}"
                      + (f" by {after.user or body.user}" if (after.user or body.user) else ""),
                      user=after.user or body.user, details=details)
        assigned = desktop.assigned_user_id is not None
        if body.event == sessions.LOGIN and assigned:
            # later events then need no look-up
            changes.desktop = lifecycle_plans.remember_assignment(changes.desktop)
        plans = (lifecycle_plans.effective_plans(changes.desktop) if body.event in _NEEDS_PLANS
                 else rules.Plans())
        changes.apply(rules.react(body.event, transition, plans, assigned, now), plans)
    return changes, dirty, transition.applied or body.event == sessions.HEARTBEAT


def _reply(desktop: Desktop, accepted: bool, now: float, new_token: str | None) -> dict[str, Any]:
    session = desktop.agent_session
    command = live_command(desktop, now)
    return {
        "accepted": accepted,
        "session": session.as_doc(),
        "heartbeat_seconds": get_settings().agent_heartbeat_seconds,
        "command": {k: command.get(k) for k in ("id", "action", "reason", "issued_at")} if command else None,
        "agent_token": new_token,
    }


def _rotate(changes: Changes, token: str, dirty: bool) -> tuple[bool, str | None]:
    """Bind the agent's token to the desktop's assignment as it is after this call: begin a rotation (the
    token to offer), offer a pending one again, or complete one. Whether the changes need writing now,
    and the token to offer."""
    desktop = changes.desktop
    tokens = desktop.tokens
    settled, offered = tokens.settle(token, _custody(desktop), secrets.token_urlsafe(32))
    if settled == tokens:
        return dirty, offered  # nothing new to store (a pending offer is derived again, not stored)
    changes.desktop = _with_tokens(desktop, settled)
    if settled.current != tokens.current:
        changes.audit("agent.token_rotated", f"'{desktop.name}': the agent now uses the token of the "
                      "desktop's new assignment; the previous token no longer works",
                      details={"custody": settled.custody})
    return True, offered


def report_event(caller: Caller, body: AgentEvent) -> dict[str, Any]:
    """Apply one session event (or heartbeat) of the caller's desktop; the reply carries any command, and
    a new agent token when the desktop's assignment changed since the agent's token was issued."""
    desktop: Desktop = caller.extra["desktop"]
    token: str = caller.extra["token"]
    for _ in range(EVENT_ATTEMPTS):
        now = clock.time()
        changes, dirty, accepted = _apply(desktop, body, now)
        dirty, new_token = _rotate(changes, token, dirty)
        if not dirty:
            return _reply(changes.desktop, accepted, now, new_token)
        try:
            changes.save()
        except Conflict:
            desktop = _desktop_of(caller.tenant_id, desktop.id, token)  # still this agent's desktop?
            continue
        changes.announce()
        return _reply(changes.desktop, accepted, now, new_token)
    raise ServiceUnavailable("The desktop is busy; send the event again", retry_after=1)
