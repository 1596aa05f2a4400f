"""The reference agent's own rules (agent/broker_agent.py): which events a change of session is."""

from __future__ import annotations

import importlib.util
import json
import stat
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("broker_agent", ROOT / "agent" / "broker_agent.py")
assert _spec is not None and _spec.loader is not None
broker_agent = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("broker_agent", broker_agent)  # dataclasses look their module up there
_spec.loader.exec_module(broker_agent)


def session(sid: str = "c1", user: str = "alice", **flags: bool) -> dict:
    return {"id": sid, "user": user, "locked": False, "idle": False, "connected": True, **flags}


def test_session_changes_become_events() -> None:
    events = broker_agent.session_events
    assert events(None, None) == []
    assert events(None, session()) == [("login", "alice")]
    assert events(session(), None) == [("logout", "alice")]
    assert events(session(), session(connected=False)) == [("disconnect", "alice")]
    assert events(session(connected=False), session()) == [("reconnect", "alice")]
    assert events(session(), session(locked=True, idle=True)) == [("lock", "alice"), ("idle", "alice")]
    assert events(session(locked=True), session()) == [("unlock", "alice")]
    assert events(session(idle=True), session()) == [("active", "alice")]
    assert events(session("c1", "alice"), session("c2", "bob")) == [("logout", "alice"), ("login", "bob")]
    assert events(None, session(locked=True)) == [("login", "alice"), ("lock", "alice")]


def test_the_state_file_is_private(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "state.json"
    broker_agent.save_state(path, {"agent_token": "secret"})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700  # the directory made for it, too
    assert json.loads(path.read_text()) == {"agent_token": "secret"}
    assert broker_agent.load_state(tmp_path / "missing.json") == {}


def test_only_http_brokers() -> None:
    try:
        broker_agent.call("file:///etc/passwd", "/agent/v1/events", {})
    except ValueError as error:
        assert "http" in str(error)
    else:  # pragma: no cover
        raise AssertionError("a file: URL was accepted")


def test_a_new_agent_token_is_never_printed() -> None:
    reply = {"accepted": True, "agent_token": "7.42.new-secret-token-value"}
    assert broker_agent.shown(reply) == {"accepted": True, "agent_token_rotated": True}
    assert broker_agent.shown({"accepted": True, "agent_token": None}) == {"accepted": True}
