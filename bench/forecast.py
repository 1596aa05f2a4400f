"""The forecast against a month (issue 15 §2): a synthetic but realistic month replayed minute by minute
against three policies of one pool, with the broker's own rules (chalicelib/domain: the deficit of a
check, the time limits in force, the shrink of `provision_limits_enforce`, and the forecast itself).

The month: 30 days from a Monday, after five weeks of history the forecast learns from. Working days have
~40 users (noise +-10 %) arriving around 08:15 (sd 40 min) for ~8.5 h; weekends and nights a handful.
The second Wednesday is a holiday (4 users); the last full week grows (+25 %, a new team). Desktops are
non-persistent (deleted at logout, as a release plan does) and take 4 to 9 minutes to be ready.

Policies:
- flat: one threshold, no time limits, tuned to the smallest that never fails in the month (an oracle);
- admin: the pool's own limits (threshold 2, maximum 10) and Monday-Friday 07:00-19:00 threshold 10,
  maximum 60, as an admin would write them;
- forecast: the same own limits, and `time_limits` recommended from the history samples and ready
  times, re-applied every Monday from what was seen so far (the automatic mode).

Prints, per policy: idle desktop-hours (desktops existing and unassigned, being made included) and the
logins that found no desktop. Run alone: `.venv/bin/python -m bench.forecast` (or `python bench/forecast.py`).
"""

from __future__ import annotations

import math
import random
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from chalicelib.domain import forecast, time_limits  # noqa: E402
from chalicelib.domain import provisioning as rules  # noqa: E402

DAY = 86400
WEEK = 7 * DAY
HISTORY_WEEKS = 5
MONTH_DAYS = 30
SAMPLE_SECONDS = 15 * 60
START = datetime(2026, 1, 5, tzinfo=UTC).timestamp()  # a Monday: the history's first day
MONTH_START = START + HISTORY_WEEKS * WEEK
OWN_THRESHOLD, OWN_MAX = 2, 10
DEBUG = False
ADMIN_LIMITS = [{"provision_time_day": day, "provision_time_start": "07:00", "provision_time_stop": "19:00",
                 "provision_time_threshold": 10, "provision_time_max_size": 60} for day in range(5)]


@dataclass(frozen=True)
class Session:
    start: int  # minute since START
    end: int


def _day_sessions(rng: random.Random, day_index: int) -> list[Session]:
    """One day's logins: a working day, a weekend, the holiday or a day of the growing week."""
    base = day_index * 1440
    weekday = day_index % 7
    month_day = day_index - HISTORY_WEEKS * 7
    holiday = month_day == 9  # the second Wednesday of the month
    growing = 21 <= month_day < 26  # the last full week's working days
    sessions = []
    if weekday < 5 and not holiday:
        users = round(40 * (1.25 if growing else 1.0) * rng.uniform(0.9, 1.1))
        for _ in range(users):
            arrive = int(rng.gauss(8.25 * 60, 40))
            sessions.append(Session(base + arrive, base + arrive + max(60, int(rng.gauss(510, 60)))))
    few = 4 if holiday else (3 if weekday >= 5 else 2)
    for _ in range(few):  # the odd evening, weekend or holiday user
        arrive = rng.randrange(0, 1440 - 150)
        sessions.append(Session(base + arrive, base + arrive + rng.randrange(30, 150)))
    return sessions


def workload(seed: int = 7) -> list[Session]:
    rng = random.Random(seed)
    days = HISTORY_WEEKS * 7 + MONTH_DAYS
    return sorted((s for d in range(days) for s in _day_sessions(rng, d)), key=lambda s: s.start)


@dataclass
class Policy:
    name: str
    threshold: int
    maximum: int
    time_limits: list[dict[str, Any]] = field(default_factory=list)
    enforce: bool = False
    learns: bool = False


@dataclass
class Result:
    idle_desktop_hours: float
    failed_logins: int
    logins: int
    samples: list[forecast.Sample]
    durations: list[float]
    recommendations: list[str]


