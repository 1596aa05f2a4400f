"""Login lockout for end users (rules in chalicelib/domain/lockout.py).

Settings (environment): BROKER_LOGIN_MAX_FAILURES (5), BROKER_LOGIN_FAILURE_WINDOW_SECONDS (300),
BROKER_LOGIN_LOCKOUT_SECONDS (300). Failures are counted per (tenant, login name as typed, trimmed
and case-folded), whether or not such a user exists.
"""

from __future__ import annotations

import os
import time

from chalicelib.domain import lockout as rules
from chalicelib.domain.errors import TooManyAttempts
from chalicelib.store.assignments import LoginStates

_states = LoginStates()


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw not in (None, "") else default


def policy() -> rules.LockoutPolicy:
    return rules.LockoutPolicy(
        max_failures=_env_int("BROKER_LOGIN_MAX_FAILURES", 5),
        window_seconds=_env_int("BROKER_LOGIN_FAILURE_WINDOW_SECONDS", 300),
        lockout_seconds=_env_int("BROKER_LOGIN_LOCKOUT_SECONDS", 300),
    )


def refuse_if_locked(state: rules.FailureState, now: float | None = None) -> None:
    wait = rules.retry_after(state, time.time() if now is None else now)
    if wait is not None:
        raise TooManyAttempts(f"Too many failed logins; try again in {wait} seconds", retry_after=wait)


def record_failure(tenant_id: int, login: str) -> rules.FailureState:
    """Count a failed login; lock the login when it reaches the limit. Returns the new state."""
    settings = policy()
    now = int(time.time())
    keep = rules.keep_seconds(settings)
    state = _states.add_failure(tenant_id, login, settings.window_seconds, keep, now=now)
    if rules.should_lock(state.failures, settings):
        locked = rules.lock(now, settings)
        until = int(locked.locked_until or now + settings.lockout_seconds)
        _states.lock(tenant_id, login, until, keep, now=now)
        return locked
    return state


def forget(tenant_id: int, login: str, state: rules.FailureState) -> None:
    """A successful login clears earlier failures (no write when there were none)."""
    if not state.empty:
        _states.clear(tenant_id, login)
