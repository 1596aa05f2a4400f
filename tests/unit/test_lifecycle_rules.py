"""Release and power-control plans as pure rules (chalicelib/domain/lifecycle.py). No I/O."""

from __future__ import annotations

from dataclasses import replace

from chalicelib.clock import utc_iso as iso
from chalicelib.domain import lifecycle as rules
from chalicelib.domain.errors import ErrorList, FieldError
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


def test_a_stored_plan_is_read_with_every_step_its_admin_set() -> None:
    release = ReleasePlan.from_doc({"on_disconnect": {"action": "release", "after_minutes": 5},
                                    "on_idle": {"action": "disconnect", "after_minutes": 20},
                                    "on_logout": {"action": "keep"},
                                    "on_release": {"action": "suspend", "after_minutes": 30}}, 6)
    assert release == ReleasePlan(Step("release", 5), Step("disconnect", 20), "keep", Step("suspend", 30), 6)
    power = PowerPlan.from_doc({"on_disconnect": {"action": "suspend", "after_minutes": 1},
                                "on_logout": {"action": "reboot", "after_minutes": 2},
                                "on_release": {"action": "stop", "after_minutes": 3}}, 8)
    assert power == PowerPlan(Step("suspend", 1), Step("reboot", 2), Step("stop", 3), 8)
    assert PowerPlan.from_doc({"on_release": {"action": "delete"}}).on_release == Step()  # not a power action
    assert ReleasePlan.from_doc({"on_idle": {"action": "reboot"}}).on_idle == Step()  # not an idle action


def test_each_timer_a_session_event_sets_belongs_to_that_session_and_its_plan() -> None:
    plans = Plans(release=TIMERS, power=POWER)
    disconnect = transition("disconnect")
    reaction = rules.react("disconnect", disconnect, plans, True, NOW)
    episode = disconnect.after.since
    assert set(reaction.timers) == {Timer(rules.T_DISCONNECT, "logout", int(NOW) + 1800, episode, 3),
                                    Timer(rules.T_POWER_DISCONNECT, "suspend", int(NOW) + 3600, episode, 4)}
    idle = transition("idle")
    assert rules.react("idle", idle, plans, True, NOW).timers == (
        Timer(rules.T_IDLE, "lock", int(NOW) + 600, idle.after.since, 3),)
    logout = transition("logout")
    assert rules.react("logout", logout, plans, True, NOW).timers == (
        Timer(rules.T_POWER_LOGOUT, "stop", int(NOW) + 300, logout.after.since, 4),)


def test_the_steps_after_a_release_belong_to_that_release_and_its_plan() -> None:
    released_at = iso(NOW - 1)
    later = ReleasePlan(on_release=Step("stop", 10), plan_id=5)
    assert rules.after_release(Plans(release=later), True, released_at, NOW).timers == (
        Timer(rules.T_RELEASE, "stop", int(NOW) + 600, released_at, 5),)
    power_later = PowerPlan(on_release=Step("suspend", 15), plan_id=7)
    after = rules.after_release(Plans(release=PERSISTENT, power=power_later), True, released_at, NOW)
    assert after.timers == (Timer(rules.T_POWER_RELEASE, "suspend", int(NOW) + 900, released_at, 7),)
    assert after.cancel == rules.RELEASE_TIMERS
    skipped = rules.after_release(Plans(release=SINGLE_USE), False, released_at, NOW)
    assert skipped.effects == (Effect(rules.E_SKIPPED, "delete",
                                      "the release plan deletes it, but it is not deletable"),)


