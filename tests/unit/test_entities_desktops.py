"""The typed desktop (chalicelib/domain/entities/desktops.py): read once with the defaults its readers used
to re-apply, written back with nothing lost and nothing added."""

from __future__ import annotations

from dataclasses import FrozenInstanceError, replace

import pytest

from chalicelib.domain.agent_tokens import AgentTokens
from chalicelib.domain.cloud import PowerState
from chalicelib.domain.desktop_lifecycle import DesktopLifecycle
from chalicelib.domain.entities.desktops import Desktop
from chalicelib.domain.sessions import CONNECTED, LOGGED_OUT, Session

RECORD = {"tenant_id": 3, "id": 7, "name": "desk-007", "center_id": 2}


def test_a_bare_record_reads_with_the_defaults_its_readers_applied() -> None:
    desktop = Desktop.from_stored({}, **RECORD)
    assert (desktop.power_state, desktop.lifecycle) == (PowerState.BUILDING, DesktopLifecycle.ACTIVE)
    assert (desktop.available, desktop.deletable, desktop.registered) == (True, False, False)
    assert desktop.delete_volume_on_instance_delete is True  # volumes go with their instance unless told
    assert (desktop.fixed_addresses, desktop.floating_addresses, desktop.timers) == ((), (), ())
    assert (desktop.pending_action, desktop.agent_command, desktop.session) == (None, None, None)
    assert desktop.agent_session == Session() and desktop.agent_session.state == LOGGED_OUT
    assert desktop.tokens == AgentTokens() and desktop.waited_steps == frozenset()


def test_stored_values_are_read_as_their_types() -> None:
    desktop = Desktop.from_stored(
        {"registered": 1, "delete_volume_on_instance_delete": 0, "fixed_addresses": ["10.0.0.5"],
         "agent_last_event": ["login", 17.5], "waited_0": True, "waited_2": True, "waited_3": False,
         "session": {"state": "connected", "user": "alice", "since": "2026-01-01T00:00:00Z"},
         "agent_token_hash": "legacy-hash", "timers": [{"kind": "idle"}, "not a timer"]},
        **RECORD, power_state="stopped", lifecycle="deleted", available=None, deletable=1)
    assert desktop.power_state is PowerState.STOPPED and desktop.lifecycle is DesktopLifecycle.DELETED
    assert (desktop.available, desktop.deletable) == (True, True)
    assert desktop.registered is True and desktop.delete_volume_on_instance_delete is False
    assert desktop.fixed_addresses == ("10.0.0.5",) and desktop.agent_last_event == ("login", 17.5)
    assert desktop.waited_steps == frozenset({0, 2})
    assert desktop.agent_session == Session(CONNECTED, "alice", "2026-01-01T00:00:00Z")
    assert desktop.tokens == AgentTokens(current="legacy-hash")
    assert desktop.timers == ({"kind": "idle"},)


def test_a_power_state_it_does_not_know_reads_as_unknown() -> None:
    assert Desktop.from_stored({}, **RECORD, power_state="melting").power_state is PowerState.UNKNOWN


def test_a_lifecycle_it_does_not_know_reads_as_error() -> None:
    assert Desktop.from_stored({}, **RECORD, lifecycle="deleting").lifecycle is DesktopLifecycle.ERROR
    assert Desktop(**RECORD, lifecycle="melting").lifecycle is DesktopLifecycle.ERROR


def test_keys_it_does_not_know_are_written_back_unchanged() -> None:
    """A document written by another version of the broker (a deploy in progress) loses nothing."""
    desktop = Desktop.from_stored({"from_a_newer_broker": {"x": 1}, "session": "not a session"}, **RECORD)
    changed = replace(desktop, pending_action="stop")
    assert changed.stored_doc() == {"from_a_newer_broker": {"x": 1}, "session": "not a session",
                                    "pending_action": "stop"}
    assert changed.session is None and not hasattr(changed, "from_a_newer_broker")


def test_a_stored_document_round_trips() -> None:
    doc = {"sequence": 4, "created_by_broker": True, "delete_volume_on_instance_delete": False,
           "fixed_addresses": ["10.0.0.5"], "floating_addresses": ["203.0.113.9"],
           "floating_ip": "203.0.113.9",
           "session": {"state": "idle", "user": "bob", "since": "t"}, "agent_last_event": ["idle", 3.0],
           "agent_tokens": {"current": "h", "custody": "-@0"}, "timers": [{"kind": "idle", "due_at": 9}],
           "waited_1": True, "registration_expires_at": 12.5, "pending_action": "delete",
           "assignment": {"plan_release_id": 3}, "released_at": "t", "error": "No valid host"}
    desktop = Desktop.from_stored(doc, **RECORD)
    assert desktop.stored_doc() == doc
    assert Desktop.from_stored(desktop.stored_doc(), **RECORD) == desktop


def test_the_stored_document_holds_what_differs_from_the_defaults_only() -> None:
    """Nulls and defaults are not written: a desktop's item stays as small as it was, and a key absent
    reads as the same desktop as a key holding its default."""
    desktop = Desktop(**RECORD, pending_action=None, available=False, lifecycle=DesktopLifecycle.ERROR)
    assert desktop.stored_doc() == {}
    assert Desktop.from_stored({"pending_action": None, "registered": False, "timers": []}, **RECORD) == \
        Desktop.from_stored({}, **RECORD)
    assert replace(desktop, delete_volume_on_instance_delete=False).stored_doc() == {
        "delete_volume_on_instance_delete": False}


def test_a_desktop_is_changed_only_by_making_a_new_one() -> None:
    desktop = Desktop(**RECORD)
    with pytest.raises(FrozenInstanceError):
        desktop.pending_action = "stop"  # type: ignore[misc]


def test_a_malformed_value_reads_as_the_default_instead_of_failing_the_read() -> None:
    """A listing or a scan reads every desktop of a center: one odd record must not fail them all."""
    desktop = Desktop.from_stored({"fixed_addresses": 5, "agent_last_event": ["login", "soon"],
                                   "timers": {"kind": "idle"}}, **RECORD)
    assert (desktop.fixed_addresses, desktop.agent_last_event, desktop.timers) == ((), None, ())
