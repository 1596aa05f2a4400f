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
