"""Login lockout: at most `max_failures` passwords of one login are verified per window, however many
attempts arrive at once, and a login whose window holds `max_failures` failures is locked for a while.

An attempt first takes a slot: one conditional write (chalicelib/store/login_attempts.py) counts it in
the login's current window, and is refused when the window already holds `max_failures` slots or the
login is locked. Only then is the password verified. A success gives its slot back; a failure keeps it
and is counted as a failure, so failures fill the window, and the failure that makes `max_failures`
locks the login for `lockout_seconds` and starts counting afresh (after the lock the user has the full
number of tries again). A slot whose attempt never finished (a process that died) stays taken until
the window ends.

A window full of attempts still being verified is not a lockout: such an attempt is told to come back
in a second (`busy`), e.g. a kiosk's shared account signing in on many screens at once.

The state of one login is (slots taken in the current window, failures among them, when the window
started, locked until). The admin API's login and the end users' login share it, and unknown logins
are counted exactly like known ones: the answers must not tell them apart.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class LockoutPolicy:
    max_failures: int = 5
    window_seconds: int = 300
    lockout_seconds: int = 300

    def __post_init__(self) -> None:
        if self.max_failures < 1 or self.window_seconds < 1 or self.lockout_seconds < 1:
            raise ValueError("lockout settings must be positive")


BUSY_RETRY_SECONDS = 1


@dataclass(frozen=True)
class AttemptState:
    """What the store holds of one login: slots taken in the window that started at `window_start`
    (failures, and attempts still being verified), how many of them failed, and the end of a lock."""

    slots: int = 0
    window_start: float | None = None
    locked_until: float | None = None
    failures: int = 0


@dataclass(frozen=True)
class Wait:
    """Why an attempt may not take a slot now, and for how long."""

    seconds: int
    busy: bool  # the window is full of attempts still being verified, not of failures


def seconds_until(moment: float, now: float) -> int:
    """Whole seconds to wait, at least one."""
    return max(1, math.ceil(moment - now))


def window_open(state: AttemptState, now: float, policy: LockoutPolicy) -> bool:
    """Whether an attempt now still belongs to the window that started at `window_start`."""
    return state.window_start is not None and now - state.window_start < policy.window_seconds


def wait_before_next_attempt(state: AttemptState, now: float, policy: LockoutPolicy) -> Wait | None:
    """How long until an attempt can take a slot (None: it can now)."""
    if state.locked_until is not None and state.locked_until > now:
        return Wait(seconds_until(state.locked_until, now), busy=False)
    if window_open(state, now, policy) and state.slots >= policy.max_failures:
        assert state.window_start is not None
        if state.failures < policy.max_failures and state.slots > state.failures:
            return Wait(BUSY_RETRY_SECONDS, busy=True)
        # full of failures, or of attempts that never finished: the window's end frees it
        return Wait(seconds_until(state.window_start + policy.window_seconds, now), busy=False)
    return None


def locks_after_failure(failures: int, policy: LockoutPolicy) -> bool:
    """The failure that makes `max_failures` in the window locks the login."""
    return failures >= policy.max_failures


def keep_seconds(policy: LockoutPolicy) -> int:
    """How long a state is worth keeping after its last change (for the record's expiry)."""
    return max(policy.window_seconds, policy.lockout_seconds) + 60
