"""Desktop lifecycle, power and session states are StrEnums whose members are the strings stored before
(no migration), and the services and the domain compare with the members (docs/design.md, "States are
enums")."""

from __future__ import annotations

import json
import re
from pathlib import Path

from chalicelib.domain import sessions
from chalicelib.domain.cloud import PowerState
from chalicelib.domain.desktop_lifecycle import DesktopLifecycle
from chalicelib.domain.sessions import SessionState

ROOT = Path(__file__).resolve().parents[2] / "chalicelib"
BARE_LIFECYCLE = re.compile(r"""lifecycle\s*(==|!=|=)\s*["']|lifecycle\s+(not\s+)?in\s*\(\s*["']""")


def test_members_are_the_stored_strings() -> None:
    assert [m.value for m in DesktopLifecycle] == ["provisioning", "active", "error", "deleted"]
    assert [m.value for m in SessionState] == ["logged_out", "connected", "locked", "idle", "disconnected"]
    assert DesktopLifecycle.DELETED == "deleted" and PowerState.RUNNING == "running"
    for member in (DesktopLifecycle.ACTIVE, PowerState.STOPPED, SessionState.IDLE):
        assert json.dumps(member) == f'"{member.value}"' and f"{member}" == member.value


def test_active_the_lifecycle_and_active_the_event_are_two_names() -> None:
    assert not hasattr(sessions, "ACTIVE")
    assert sessions.ACTIVE_EVENT in sessions.EVENTS and sessions.ACTIVE_EVENT not in sessions.STATES
    assert DesktopLifecycle.ACTIVE not in set(SessionState)


def test_no_lifecycle_is_compared_as_a_bare_string() -> None:
    found = [f"{path.relative_to(ROOT)}:{number}"
             for folder in ("services", "domain", "store")
             for path in sorted((ROOT / folder).glob("*.py"))
             for number, line in enumerate(path.read_text().splitlines(), 1)
             if BARE_LIFECYCLE.search(line)]
    assert found == []


def test_nova_statuses_map_to_power_states_in_any_case_and_the_rest_is_unknown() -> None:
    from chalicelib.domain.cloud import CloudNotFound, PowerState, power_state_of

    assert power_state_of("active") == PowerState.RUNNING and power_state_of("SHUTOFF") == PowerState.STOPPED
    assert power_state_of(None) == PowerState.UNKNOWN and power_state_of("weird") == PowerState.UNKNOWN
    error = CloudNotFound("No server abc")
    assert (error.message, str(error)) == ("No server abc", "No server abc")
