"""Login lockout, shared by the admin API's login and the end users' login (rules in
chalicelib/domain/lockout.py, slots in chalicelib/store/login_attempts.py).

    slot = lockout.attempt(tenant_id, login)      # TooManyAttempts (429) when no slot is free
    ... verify the password ...
    lockout.failed(slot)                          # keeps the slot; may lock the login
    lockout.release(tx, slot)                     # on success, in the transaction of its audit events
    lockout.give_back(slot)                       # no verdict (directory unreachable): not counted

Settings: BROKER_LOGIN_MAX_FAILURES (5), BROKER_LOGIN_FAILURE_WINDOW_SECONDS (300),
BROKER_LOGIN_LOCKOUT_SECONDS (300). Attempts are counted per (tenant, login as typed, trimmed and
case-folded), whether or not such a user exists.
"""

from __future__ import annotations

import logging

from chalicelib import clock
from chalicelib.domain import lockout as rules
from chalicelib.domain.errors import LoginBusy, TooManyAttempts
from chalicelib.settings import get_settings
from chalicelib.store.login_attempts import LoginAttempts, Slot
from chalicelib.store.transactions import Transaction, TransactionFailed, transaction

log = logging.getLogger("broker.lockout")

_attempts = LoginAttempts()


def policy() -> rules.LockoutPolicy:
    settings = get_settings()
    return rules.LockoutPolicy(max_failures=settings.login_max_failures,
                               window_seconds=settings.login_failure_window_seconds,
                               lockout_seconds=settings.login_lockout_seconds)


def too_many(wait: rules.Wait) -> TooManyAttempts:
    if wait.busy:
        return LoginBusy("Too many logins with this name at the same time; try again in "
                               f"{wait.seconds} seconds", retry_after=wait.seconds)
    return TooManyAttempts(f"Too many failed logins; try again in {wait.seconds} seconds",
                           retry_after=wait.seconds)


def attempt(tenant_id: int, login: str) -> Slot:
    """A slot to verify one password with, or TooManyAttempts."""
    taken = _attempts.take(tenant_id, login, policy(), int(clock.time()))
    if isinstance(taken, rules.Wait):
        raise too_many(taken)
    return taken


def failed(slot: Slot) -> bool:
    """The password was wrong: the slot stays taken and counts. True when this failure locked the login."""
    return _attempts.fail(slot, policy(), int(clock.time()))


def release(tx: Transaction, slot: Slot) -> None:
    """The login succeeded: its slot is given back (an item of the caller's transaction)."""
    _attempts.release(tx, slot)


def give_back(slot: Slot) -> None:
    """The attempt ended without a verdict on the password (the directory could not be reached, an
    outage): it does not count. Never fails the caller, whose own error matters more."""
    try:
        with transaction() as tx:
            _attempts.release(tx, slot)
    except TransactionFailed:
        pass  # the window moved on meanwhile: nothing to give back
    except Exception:
        log.warning("could not give back a login attempt slot", exc_info=True)


def state(tenant_id: int, login: str) -> rules.AttemptState:
    return _attempts.read(tenant_id, login)
