"""Release and power-control plans: what happens to a desktop when its user disconnects, goes idle,
logs out, and when the desktop is released. Pure rules: the services feed them plain facts and carry
out the effects they return (docs/lifecycle.md).

A plan's step is an action and a delay in minutes. A step with no delay is an effect at once; a step
with a delay becomes a timer, stored on the desktop and applied by the timer job when it is due.
Every timer belongs to an *episode* (the session's `since`, or the release's `released_at`) and is
checked again when it fires: a timer whose episode is over (the user reconnected, the desktop was
claimed again) does nothing, even if an event that should have cancelled it was lost.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from chalicelib.domain.errors import ErrorList
from chalicelib.domain.sessions import (
    ACTIVE_EVENT,
    DISCONNECT,
    DISCONNECTED,
    IDLE,
    IDLE_EVENT,
    LOCKED,
    LOGGED_OUT,
    LOGIN,
    LOGOUT,
    RECONNECT,
    STARTUP,
    UNLOCK,
    Session,
    Transition,
)

if TYPE_CHECKING:
    from chalicelib.domain.entities.plans import PowerControlPlanEntity, ReleasePlanEntity

NONE = "none"

# Release plan choices (the Leostream release plan's sections).
DISCONNECT_ACTIONS = (NONE, "logout", "release")  # when the user disconnects, after N minutes
IDLE_ACTIONS = (NONE, "lock", "disconnect", "logout")  # when the session is idle, after N minutes
LOGOUT_ACTIONS = ("keep", "release")  # when the user logs out: keep it assigned, or release it
RELEASE_ACTIONS = (NONE, "stop", "suspend", "delete")  # when the desktop is released, after N minutes
# Power-control plan choices, on disconnect, logout and release, after N minutes.
POWER_ACTIONS = (NONE, "suspend", "stop", "reboot")
MAX_MINUTES = 7 * 24 * 60
# The sections of each plan kind whose steps carry a delay (a release plan's on_logout has none).
RELEASE_DELAYED_SECTIONS = ("on_disconnect", "on_idle", "on_release")
POWER_DELAYED_SECTIONS = ("on_disconnect", "on_logout", "on_release")


def delay_problems(doc: dict[str, Any], sections: tuple[str, ...], errors: ErrorList) -> None:
    """What a plan's schema cannot say: a delay only means something with an action."""
    for section in sections:
        step = doc.get(section) or {}
        if step.get("action", NONE) == NONE and int(step.get("after_minutes") or 0):
            errors.add(f"/body/{section}/after_minutes", "A delay needs an action other than 'none'")

# Timer kinds (at most one of each per desktop).
T_DISCONNECT = "disconnect"  # release plan, on disconnect: logout or release
T_IDLE = "idle"  # release plan, on idle: lock, disconnect or logout
T_RELEASE = "release"  # release plan, when released: stop, suspend or delete
T_POWER_DISCONNECT = "power_disconnect"
T_POWER_LOGOUT = "power_logout"
T_POWER_RELEASE = "power_release"
SESSION_TIMERS = frozenset({T_DISCONNECT, T_IDLE, T_POWER_DISCONNECT, T_POWER_LOGOUT})
RELEASE_TIMERS = frozenset({T_RELEASE, T_POWER_RELEASE})
ALL_TIMERS = SESSION_TIMERS | RELEASE_TIMERS

# Effect kinds.
E_AGENT = "agent"  # ask the desktop's agent to log out, lock or disconnect the session
E_RELEASE = "release"  # unassign the desktop (it goes back to the pool)
E_POWER = "power"  # stop, suspend or reboot the instance (through the worker)
E_DELETE = "delete"  # terminate the instance and its volume (through the worker), if deletable
E_SKIPPED = "skipped"  # a plan asked for something that may not be done (audited only)


@dataclass(frozen=True)
class Step:
    action: str = NONE
    after_minutes: int = 0

    @classmethod
    def from_doc(cls, doc: Any, allowed: tuple[str, ...]) -> Step:
        if not isinstance(doc, dict):
            return cls()
        action = str(doc.get("action") or NONE)
        minutes = int(doc.get("after_minutes") or 0)
        if action not in allowed:
            action = NONE
        return cls(action, max(0, min(minutes, MAX_MINUTES)))

    @property
    def active(self) -> bool:
        return self.action != NONE