def replay(policy: Policy, sessions: list[Session], seed: int = 11, from_minute: int = 0,
           minutes: int | None = None) -> Result:
    """Minute by minute: departures (their desktops are deleted), arrivals (a ready unassigned desktop,
    or a failed login), desktops becoming ready, then the pool check with the limits in force."""
    rng = random.Random(seed)
    end_minute = from_minute + (minutes if minutes is not None else (HISTORY_WEEKS * 7 + MONTH_DAYS) * 1440)
    arrivals: dict[int, list[Session]] = {}
    for session in sessions:
        if from_minute <= session.start < end_minute:
            arrivals.setdefault(session.start, []).append(session)
    departures: dict[int, int] = {}
    ready_spare, building, assigned = 0, [], 0  # building: minutes at which each desktop becomes ready
    idle_minutes, failed, logins = 0, 0, 0
    samples: list[forecast.Sample] = []
    durations: list[float] = []
    ranges = time_limits.from_docs(policy.time_limits)
    limits: time_limits.LimitsInForce | None = None
    recommendations: list[str] = []
    for minute in range(from_minute, end_minute):
        now = START + minute * 60
        if policy.learns and (now - START) % WEEK == 0 and now >= MONTH_START:
            result = forecast.recommend(samples, durations, UTC, now, policy.threshold, policy.maximum)
            if result.enough_history:
                ranges = time_limits.from_docs(result.time_limits)
                recommendations = [r.sentence for r in result.ranges]
            limits = None
        assigned -= departures.pop(minute, 0)
        for session in arrivals.get(minute, []):
            logins += 1
            if ready_spare > 0:
                ready_spare -= 1
                assigned += 1
                departures[session.end] = departures.get(session.end, 0) + 1
            else:
                failed += 1
                if DEBUG and now >= MONTH_START:
                    when = datetime.fromtimestamp(now, UTC).strftime("%a %d %H:%M")
                    print("failed login", policy.name, when, limits)
        still = [b for b in building if b > minute]
        ready_spare += len(building) - len(still)
        building = still
        if limits is None or (limits.until and now >= limits.until.timestamp()) or (
                limits.next_start and now >= limits.next_start.timestamp()):
            limits = time_limits.limits_in_force(policy.threshold, policy.maximum, ranges, UTC, now)
        total = assigned + ready_spare + len(building)
        if policy.enforce and total > limits.maximum:
            ready_spare -= min(ready_spare, total - limits.maximum)
            total = assigned + ready_spare + len(building)
        for _ in range(rules.deficit(total, assigned, limits.threshold, limits.maximum)):
            took = rng.uniform(4, 9)
            building.append(minute + math.ceil(took))
            durations.append(took * 60)
        idle_minutes += ready_spare + len(building)
        if (now - START) % SAMPLE_SECONDS == 0:
            samples.append(forecast.Sample(now, assigned, assigned))
    return Result(idle_minutes / 60, failed, logins, samples, durations, recommendations)


def month(policy: Policy, sessions: list[Session]) -> Result:
    """The month only: the history weeks run too (the forecast learns from them) but are not counted."""
    before = Policy(policy.name, policy.threshold, policy.maximum, policy.time_limits, policy.enforce)
    history = replay(before, sessions, minutes=HISTORY_WEEKS * 7 * 1440)
    whole = replay(policy, sessions)
    return Result(whole.idle_desktop_hours - history.idle_desktop_hours,
                  whole.failed_logins - history.failed_logins, whole.logins - history.logins,
                  whole.samples, whole.durations, whole.recommendations)


def run(seed: int = 7) -> dict[str, Result]:
    sessions = workload(seed)
    flat = None
    for threshold in range(1, 80):
        flat = month(Policy("flat", threshold, 10_000), sessions)
        if flat.failed_logins == 0:
            break
    assert flat is not None
    admin = month(Policy("admin", OWN_THRESHOLD, OWN_MAX, ADMIN_LIMITS, enforce=True), sessions)
    # Before the month the pool ran with the admin's limits (which served every login): a pool that
    # failed logins would learn too low a demand, since a login that found no desktop leaves no sample.
    learned = month(Policy("forecast", OWN_THRESHOLD, OWN_MAX, ADMIN_LIMITS, enforce=True, learns=True),
                    sessions)
    return {f"flat (threshold {threshold})": flat, "admin time limits": admin, "forecast": learned}


def figures() -> dict[str, Any]:
    """The figures `make bench` records (bench/run.py)."""
    results = run()
    flat, admin, learned = results.values()
    saving = 1 - learned.idle_desktop_hours / flat.idle_desktop_hours
    return {
        "forecast_flat_idle_desktop_hours": round(flat.idle_desktop_hours),
        "forecast_admin_idle_desktop_hours": round(admin.idle_desktop_hours),
        "forecast_admin_failed_logins": admin.failed_logins,
        "forecast_idle_desktop_hours": round(learned.idle_desktop_hours),
        "forecast_failed_logins": learned.failed_logins,
        "forecast_idle_saving_percent": round(100 * saving),
    }


def main() -> int:
    results = run()
    width = max(len(name) for name in results)
    print(f"{'policy'.ljust(width)}  {'idle desktop-hours':>18}  {'failed logins':>13}")
    for name, result in results.items():
        print(f"{name.ljust(width)}  {result.idle_desktop_hours:>18.0f}  {result.failed_logins:>13}")
    flat, learned = next(iter(results.values())), results["forecast"]
    saving = 1 - learned.idle_desktop_hours / flat.idle_desktop_hours
    print(f"\nforecast vs flat: {saving:.0%} fewer idle desktop-hours, "
          f"{learned.failed_logins - flat.failed_logins:+d} failed logins (target: >= 30 %, +0 or fewer)")
    print("last recommendation:")
    for line in learned.recommendations:
        print(f"  {line}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