def test_steps_without_delay_are_the_plans_actions_at_once() -> None:
    at_once = ReleasePlan(on_disconnect=Step("release"), on_idle=Step("logout"), plan_id=1)
    power = PowerPlan(on_disconnect=Step("stop"), plan_id=2)
    disconnect = rules.react("disconnect", transition("disconnect"), Plans(at_once, power), True, NOW)
    assert disconnect.effects == (Effect(rules.E_RELEASE, "release", "disconnected for 0 minute(s)"),
                                  Effect(rules.E_POWER, "stop", "disconnected for 0 minute(s)"))
    logout_agent = ReleasePlan(on_disconnect=Step("logout"))
    assert rules.react("disconnect", transition("disconnect"), Plans(logout_agent), True, NOW).effects == (
        Effect(rules.E_AGENT, "logout", "disconnected for 0 minute(s)"),)
    assert rules.react("idle", transition("idle"), Plans(at_once), True, NOW).effects == (
        Effect(rules.E_AGENT, "logout", "idle for 0 minute(s)"),)
    stop = ReleasePlan(on_release=Step("stop"))
    assert rules.after_release(Plans(stop), True, iso(NOW), NOW).effects == (
        Effect(rules.E_POWER, "stop", "released 0 minute(s) ago"),)
    power_stop = PowerPlan(on_release=Step("stop"))
    assert rules.after_release(Plans(power=power_stop), True, iso(NOW), NOW).effects == (
        Effect(rules.E_POWER, "stop", "released 0 minute(s) ago"),)


def test_a_due_timer_asks_for_its_plans_action_with_a_reason_naming_the_plan() -> None:
    released_at = iso(NOW - 600)
    free = DesktopState(Session(), assigned=False, deletable=True, deleted=False, released_at=released_at)
    idle = DesktopState(Session("idle", "alice", iso(NOW - 600)), True, False, False)
    logged_out = DesktopState(Session("logged_out", None, iso(NOW - 300)), True, False, False)
    release_disconnect = Timer(rules.T_DISCONNECT, "release", int(NOW), iso(NOW - 60), 3)
    disconnected = DesktopState(Session("disconnected", "alice", iso(NOW - 60)), True, False, False)
    cases = [
        (release_disconnect, disconnected, Effect(rules.E_RELEASE, "release", "disconnect timer of plan 3")),
        (Timer(rules.T_IDLE, "disconnect", int(NOW), iso(NOW - 600), 3), idle,
         Effect(rules.E_AGENT, "disconnect", "idle timer of plan 3")),
        (Timer(rules.T_RELEASE, "delete", int(NOW), released_at, 5), free,
         Effect(rules.E_DELETE, "delete", "release timer of plan 5")),
        (Timer(rules.T_RELEASE, "suspend", int(NOW), released_at, 5), free,
         Effect(rules.E_POWER, "suspend", "release timer of plan 5")),
        (Timer(rules.T_POWER_RELEASE, "stop", int(NOW), released_at, 7), free,
         Effect(rules.E_POWER, "stop", "power release timer of plan 7")),
        (Timer(rules.T_POWER_LOGOUT, "reboot", int(NOW), iso(NOW - 300), 7), logged_out,
         Effect(rules.E_POWER, "reboot", "power logout timer of plan 7")),
    ]
    for timer, state, effect in cases:
        assert rules.fire(timer, state) == (effect,), timer
    kept = replace(free, deletable=False)
    assert rules.fire(Timer(rules.T_RELEASE, "delete", int(NOW), released_at, 5), kept) == (
        Effect(rules.E_SKIPPED, "delete", "the release plan deletes it, but it is not deletable"),)


def test_a_power_logout_timer_lapses_when_the_user_logs_in_again() -> None:
    timer = Timer(rules.T_POWER_LOGOUT, "stop", int(NOW), iso(NOW - 300), 7)
    back = DesktopState(Session("connected", "alice", iso(NOW - 300)), True, False, False)
    assert rules.fire(timer, back) == ()
    out_again = DesktopState(Session("logged_out", None, iso(NOW - 10)), True, False, False)
    assert rules.fire(timer, out_again) == ()  # a later logout has its own timer
    assert rules.fire(Timer("unknown kind", "stop", int(NOW), None), out_again) == ()


def test_reactions_add_up_every_cancel_timer_and_effect() -> None:
    one = rules.Reaction(cancel=frozenset({rules.T_IDLE}), timers=(Timer("idle", "lock", 1, "a"),))
    two = rules.Reaction(cancel=frozenset({rules.T_RELEASE}), effects=(Effect(rules.E_POWER, "stop"),))
    assert one + two == rules.Reaction(frozenset({rules.T_IDLE, rules.T_RELEASE}),
                                       (Timer("idle", "lock", 1, "a"),), (Effect(rules.E_POWER, "stop"),))


