"""Login lockout: too many failed logins for one login name within a window lock it for a while.

The state of one login is (failures in the current window, when the window started, locked until).
A failure inside the window adds one; a failure after the window starts a new window. Reaching
`max_failures` locks the login for `lockout_seconds` and starts counting afresh, so after the lock
the user has the full number of tries again. Unknown logins are counted exactly like known ones:
the answers must not tell them apart.
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


@dataclass(frozen=True)
class FailureState:
    failures: int = 0
    window_start: float | None = None
    locked_until: float | None = None

    @property
    def empty(self) -> bool:
        return not self.failures and self.window_start is None and self.locked_until is None


def retry_after(state: FailureState, now: float) -> int | None:
    """Seconds until the login may try again, or None when it is not locked."""
    if state.locked_until is None or state.locked_until <= now:
        return None
    return max(1, math.ceil(state.locked_until - now))


def window_open(state: FailureState, now: float, policy: LockoutPolicy) -> bool:
    """Whether a failure now still belongs to the current window."""
    return state.window_start is not None and now - state.window_start < policy.window_seconds


def after_failure(state: FailureState, now: float, policy: LockoutPolicy) -> FailureState:
    """The state after one more failure (the store applies the same rule atomically)."""
    if window_open(state, now, policy):
        state = FailureState(state.failures + 1, state.window_start, state.locked_until)
    else:
        state = FailureState(1, now, state.locked_until)
    if should_lock(state.failures, policy):
        return lock(now, policy)
    return state


def should_lock(failures: int, policy: LockoutPolicy) -> bool:
    return failures >= policy.max_failures


def lock(now: float, policy: LockoutPolicy) -> FailureState:
    """Locked from now; the count starts again so the lock's end gives the full number of tries."""
    return FailureState(0, None, now + policy.lockout_seconds)


def keep_seconds(policy: LockoutPolicy) -> int:
    """How long a state is worth keeping after its last change (for the record's expiry)."""
    return max(policy.window_seconds, policy.lockout_seconds) + 60
