"""Login attempt slots (rules in chalicelib/domain/lockout.py): one item per (tenant, login) in the
markers table, `login-attempts#<tenant>#<hash of the login>`. The login as typed is never stored (it is
often a password typed into the wrong field); its SHA-256 is enough to count attempts under it.

Taking a slot is a conditional write before the password is verified, so however many attempts arrive
at once, at most `max_failures` of them are verified in one window (ARCHITECTURE.md invariant 7).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pynamodb.exceptions import DoesNotExist, UpdateError

from chalicelib.domain.lockout import (
    AttemptState,
    LockoutPolicy,
    Wait,
    keep_seconds,
    locks_after_failure,
    wait_before_next_attempt,
)
from chalicelib.store.binding import ensure_bound
from chalicelib.store.models import MarkerRecord
from chalicelib.store.transactions import Transaction, condition_failed

TAKE_ROUNDS = 4  # each lost round means another writer changed the item meanwhile


def attempts_key(tenant_id: int, login: str) -> str:
    digest = hashlib.sha256(login.strip().casefold().encode()).hexdigest()[:32]
    return f"login-attempts#{tenant_id}#{digest}"


@dataclass(frozen=True)
class Slot:
    """A taken slot: the attempt may verify its password."""

    key: str
    number: int  # slots taken in the window, this one included
    window_start: int


def _state(record: MarkerRecord | None) -> AttemptState:
    if record is None:
        return AttemptState()
    return AttemptState(
        slots=int(record.value or 0),
        window_start=None if record.since is None else float(record.since),
        locked_until=None if record.until is None else float(record.until),
        failures=int(record.failures or 0),
    )


def _expiry(moment: float) -> Any:
    return MarkerRecord.expires_at.set(datetime.fromtimestamp(moment, UTC))


class LoginAttempts:
    def read(self, tenant_id: int, login: str) -> AttemptState:
        ensure_bound()
        try:
            return _state(MarkerRecord.get(attempts_key(tenant_id, login), consistent_read=True))
        except DoesNotExist:
            return AttemptState()

    def take(self, tenant_id: int, login: str, policy: LockoutPolicy, now: int) -> Slot | Wait:
        """Count an attempt into the login's window, or say how long to wait."""
        ensure_bound()
        key = attempts_key(tenant_id, login)
        record = MarkerRecord(key=key)
        expires = _expiry(now + keep_seconds(policy))
        unlocked = MarkerRecord.until.does_not_exist() | (MarkerRecord.until <= now)
        window_start = now - policy.window_seconds
        window_over = MarkerRecord.since.does_not_exist() | (MarkerRecord.since <= window_start)
        for _ in range(TAKE_ROUNDS):
            try:  # a slot in the current window
                record.update(actions=[MarkerRecord.value.add(1), expires],
                              condition=(MarkerRecord.since > window_start)
                              & (MarkerRecord.value < policy.max_failures) & unlocked)
                return Slot(key, int(record.value), int(record.since))
            except UpdateError as error:
                if not condition_failed(error):
                    raise
            try:  # the first slot of a new window (none yet, the last one is over, or a lock ran out)
                record.update(actions=[MarkerRecord.value.set(1), MarkerRecord.failures.set(0),
                                       MarkerRecord.since.set(now), MarkerRecord.until.remove(), expires],
                              condition=window_over & unlocked)
                return Slot(key, 1, now)
            except UpdateError as error:
                if not condition_failed(error):
                    raise
            wait = wait_before_next_attempt(self.read(tenant_id, login), now, policy)
            if wait is not None:
                return wait
            # the item changed between the writes and the read (a lock ran out, a slot was given back)
        return Wait(1, busy=True)

    def fail(self, slot: Slot, policy: LockoutPolicy, now: int) -> bool:
        """The attempt's password was wrong: its slot stays taken and counts as a failure; the failure that
        makes `max_failures` locks the login until `now + lockout_seconds` and starts counting afresh.
        Nothing changes if the window has moved on meanwhile. True when this failure locked the login."""
        ensure_bound()
        record = MarkerRecord(key=slot.key)
        same_window = MarkerRecord.since == slot.window_start
        try:
            record.update(actions=[MarkerRecord.failures.add(1)], condition=same_window)
        except UpdateError as error:
            if not condition_failed(error):
                raise
            return False
        if not locks_after_failure(int(record.failures or 0), policy):
            return False
        until = now + policy.lockout_seconds
        try:
            record.update(
                actions=[MarkerRecord.value.set(0), MarkerRecord.failures.set(0), MarkerRecord.since.remove(),
                         MarkerRecord.until.set(until), _expiry(until + keep_seconds(policy))],
                condition=same_window,
            )
        except UpdateError as error:
            if not condition_failed(error):
                raise
            return False  # another failure locked it a moment ago
        return True

    def release(self, tx: Transaction, slot: Slot) -> None:
        """Give a successful attempt's slot back (as an item of the caller's transaction), unless the
        window has moved on: a lock or a new window already started counting afresh."""
        tx.update(self.RELEASE, MarkerRecord(key=slot.key), [MarkerRecord.value.add(-1)],
                  condition=(MarkerRecord.since == slot.window_start) & (MarkerRecord.value > 0),
                  versioned=False)

    RELEASE = "release-attempt-slot"  # the transaction label of `release`
