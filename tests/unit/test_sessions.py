"""The session state machine the agent's events drive (chalicelib/domain/sessions.py). No I/O."""

from __future__ import annotations

import pytest

from chalicelib.clock import utc_iso as iso
from chalicelib.domain import sessions
from chalicelib.domain.sessions import Session, apply_event

NOW = 1_750_000_000.0


def run(*events: tuple[str, str | None, float | None]) -> Session:
    session, last = Session(), None
    for event, user, at in events:
        transition = apply_event(session, event, user, at, NOW, last)
        if transition.applied:
            last = (event, transition.event_at)
        session = transition.after
    return session


@pytest.mark.parametrize(
    ("events", "state"),
    [
        ([("login", "alice", NOW - 50)], "connected"),
        ([("login", "alice", NOW - 50), ("lock", None, NOW - 40)], "locked"),
        ([("login", "alice", NOW - 50), ("lock", None, NOW - 40), ("unlock", None, NOW - 30)], "connected"),
        ([("login", "alice", NOW - 50), ("idle", None, NOW - 40)], "idle"),
        ([("login", "alice", NOW - 50), ("idle", None, NOW - 40), ("active", None, NOW - 30)], "connected"),
        ([("login", "alice", NOW - 50), ("disconnect", None, NOW - 40)], "disconnected"),
        ([("login", "alice", NOW - 50), ("disconnect", None, NOW - 40), ("reconnect", None, NOW - 30)],
         "connected"),
        ([("login", "alice", NOW - 50), ("logout", "alice", NOW - 40)], "logged_out"),
        ([("login", "alice", NOW - 50), ("startup", None, NOW - 40)], "logged_out"),
    ],
)
def test_each_event_leads_to_its_state(events: list, state: str) -> None:
    assert run(*events).state == state


def test_the_user_stays_with_the_session_until_logout() -> None:
    session = run(("login", "alice", NOW - 50), ("disconnect", None, NOW - 40), ("reconnect", None, NOW - 30))
    assert session.user == "alice" and session.since == iso(NOW - 30)
    assert session.logged_in
    after = run(("login", "alice", NOW - 50), ("logout", "alice", NOW - 10))
    assert after.user == "alice" and not after.logged_in
    assert run(("login", "alice", NOW - 50), ("startup", None, NOW - 10)).user is None


def test_an_older_event_than_the_last_applied_changes_nothing() -> None:
    session = run(("login", "alice", NOW - 50), ("logout", "alice", NOW - 10), ("disconnect", None, NOW - 30))
    assert session.state == "logged_out"


def test_the_same_event_sent_twice_is_applied_once() -> None:
    first = apply_event(Session(), "login", "alice", NOW - 5, NOW, None)
    again = apply_event(first.after, "login", "alice", NOW - 5, NOW, ("login", first.event_at))
    assert first.applied and not again.applied


def test_a_heartbeat_changes_no_state_and_a_future_time_is_taken_as_now() -> None:
    beat = apply_event(Session("connected", "alice", iso(NOW - 5)), "heartbeat", None, None, NOW, None)
    assert not beat.applied and beat.after.state == "connected"
    future = apply_event(Session(), "login", "alice", NOW + 3600, NOW, None)
    assert future.event_at == NOW
    assert apply_event(Session(), "login", "alice", None, NOW, None).event_at == NOW


def test_unknown_events_and_broken_documents() -> None:
    with pytest.raises(ValueError):
        apply_event(Session(), "explode", None, None, NOW, None)
    assert Session.from_doc({"state": "weird"}) == Session()
    assert Session.from_doc(None) == Session()
    assert Session.from_doc({"state": "idle", "user": "bob", "since": "x"}).state == "idle"


def test_agent_running_window() -> None:
    assert sessions.agent_running(NOW - 100, NOW, 180)
    assert not sessions.agent_running(NOW - 200, NOW, 180)
    assert not sessions.agent_running(None, NOW, 180)


def test_an_agent_seen_exactly_the_window_ago_still_runs() -> None:
    assert sessions.agent_running(NOW - 180, NOW, 180)
    assert not sessions.agent_running(NOW - 180.5, NOW, 180)


def test_an_event_at_the_same_second_as_the_last_one_of_another_type_is_applied() -> None:
    assert run(("login", "alice", NOW - 50), ("lock", None, NOW - 50)).state == "locked"


def test_the_same_event_later_is_applied_again() -> None:
    """A second login (another user, after a missed logout) is news, not a retry."""
    session = run(("login", "alice", NOW - 50), ("login", "bob", NOW - 40))
    assert (session.user, session.since) == ("bob", iso(NOW - 40))


def test_a_transition_carries_the_session_before_and_after_and_the_time_taken() -> None:
    connected = Session("connected", "alice", iso(NOW - 50))
    beat = apply_event(connected, "heartbeat", None, NOW - 5, NOW, ("login", NOW - 50))
    assert beat == sessions.Transition(False, connected, connected, NOW - 5) and not beat.changed
    stale = apply_event(connected, "lock", None, NOW - 60, NOW, ("login", NOW - 50))
    assert stale == sessions.Transition(False, connected, connected, NOW - 60) and not stale.changed
    login = apply_event(Session(), "login", "alice", NOW - 5, NOW, None)
    assert login.before == Session() and login.changed


def test_logging_out_or_starting_names_the_time_and_only_a_logout_its_user() -> None:
    connected = Session("connected", "alice", iso(NOW - 50))
    assert apply_event(connected, "logout", "alice", NOW - 5, NOW, None).after == Session(
        "logged_out", "alice", iso(NOW - 5))
    assert apply_event(connected, "startup", "alice", NOW - 5, NOW, None).after == Session(
        "logged_out", None, iso(NOW - 5))


def test_an_agent_clock_up_to_the_allowed_skew_ahead_is_believed() -> None:
    skew = sessions.MAX_CLOCK_SKEW_SECONDS
    assert sessions.event_time(NOW + skew, NOW) == NOW + skew
    assert sessions.event_time(NOW + skew + 1, NOW) == NOW


def test_an_unknown_event_is_named_in_the_error() -> None:
    with pytest.raises(ValueError, match="unknown event 'explode'"):
        apply_event(Session(), "explode", None, None, NOW, None)


def test_a_session_is_stored_with_its_state_user_and_time() -> None:
    session = Session("idle", "bob", iso(NOW))
    assert session.as_doc() == {"state": "idle", "user": "bob", "since": iso(NOW)}
    assert Session.from_doc(session.as_doc()) == session
