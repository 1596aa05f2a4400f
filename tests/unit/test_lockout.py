"""The lockout rules: a window holds at most `max_failures` attempt slots; the failure that held the last
one locks the login."""

from __future__ import annotations

import pytest

from chalicelib.domain import lockout
from chalicelib.domain.lockout import AttemptState, LockoutPolicy, Wait

POLICY = LockoutPolicy(max_failures=5, window_seconds=300, lockout_seconds=600)


def test_a_free_login_may_try_at_once() -> None:
    assert lockout.wait_before_next_attempt(AttemptState(), 1000.0, POLICY) is None
    assert lockout.wait_before_next_attempt(AttemptState(4, 1000.0), 1010.0, POLICY) is None


def test_a_window_full_of_failures_waits_for_its_end() -> None:
    full = AttemptState(slots=5, window_start=1000.0, failures=5)
    assert lockout.wait_before_next_attempt(full, 1010.0, POLICY) == Wait(290, busy=False)
    assert lockout.wait_before_next_attempt(full, 1299.5, POLICY) == Wait(1, busy=False)  # at least 1 s
    assert lockout.wait_before_next_attempt(full, 1300.0, POLICY) is None  # the window is over


def test_a_window_full_of_attempts_being_verified_is_busy_not_locked() -> None:
    busy = AttemptState(slots=5, window_start=1000.0, failures=2)
    assert lockout.wait_before_next_attempt(busy, 1010.0, POLICY) == Wait(lockout.BUSY_RETRY_SECONDS, True)
    assert lockout.wait_before_next_attempt(AttemptState(4, 1000.0, None, 2), 1010.0, POLICY) is None


def test_a_lock_waits_for_its_end_whatever_the_window_says() -> None:
    locked = AttemptState(slots=0, window_start=None, locked_until=1600.0)
    assert lockout.wait_before_next_attempt(locked, 1000.0, POLICY) == Wait(600, busy=False)
    assert lockout.wait_before_next_attempt(locked, 1600.0, POLICY) is None
    assert lockout.wait_before_next_attempt(AttemptState(0, None, 100.2), 100.0, POLICY) == Wait(1, False)


def test_the_failure_that_makes_the_limit_locks() -> None:
    assert [lockout.locks_after_failure(n, POLICY) for n in range(1, 7)] == [False] * 4 + [True] * 2


def test_the_window_is_open_only_for_its_length() -> None:
    assert lockout.window_open(AttemptState(1, 1000.0), 1299.0, POLICY)
    assert not lockout.window_open(AttemptState(1, 1000.0), 1300.0, POLICY)
    assert not lockout.window_open(AttemptState(), 1000.0, POLICY)


def test_settings_must_be_positive() -> None:
    for field in ("max_failures", "window_seconds", "lockout_seconds"):
        with pytest.raises(ValueError, match="positive"):
            LockoutPolicy(**{field: 0})


def test_keep_seconds_outlives_window_and_lock() -> None:
    assert lockout.keep_seconds(POLICY) > 600
    assert lockout.keep_seconds(LockoutPolicy(window_seconds=900, lockout_seconds=60)) > 900


def test_one_is_a_valid_setting_and_the_error_says_what_is_wrong() -> None:
    """The smallest allowed value of each setting is 1 (one try, one second), not 2."""
    assert LockoutPolicy(max_failures=1, window_seconds=1, lockout_seconds=1).max_failures == 1
    with pytest.raises(ValueError, match=r"^lockout settings must be positive$"):
        LockoutPolicy(window_seconds=-5)


def test_a_window_with_the_limit_of_failures_waits_for_its_end_even_with_an_attempt_unfinished() -> None:
    """The limit lowered while a window is open (5 slots, 3 of them failures, the limit now 3): the login
    waits for the window's end; it is not told to retry in a second."""
    lowered = LockoutPolicy(max_failures=3, window_seconds=300, lockout_seconds=600)
    state = AttemptState(slots=5, window_start=1000.0, failures=3)
    assert lockout.wait_before_next_attempt(state, 1010.0, lowered) == Wait(290, busy=False)
