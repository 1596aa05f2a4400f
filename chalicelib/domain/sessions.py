"""The session state of a desktop, as its agent reports it: a small state machine. Pure rules.

States (stored in a desktop's `session` = {"state", "user", "since"}):

- `logged_out`: nobody is logged in (also after the desktop starts: a reboot ends any session);
- `connected`: a user is logged in and their remote session is connected (login, reconnect, unlock,
  active);
- `locked`: logged in, the screen is locked;
- `idle`: logged in and connected, but nobody has touched the desktop for a while;
- `disconnected`: logged in, the remote session is closed but the user's session keeps running.

`heartbeat` changes no state; it only says the agent is alive. An event older than the last one
applied (a retry that arrives late, clocks apart) changes nothing, and the same event sent twice (the
same type and time, e.g. the agent retrying after a lost answer) is applied once.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from chalicelib.clock import utc_iso  # formatting only: the domain is given the time, never reads it


class SessionState(StrEnum):
    """A desktop's session as its agent reports it (`Desktop.session["state"]`)."""

    LOGGED_OUT = "logged_out"
    CONNECTED = "connected"
    LOCKED = "locked"
    IDLE = "idle"
    DISCONNECTED = "disconnected"


# The names the rules use (docs/lifecycle.md): the members above.
LOGGED_OUT = SessionState.LOGGED_OUT
CONNECTED = SessionState.CONNECTED
LOCKED = SessionState.LOCKED
IDLE = SessionState.IDLE
DISCONNECTED = SessionState.DISCONNECTED
STATES = tuple(SessionState)
LOGGED_IN_STATES = frozenset({CONNECTED, LOCKED, IDLE, DISCONNECTED})

STARTUP = "startup"
LOGIN = "login"
LOGOUT = "logout"
DISCONNECT = "disconnect"
RECONNECT = "reconnect"
LOCK = "lock"
UNLOCK = "unlock"
IDLE_EVENT = "idle"
ACTIVE_EVENT = "active"  # the user is back at the desktop (an event; the lifecycle's is another word)
HEARTBEAT = "heartbeat"
EVENTS = (STARTUP, LOGIN, LOGOUT, DISCONNECT, RECONNECT, LOCK, UNLOCK, IDLE_EVENT, ACTIVE_EVENT, HEARTBEAT)

# Which state each event leads to (heartbeat: none).
_NEXT_STATE = {
    STARTUP: LOGGED_OUT,
    LOGIN: CONNECTED,
    LOGOUT: LOGGED_OUT,
    DISCONNECT: DISCONNECTED,
    RECONNECT: CONNECTED,
    LOCK: LOCKED,
    UNLOCK: CONNECTED,
    IDLE_EVENT: IDLE,
    ACTIVE_EVENT: CONNECTED,
}

# How far ahead of the broker's clock an agent's time may be before it is taken as "now".
MAX_CLOCK_SKEW_SECONDS = 120




@dataclass(frozen=True)
class Session:
    state: str = LOGGED_OUT
    user: str | None = None
    since: str | None = None  # ISO time of the event that led to the state

    @classmethod
    def from_doc(cls, doc: object) -> Session:
        if not isinstance(doc, dict) or doc.get("state") not in STATES:
            return cls()
        return cls(state=str(doc["state"]), user=doc.get("user"), since=doc.get("since"))

    def as_doc(self) -> dict[str, str | None]:
        return {"state": self.state, "user": self.user, "since": self.since}

    @property
    def logged_in(self) -> bool:
        return self.state in LOGGED_IN_STATES


@dataclass(frozen=True)
class Transition:
    """What one event does to the session."""

    applied: bool  # False: stale or duplicate, nothing changes
    before: Session
    after: Session
    event_at: float  # the event's time as taken (the agent's, bounded by the broker's clock)

    @property
    def changed(self) -> bool:
        return self.before != self.after


def event_time(reported: float | None, now: float) -> float:
    """The agent's time for the event, unless it is missing or implausibly far in the future."""
    if reported is None or reported > now + MAX_CLOCK_SKEW_SECONDS:
        return now
    return reported


def apply_event(session: Session, event: str, user: str | None, reported_at: float | None, now: float,
                last_event: tuple[str, float] | None) -> Transition:
    """The session after `event`; `last_event` is (type, time) of the last event applied."""
    if event not in _NEXT_STATE and event != HEARTBEAT:
        raise ValueError(f"unknown event {event!r}")
    at = event_time(reported_at, now)
    if event == HEARTBEAT:
        return Transition(False, session, session, at)
    if last_event is not None:
        last_type, last_at = last_event
        if at < last_at or (at == last_at and last_type == event):
            return Transition(False, session, session, at)
    state = _NEXT_STATE[event]
    if state == LOGGED_OUT:
        after = Session(LOGGED_OUT, user if event == LOGOUT else None, utc_iso(at))
    else:
        # Events of a running session may leave the user out: it is the one already logged in.
        after = Session(state, user or session.user, utc_iso(at))
    return Transition(True, session, after, at)


def agent_running(seen_at: float | None, now: float, window_seconds: int) -> bool:
    return seen_at is not None and now - seen_at <= window_seconds
