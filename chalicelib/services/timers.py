"""Plan timers and effects: what the release and power-control plans do, carried out on the desktop.

Both the agent's events (services/agents.py) and the timer job use `Changes`: the effects of a
reaction are applied to the desktop record in memory, the record is written once with its version
check, and only after that write succeeded are the queue messages sent and the audit events recorded.
A concurrent writer (a claim, another event, a second timer run) makes the write fail, and nothing
has happened: the event is retried on a fresh read, the timer is left for the next run. So a timer
fires once however many runs race.

Timers live on the desktop (`Desktop.timers`, at most one per kind, see chalicelib/domain/lifecycle.py)
and the earliest one is indexed (`due_at`, and the store's sparse `by_due` index): the job reads only
what is due, never scans.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field, replace
from typing import Any

from chalicelib import clock
from chalicelib.clock import epoch_of, utc_iso
from chalicelib.domain import lifecycle as rules
from chalicelib.domain import messages
from chalicelib.domain.desktop_lifecycle import DesktopLifecycle
from chalicelib.domain.entities.desktops import Desktop
from chalicelib.domain.entities.users import User
from chalicelib.domain.errors import Conflict
from chalicelib.services import action_requests, audit, lifecycle_plans
from chalicelib.store import stores
from chalicelib.store.claims import DesktopClaims, take_back
from chalicelib.store.desktops import DesktopStore

log = logging.getLogger("broker.timers")
desktops = DesktopStore()
claims = DesktopClaims()
RELEASED_EVENT = "desktop.released"

AGENT_COMMAND_TTL_SECONDS = 15 * 60  # a command no agent picked up by then is dropped
BATCH = 100


@dataclass
class Changes:
    """What one reaction does: applied to the desktop now (`desktop`: as changed so far, then as written),
    announced (queue, audit) after the write."""

    desktop: Desktop
    now: float
    messages: list[dict[str, Any]] = field(default_factory=list)
    audits: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    written: bool = False
    released_from: tuple[int, User | None] | None = None  # (user id, user as read) after a release

    def audit(self, event_type: str, message: str, **kwargs: Any) -> None:
        self.audits.append((event_type, message, kwargs))

    # -- timers

    def timers(self) -> rules.TimerSet:
        return rules.TimerSet.from_doc(self.desktop.timers)

    def store_timers(self, timers: rules.TimerSet) -> None:
        self.desktop = replace(self.desktop, timers=tuple(timers.as_doc()), due_at=timers.next_due)

    def change(self, **fields: Any) -> None:
        self.desktop = replace(self.desktop, **fields)

    # -- reactions

    def apply(self, reaction: rules.Reaction, plans: rules.Plans | None = None) -> None:
        timers = self.timers()
        timers.apply(reaction)
        self.store_timers(timers)
        for timer in reaction.timers:
            self.audit("lifecycle.timer_set",
                       f"'{self.desktop.name}': {timer.action} at {utc_iso(timer.due_at)} "
                       f"({timer.kind.replace('_', ' ')})", details=timer.as_doc())
        for effect in reaction.effects:
            self.effect(effect, plans)

    def effect(self, effect: rules.Effect, plans: rules.Plans | None) -> None:
        desktop = self.desktop
        if effect.kind == rules.E_AGENT:
            command = {"id": uuid.uuid4().hex[:16], "action": effect.action, "reason": effect.reason,
                       "issued_at": utc_iso(self.now)}
            self.change(agent_command=command)
            self.audit("lifecycle.agent_command", f"'{desktop.name}': asked the agent to {effect.action} the "
                       f"session ({effect.reason})", user=_session_user(desktop), details=command)
        elif effect.kind == rules.E_RELEASE:
            self.release(effect.reason, plans)
        elif effect.kind == rules.E_POWER:
            if not desktop.instance_id:
                return
            self.desktop, message = action_requests.mark_requested(
                desktop, effect.action, f"plan: {effect.reason}", utc_iso(self.now))
            self.messages.append(message)
            self.audit("desktop.power_requested", f"{effect.action} of '{desktop.name}' requested by a plan "
                       f"({effect.reason})")
        elif effect.kind == rules.E_DELETE:
            if not desktop.deletable:  # checked again by the worker too
                self.audit("lifecycle.delete_skipped", f"'{desktop.name}' is not deletable; not deleted")
                return
            # Out of the offer at once: a single-use desktop must never be claimed again.
            self.desktop, message = action_requests.mark_requested(
                replace(desktop, available=False), "delete", f"plan: {effect.reason}", utc_iso(self.now))
            self.messages.append(message)
            self.audit("desktop.delete_requested", f"Deletion of '{desktop.name}' requested by a plan "
                       f"({effect.reason})")
        elif effect.kind == rules.E_SKIPPED:
            self.audit("lifecycle.skipped", f"'{desktop.name}': {effect.action} skipped: {effect.reason}")

    def release(self, reason: str, plans: rules.Plans | None, *, event: str = RELEASED_EVENT,
                by: str | None = None, holder: User | None = None) -> None:
        """The release (services/releases.py): the holder taken back (`take_back`), the user's `held` set
        updated when the record is written, a pool check and an audit event after it, and the release's
        own steps. `by`: who asked (the audit event's user); `holder`: the user as the caller read it."""
        if self.desktop.assigned_user_id is None:
            return
        if plans is None:
            plans = lifecycle_plans.effective_plans(self.desktop)  # while the desktop is still the user's
        released_at = utc_iso(self.now)
        desktop, user_id = take_back(self.desktop, released_at)
        self.desktop = replace(desktop, release_handled=released_at)
        self.released_from = (user_id, holder) if user_id is not None else None
        self.audit(event, f"Desktop '{desktop.name}' released: {reason}", user=by,
                   details={"user_id": user_id})
        if desktop.pool_id:
            self.messages.append(messages.pool_check(desktop.tenant_id, desktop.pool_id, "desktop released"))
        self.apply(rules.after_release(plans, desktop.deletable, released_at, self.now), plans)

    # -- writing

    def save(self) -> None:
        """Write the desktop under the version it was read at; Conflict if it changed since it was read.
        After a release, the user's `held` set is updated in the same transaction."""
        if self.released_from is not None:
            user_id, holder = self.released_from
            self.desktop = claims.save_released(self.desktop, user_id, holder)
        else:
            self.desktop = desktops.save(self.desktop)
        self.written = True

    def announce(self) -> None:
        """After the write: queue the messages, record the audit events (never fails the caller)."""
        desktop = self.desktop
        for message in self.messages:
            try:
                stores.queue.send(message)
            except Exception:  # the state is written; an admin sees the pending action and can retry
                log.exception("desktop %s: could not queue %s", desktop.id, message.get("type"))
                audit.record(desktop.tenant_id, "lifecycle.error",
                             f"'{desktop.name}': could not queue {message.get('type')}",
                             pool_id=desktop.pool_id, desktop_id=desktop.id, details=message)
        for event_type, message_text, kwargs in self.audits:
            kwargs.setdefault("pool_id", desktop.pool_id)
            audit.record(desktop.tenant_id, event_type, message_text, desktop_id=desktop.id, **kwargs)


def _session_user(desktop: Desktop) -> str | None:
    return desktop.agent_session.user


def state_of(desktop: Desktop) -> rules.DesktopState:
    return rules.DesktopState(
        session=desktop.agent_session,
        assigned=desktop.assigned_user_id is not None,
        deletable=desktop.deletable,
        deleted=desktop.lifecycle == DesktopLifecycle.DELETED,
        released_at=desktop.released_at,
    )


def live_command(desktop: Desktop, now: float) -> dict[str, Any] | None:
    command = desktop.agent_command
    if command is None:
        return None
    issued = epoch_of(command.get("issued_at"))
    return dict(command) if issued is not None and now - issued <= AGENT_COMMAND_TTL_SECONDS else None


# ------------------------------------------------------------------------------------------ the job


def apply_due(desktop: Desktop, now: float) -> int:
    """Fire the desktop's due timers in one conditional write. Returns how many fired (0 if another run
    or writer got there first)."""
    changes = Changes(desktop, now)
    timers = changes.timers()
    due = timers.pop_due(now)
    state = state_of(changes.desktop)
    changes.store_timers(timers)
    plans: rules.Plans | None = None
    fired = 0
    for timer in due:
        effects = rules.fire(timer, state)
        label = timer.kind.replace("_", " ")
        if not effects:
            changes.audit("lifecycle.timer_dropped", f"'{desktop.name}': {label} timer no longer applies",
                          details=timer.as_doc())
            continue
        fired += 1
        changes.audit("lifecycle.timer_fired", f"'{desktop.name}': {label} timer fired: {timer.action}",
                      details=timer.as_doc())
        for effect in effects:
            if effect.kind == rules.E_RELEASE and plans is None:
                plans = lifecycle_plans.effective_plans(changes.desktop)
            changes.effect(effect, plans)
        state = state_of(changes.desktop)
    try:
        changes.save()
    except Conflict:
        log.info("desktop %s changed while its timers fired; the next run looks again", desktop.id)
        return 0
    changes.announce()
    return fired


def run_due(now: float | None = None) -> int:
    """Apply every timer that is due (the scheduled job). Idempotent; safe to run twice at once."""
    now = clock.time() if now is None else now
    fired = 0
    for desktop in desktops.due(now, BATCH):
        if desktop.due_at is None or desktop.due_at > now:
            continue  # the index lagged behind a change: nothing due
        try:
            fired += apply_due(desktop, now)
        except Exception:  # one bad desktop must not stop the others
            log.exception("desktop %s: applying its timers failed", desktop.id)
            audit.record(desktop.tenant_id, "lifecycle.error",
                         f"'{desktop.name}': applying its plan timers failed", desktop_id=desktop.id)
    return fired
