"""The broker's clock: the time every rule that depends on it reads (lockout windows, token and session
lifetimes, registration expiry). Production reads the system clock; a test sets a controlled clock so its
outcome never depends on how fast the machine is.

    with clock.controlled(start=1_800_000_000) as now:
        ...                 # clock.time() answers 1_800_000_000
        now.advance(301)    # five minutes and a second later, without sleeping
"""

from __future__ import annotations

import threading
import time as _system_time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

_source: Callable[[], float] = _system_time.time


def time() -> float:
    """Seconds since the epoch, from the current source."""
    return _source()


ISO_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def utc_iso(seconds: float | None = None) -> str:
    """`2026-12-06T07:17:31Z` for now (or for `seconds`): the one format of the broker's timestamps."""
    moment = time() if seconds is None else seconds
    return datetime.fromtimestamp(moment, UTC).strftime(ISO_FORMAT)


def epoch_of(text: object) -> float | None:
    """The epoch seconds of a time written by `utc_iso` (None if it is not one)."""
    if not isinstance(text, str):
        return None
    try:
        return datetime.strptime(text, ISO_FORMAT).replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None


class ControlledClock:
    """A clock that moves only when told to (thread-safe: racing test threads read the same time)."""

    def __init__(self, start: float) -> None:
        self._now = float(start)
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        with self._lock:
            self._now += seconds
            return self._now


@contextmanager
def controlled(start: float | None = None) -> Iterator[ControlledClock]:
    """Replace the clock for the duration of the block (tests only)."""
    global _source
    controlled_clock = ControlledClock(_system_time.time() if start is None else start)
    previous = _source
    _source = controlled_clock
    try:
        yield controlled_clock
    finally:
        _source = previous