@dataclass(frozen=True)
class ReleasePlan:
    on_disconnect: Step = Step()
    on_idle: Step = Step()
    on_logout: str = "keep"
    on_release: Step = Step()
    plan_id: int = 0

    @classmethod
    def from_doc(cls, doc: dict[str, Any], plan_id: int = 0) -> ReleasePlan:
        on_logout = doc.get("on_logout")
        logout = on_logout.get("action") if isinstance(on_logout, dict) else None
        return cls(
            on_disconnect=Step.from_doc(doc.get("on_disconnect"), DISCONNECT_ACTIONS),
            on_idle=Step.from_doc(doc.get("on_idle"), IDLE_ACTIONS),
            on_logout=logout if logout in LOGOUT_ACTIONS else "keep",
            on_release=Step.from_doc(doc.get("on_release"), RELEASE_ACTIONS),
            plan_id=plan_id,
        )

    @classmethod
    def from_plan(cls, plan: ReleasePlanEntity) -> ReleasePlan:
        return cls.from_doc(plan.steps(), plan.id)


@dataclass(frozen=True)
class PowerPlan:
    on_disconnect: Step = Step()
    on_logout: Step = Step()
    on_release: Step = Step()
    plan_id: int = 0

    @classmethod
    def from_doc(cls, doc: dict[str, Any], plan_id: int = 0) -> PowerPlan:
        return cls(
            on_disconnect=Step.from_doc(doc.get("on_disconnect"), POWER_ACTIONS),
            on_logout=Step.from_doc(doc.get("on_logout"), POWER_ACTIONS),
            on_release=Step.from_doc(doc.get("on_release"), POWER_ACTIONS),
            plan_id=plan_id,
        )

    @classmethod
    def from_plan(cls, plan: PowerControlPlanEntity) -> PowerPlan:
        return cls.from_doc(plan.steps(), plan.id)


@dataclass(frozen=True)
class Plans:
    """The plans of the pool assignment through which a desktop was assigned (none: nothing happens)."""

    release: ReleasePlan | None = None
    power: PowerPlan | None = None

    @property
    def empty(self) -> bool:
        return self.release is None and self.power is None


@dataclass(frozen=True)
class Timer:
    kind: str
    action: str
    due_at: int
    episode: str | None
    plan_id: int = 0

    def as_doc(self) -> dict[str, Any]:
        return {"kind": self.kind, "action": self.action, "due_at": self.due_at, "episode": self.episode,
                "plan_id": self.plan_id}

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Timer:
        return cls(kind=str(doc["kind"]), action=str(doc["action"]), due_at=int(doc["due_at"]),
                   episode=doc.get("episode"), plan_id=int(doc.get("plan_id") or 0))


@dataclass(frozen=True)
class Effect:
    kind: str
    action: str = ""
    reason: str = ""


@dataclass(frozen=True)
class Reaction:
    cancel: frozenset[str] = frozenset()
    timers: tuple[Timer, ...] = ()
    effects: tuple[Effect, ...] = ()

    def __add__(self, other: Reaction) -> Reaction:
        return Reaction(self.cancel | other.cancel, self.timers + other.timers, self.effects + other.effects)


@dataclass(frozen=True)
class DesktopState:
    """What a timer checks when it fires."""

    session: Session
    assigned: bool
    deletable: bool
    deleted: bool
    released_at: str | None = None


def _step(step: Step, kind: str, effect_kind: str, episode: str | None, now: float, plan_id: int,
          reason: str) -> Reaction:
    """A step at once (an effect) or later (a timer)."""
    if not step.active:
        return Reaction()
    if step.after_minutes == 0:
        return Reaction(effects=(Effect(effect_kind, step.action, reason),))
    return Reaction(timers=(Timer(kind, step.action, int(now) + step.after_minutes * 60, episode, plan_id),))


def _release_step_effect(action: str) -> str:
    return E_DELETE if action == "delete" else E_POWER


def _disconnect_effect(action: str) -> str:
    return E_RELEASE if action == "release" else E_AGENT


def react(event: str, transition: Transition, plans: Plans, assigned: bool, now: float) -> Reaction:
    """What the plans do about one session event the agent reported (and the broker applied)."""
    if not transition.applied:
        return Reaction()
    episode = transition.after.since
    release, power = plans.release, plans.power
    if event in (LOGIN, RECONNECT):
        # The desktop is in use: nothing pending of the old session or of a release stays.
        return Reaction(cancel=ALL_TIMERS)
    if event in (UNLOCK, ACTIVE_EVENT):
        return Reaction(cancel=frozenset({T_IDLE, T_DISCONNECT, T_POWER_DISCONNECT, T_POWER_LOGOUT}))
    if event == STARTUP:
        return Reaction(cancel=frozenset({T_IDLE, T_DISCONNECT, T_POWER_DISCONNECT}))
    if event == IDLE_EVENT:
        reaction = Reaction(cancel=frozenset({T_IDLE}))
        if release is not None:
            reaction += _step(release.on_idle, T_IDLE, E_AGENT, episode, now, release.plan_id,
                              f"idle for {release.on_idle.after_minutes} minute(s)")
        return reaction
    if event == DISCONNECT:
        reaction = Reaction(cancel=SESSION_TIMERS)
        if release is not None and release.on_disconnect.active:
            step = release.on_disconnect
            reaction += _step(step, T_DISCONNECT, _disconnect_effect(step.action), episode, now,
                              release.plan_id, f"disconnected for {step.after_minutes} minute(s)")
        if power is not None:
            reaction += _step(power.on_disconnect, T_POWER_DISCONNECT, E_POWER, episode, now, power.plan_id,
                              f"disconnected for {power.on_disconnect.after_minutes} minute(s)")
        return reaction
    if event == LOGOUT:
        reaction = Reaction(cancel=SESSION_TIMERS)
        if release is not None and release.on_logout == "release" and assigned:
            # The release's own steps follow (after_release); the logout's power step does not apply.
            return reaction + Reaction(effects=(Effect(E_RELEASE, "", "user logged out"),))
        if power is not None:
            reaction += _step(power.on_logout, T_POWER_LOGOUT, E_POWER, episode, now, power.plan_id,
                              f"logged out for {power.on_logout.after_minutes} minute(s)")
        return reaction
    return Reaction()  # lock (idle goes on while locked), heartbeat


