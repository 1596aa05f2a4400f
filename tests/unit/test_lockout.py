"""The lockout window: five failures within five minutes lock a login for a while."""

from __future__ import annotations

import pytest

from chalicelib.domain import lockout
from chalicelib.domain.lockout import FailureState, LockoutPolicy

POLICY = LockoutPolicy(max_failures=5, window_seconds=300, lockout_seconds=600)


def fail(times: int, start: float = 1000.0, step: float = 10.0) -> tuple[FailureState, float]:
    state, now = FailureState(), start
    for _ in range(times):
        state = lockout.after_failure(state, now, POLICY)
        now += step
    return state, now


def test_four_failures_do_not_lock() -> None:
    state, now = fail(4)
    assert state.failures == 4
    assert lockout.retry_after(state, now) is None


def test_the_fifth_failure_within_the_window_locks() -> None:
    state, now = fail(5)
    assert lockout.retry_after(state, now) == 600 - 10
    assert lockout.retry_after(state, state.locked_until or 0) is None


def test_failures_spread_beyond_the_window_do_not_lock() -> None:
    state, now = fail(5, step=80)  # 5 failures over 320 s: the window restarts
    assert lockout.retry_after(state, now) is None
    assert state.failures < 5


def test_after_the_lock_the_count_starts_again() -> None:
    state, _ = fail(5)
    after = (state.locked_until or 0) + 1
    state = lockout.after_failure(state, after, POLICY)
    assert state.failures == 1
    assert lockout.retry_after(state, after) is None


def test_retry_after_is_at_least_one_second() -> None:
    assert lockout.retry_after(FailureState(0, None, 100.2), 100.0) == 1


def test_settings_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        LockoutPolicy(max_failures=0)


def test_keep_seconds_outlives_window_and_lock() -> None:
    assert lockout.keep_seconds(POLICY) > 600
