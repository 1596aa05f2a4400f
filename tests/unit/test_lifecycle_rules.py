"""Release and power-control plans as pure rules (chalicelib/domain/lifecycle.py). No I/O."""

from __future__ import annotations

from chalicelib.clock import utc_iso as iso
from chalicelib.domain import lifecycle as rules
from chalicelib.domain.lifecycle import (
    DesktopState,
    Effect,
    Plans,
    PowerPlan,
    ReleasePlan,
    Step,
    Timer,
    TimerSet,
)
from chalicelib.domain.sessions import Session, Transition, apply_event

NOW = 1_750_000_000.0

SINGLE_USE = ReleasePlan(on_logout="release", on_release=Step("delete"), plan_id=1)
PERSISTENT = ReleasePlan(on_logout="keep", plan_id=2)
TIMERS = ReleasePlan(on_disconnect=Step("logout", 30), on_idle=Step("lock", 10), plan_id=3)
POWER = PowerPlan(on_disconnect=Step("suspend", 60), on_logout=Step("stop", 5), on_release=Step("stop", 0),
                  plan_id=4)


def transition(event: str, before: Session | None = None, user: str | None = "alice") -> Transition:
    session = before or Session("connected", "alice", iso(NOW - 100))
    return apply_event(session, event, user, NOW - 1, NOW, None)


def test_plan_documents_are_read_leniently() -> None:
    plan = ReleasePlan.from_doc({"on_disconnect": {"action": "logout", "after_minutes": 15},
                                 "on_logout": {"action": "release"}, "on_release": {"action": "explode"}}, 9)
    assert plan.on_disconnect == Step("logout", 15) and plan.on_logout == "release"
    assert plan.on_release == Step() and plan.plan_id == 9
    assert ReleasePlan.from_doc({}).on_logout == "keep"
    huge = PowerPlan.from_doc({"on_logout": {"action": "stop", "after_minutes": 10**9}})
    assert huge.on_logout.after_minutes == rules.MAX_MINUTES


def test_single_use_logout_releases_and_the_release_deletes_a_deletable_desktop() -> None:
    reaction = rules.react("logout", transition("logout"), Plans(release=SINGLE_USE), True, NOW)
    assert reaction.effects == (Effect(rules.E_RELEASE, "", "user logged out"),)
    after = rules.after_release(Plans(release=SINGLE_USE), True, iso(NOW), NOW)
    assert [e.kind for e in after.effects] == [rules.E_DELETE]


def test_a_desktop_that_is_not_deletable_is_never_deleted_by_a_plan() -> None:
    after = rules.after_release(Plans(release=SINGLE_USE, power=POWER), False, iso(NOW), NOW)
    assert rules.E_DELETE not in [e.kind for e in after.effects]
    assert [e.kind for e in after.effects] == [rules.E_SKIPPED, rules.E_POWER]  # falls back to power control
    later = Timer(rules.T_RELEASE, "delete", int(NOW), iso(NOW))
    state = DesktopState(Session(), assigned=False, deletable=False, deleted=False, released_at=iso(NOW))
    assert [e.kind for e in rules.fire(later, state)] == [rules.E_SKIPPED]


def test_persistent_logout_keeps_the_desktop_and_applies_the_power_step() -> None:
    reaction = rules.react("logout", transition("logout"), Plans(release=PERSISTENT, power=POWER), True, NOW)
    assert not [e for e in reaction.effects if e.kind == rules.E_RELEASE]
    [timer] = reaction.timers
    assert (timer.kind, timer.action, timer.due_at) == (rules.T_POWER_LOGOUT, "stop", int(NOW) + 300)


def test_disconnect_and_idle_set_timers_and_login_cancels_them() -> None:
    plans = Plans(release=TIMERS, power=POWER)
    disconnect = rules.react("disconnect", transition("disconnect"), plans, True, NOW)
    assert {(t.kind, t.action, t.due_at - int(NOW)) for t in disconnect.timers} == {
        (rules.T_DISCONNECT, "logout", 1800), (rules.T_POWER_DISCONNECT, "suspend", 3600)}
    idle = rules.react("idle", transition("idle"), plans, True, NOW)
    assert [(t.kind, t.action) for t in idle.timers] == [(rules.T_IDLE, "lock")]
    timers = TimerSet()
    timers.apply(disconnect)
    assert timers.next_due == int(NOW) + 1800
    login = rules.react("reconnect", transition("reconnect", Session("disconnected", "alice", iso(NOW - 5))),
                        plans, True, NOW)
    timers.apply(login)
    assert timers.timers == [] and timers.next_due is None


def test_a_step_without_delay_is_an_effect_at_once() -> None:
    plan = ReleasePlan(on_disconnect=Step("release", 0))
    reaction = rules.react("disconnect", transition("disconnect"), Plans(release=plan), True, NOW)
    assert reaction.effects and not reaction.timers


def test_a_timer_fires_only_while_its_episode_lasts() -> None:
    since = iso(NOW - 1800)
    timer = Timer(rules.T_DISCONNECT, "logout", int(NOW), since, 3)
    disconnected = DesktopState(Session("disconnected", "alice", since), True, False, False)
    assert rules.fire(timer, disconnected) == (Effect(rules.E_AGENT, "logout", "disconnect timer of plan 3"),)
    reconnected = DesktopState(Session("connected", "alice", iso(NOW - 60)), True, False, False)
    assert rules.fire(timer, reconnected) == ()
    again = DesktopState(Session("disconnected", "alice", iso(NOW - 10)), True, False, False)
    assert rules.fire(timer, again) == ()  # a later disconnect has its own timer
    deleted = DesktopState(Session("disconnected", "alice", since), True, False, True)
    assert rules.fire(timer, deleted) == ()
    release_timer = Timer(rules.T_POWER_RELEASE, "stop", int(NOW), iso(NOW - 600))
    claimed = DesktopState(Session(), True, False, False, released_at=iso(NOW - 600))
    assert rules.fire(release_timer, claimed) == ()


def test_an_idle_lock_on_a_locked_session_does_nothing() -> None:
    timer = Timer(rules.T_IDLE, "lock", int(NOW), iso(NOW - 600))
    locked = DesktopState(Session("locked", "alice", iso(NOW - 10)), True, False, False)
    assert rules.fire(timer, locked) == ()
    logout = Timer(rules.T_IDLE, "logout", int(NOW), iso(NOW - 600))
    assert rules.fire(logout, locked)


def test_timer_set_keeps_one_per_kind_earliest_first() -> None:
    timers = TimerSet()
    timers.apply(rules.Reaction(timers=(Timer("idle", "lock", 200, "a"),
                                        Timer("power_logout", "stop", 100, "b"))))
    timers.apply(rules.Reaction(timers=(Timer("idle", "logout", 300, "c"),)))
    assert [(t.kind, t.due_at) for t in timers.timers] == [("power_logout", 100), ("idle", 300)]
    assert [t.kind for t in timers.pop_due(150)] == ["power_logout"]
    assert timers.next_due == 300
    assert TimerSet.from_doc(timers.as_doc()).timers == timers.timers
    assert TimerSet.from_doc([{"kind": "idle"}, "junk"]).timers == []