def after_release(plans: Plans, deletable: bool, released_at: str, now: float) -> Reaction:
    """What follows a release: the release plan's step, else the power-control plan's `on_release`."""
    release, power = plans.release, plans.power
    reaction = Reaction(cancel=RELEASE_TIMERS)
    if release is not None and release.on_release.active:
        step = release.on_release
        if step.action == "delete" and not deletable:
            reaction += Reaction(effects=(Effect(E_SKIPPED, "delete",
                                                 "the release plan deletes it, but it is not deletable"),))
        else:
            return reaction + _step(step, T_RELEASE, _release_step_effect(step.action), released_at, now,
                                    release.plan_id, f"released {step.after_minutes} minute(s) ago")
    if power is not None:
        reaction += _step(power.on_release, T_POWER_RELEASE, E_POWER, released_at, now, power.plan_id,
                          f"released {power.on_release.after_minutes} minute(s) ago")
    return reaction


def still_valid(timer: Timer, state: DesktopState) -> bool:
    """Is the episode the timer belongs to still going on?"""
    if state.deleted:
        return False
    session = state.session
    if timer.kind in (T_DISCONNECT, T_POWER_DISCONNECT):
        return session.state == DISCONNECTED and session.since == timer.episode
    if timer.kind == T_IDLE:
        return session.state in (IDLE, LOCKED)
    if timer.kind == T_POWER_LOGOUT:
        return session.state == LOGGED_OUT and session.since == timer.episode
    if timer.kind in RELEASE_TIMERS:
        return not state.assigned and state.released_at == timer.episode
    return False


def fire(timer: Timer, state: DesktopState) -> tuple[Effect, ...]:
    """The effects of a due timer (none when its episode is over)."""
    if not still_valid(timer, state):
        return ()
    reason = f"{timer.kind.replace('_', ' ')} timer of plan {timer.plan_id}"
    if timer.kind == T_DISCONNECT:
        return (Effect(_disconnect_effect(timer.action), timer.action, reason),)
    if timer.kind == T_IDLE:
        if timer.action == "lock" and state.session.state == LOCKED:
            return ()
        return (Effect(E_AGENT, timer.action, reason),)
    if timer.kind == T_RELEASE:
        if timer.action == "delete" and not state.deletable:
            return (Effect(E_SKIPPED, "delete", "the release plan deletes it, but it is not deletable"),)
        return (Effect(_release_step_effect(timer.action), timer.action, reason),)
    return (Effect(E_POWER, timer.action, reason),)


@dataclass
class TimerSet:
    """The timers pending on one desktop: at most one of each kind, earliest first."""

    timers: list[Timer] = field(default_factory=list)

    @classmethod
    def from_doc(cls, docs: Any) -> TimerSet:
        timers = []
        for doc in docs or []:
            try:
                timers.append(Timer.from_doc(doc))
            except (KeyError, TypeError, ValueError):
                continue
        return cls(sorted(timers, key=lambda t: t.due_at))

    def as_doc(self) -> list[dict[str, Any]]:
        return [t.as_doc() for t in self.timers]

    def apply(self, reaction: Reaction) -> None:
        new_kinds = {t.kind for t in reaction.timers}
        kept = [t for t in self.timers if t.kind not in reaction.cancel and t.kind not in new_kinds]
        self.timers = sorted([*kept, *reaction.timers], key=lambda t: t.due_at)

    def pop_due(self, now: float) -> list[Timer]:
        due = [t for t in self.timers if t.due_at <= now]
        self.timers = [t for t in self.timers if t.due_at > now]
        return due

    @property
    def next_due(self) -> int | None:
        return self.timers[0].due_at if self.timers else None