def test_stored_timers_keep_their_plan_and_order_and_a_damaged_one_is_skipped() -> None:
    docs = [Timer("idle", "lock", 300, "c", 3).as_doc(), {"kind": "idle"},
            Timer("power_logout", "stop", 100, "b", 4).as_doc()]
    assert TimerSet.from_doc(docs).timers == [Timer("power_logout", "stop", 100, "b", 4),
                                              Timer("idle", "lock", 300, "c", 3)]


def test_a_timer_is_due_at_its_due_time() -> None:
    timers = TimerSet([Timer("idle", "lock", 100, "a")])
    assert [t.due_at for t in timers.pop_due(100)] == [100] and timers.timers == []


def test_a_delay_without_an_action_is_refused_naming_its_field() -> None:
    refused = "A delay needs an action other than 'none'"
    errors = ErrorList()
    rules.delay_problems({"on_disconnect": {"action": "none", "after_minutes": 5},
                          "on_idle": {"after_minutes": 3},
                          "on_release": {"action": "stop", "after_minutes": 5},
                          "on_logout": {"after_minutes": 9}}, rules.RELEASE_DELAYED_SECTIONS, errors)
    assert errors.errors == [FieldError("/body/on_disconnect/after_minutes", refused),
                             FieldError("/body/on_idle/after_minutes", refused)]
    fine = ErrorList()
    rules.delay_problems({"on_disconnect": {"action": "none", "after_minutes": 0}, "on_release": None},
                         rules.POWER_DELAYED_SECTIONS, fine)
    assert fine.errors == []


def test_activity_and_a_restart_cancel_the_session_timers_but_not_the_release_ones() -> None:
    plans = Plans(release=TIMERS, power=POWER)
    session_timers = {rules.T_IDLE, rules.T_DISCONNECT, rules.T_POWER_DISCONNECT, rules.T_POWER_LOGOUT}
    for event, before in (("unlock", Session("locked", "alice", iso(NOW - 100))),
                          ("active", Session("idle", "alice", iso(NOW - 100)))):
        reaction = rules.react(event, transition(event, before), plans, True, NOW)
        assert reaction.cancel == frozenset(session_timers), event
    startup = rules.react("startup", transition("startup", Session("disconnected", "alice", iso(NOW - 100))),
                          plans, True, NOW)
    assert startup.cancel == frozenset({rules.T_IDLE, rules.T_DISCONNECT, rules.T_POWER_DISCONNECT})


def test_idle_and_disconnect_cancel_the_earlier_session_timers_whatever_the_plans() -> None:
    idle = rules.react("idle", transition("idle"), Plans(release=TIMERS), True, NOW)
    assert rules.T_IDLE in idle.cancel
    disconnect = rules.react("disconnect", transition("disconnect"), Plans(release=TIMERS), True, NOW)
    assert disconnect.cancel == rules.SESSION_TIMERS
    power_only = rules.react("disconnect", transition("disconnect"), Plans(power=POWER), True, NOW)
    assert [(t.kind, t.action) for t in power_only.timers] == [(rules.T_POWER_DISCONNECT, "suspend")]
    assert power_only.cancel == rules.SESSION_TIMERS


def test_a_logout_applies_the_power_step_at_once_and_cancels_the_session_timers() -> None:
    stop_at_once = PowerPlan(on_logout=Step("stop"), plan_id=4)
    plans = Plans(release=PERSISTENT, power=stop_at_once)
    logout = rules.react("logout", transition("logout"), plans, True, NOW)
    assert logout.effects == (Effect(rules.E_POWER, "stop", "logged out for 0 minute(s)"),)
    assert logout.cancel == rules.SESSION_TIMERS
    kept = rules.after_release(Plans(release=SINGLE_USE), False, iso(NOW), NOW)
    assert kept.cancel == rules.RELEASE_TIMERS  # a skipped delete still ends the earlier release's timers
