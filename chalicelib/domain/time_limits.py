"""Provisioning limits by weekday and time of day (the reference's `provision.time_limits[]`). Pure rules.

Decisions where the reference is vague (docs/provisioning.md, "Time limits"):

- `provision_time_start` / `provision_time_stop` are wall-clock times `HH:MM` (24-hour, `H:MM` accepted,
  stored as `HH:MM`); a stop of `24:00` means the end of the day.
- A range whose stop is earlier than its start crosses midnight: it starts on its day and stops on the
  next (Sunday's runs into Monday). A start equal to its stop is refused (empty, or a whole day that
  `00:00`-`24:00` says plainly).
- Ranges are half-open ([start, stop)): Monday 08:00-10:00 and Monday 10:00-12:00 touch, they do not
  overlap. Overlapping ranges are refused, so at most one range is ever in force.
- Inside a range, `provision_time_threshold` and `provision_time_max_size` replace the pool's
  `provision_threshold` and `provision_max`: the maximum bounds the pool's total (as `provision_max`
  does), and may be above or below the pool's own. Outside every range the pool's own apply.
- Times are read in the pool's time zone. On the day the clocks go forward, a time in the skipped hour
  is read with the offset before the change (02:30 in Berlin is 03:30 summer time), and a range lying
  wholly in the skipped hour runs for its length from the change; on the day they go back, a time in the
  repeated hour is its first occurrence. Each range happens once per week: never skipped, never twice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from chalicelib.domain.entities.pools import Provision
from chalicelib.domain.errors import ErrorList

DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MINUTES_PER_DAY = 24 * 60
MINUTES_PER_WEEK = 7 * MINUTES_PER_DAY
MAX_TIME_LIMITS = 100
_TIME = re.compile(r"^([0-9]{1,2}):([0-9]{2})$")
# An IANA name: letters, digits, `_+-` in `/`-separated parts (no dots, so no path outside the database).
_ZONE = re.compile(r"^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+){0,2}$")


def parse_time(text: str, is_stop: bool = False) -> int | None:
    """Minutes after midnight of `HH:MM` (`24:00` only as a stop), or None when it is not a time."""
    match = _TIME.match(text.strip()) if isinstance(text, str) else None
    if not match:
        return None
    hours, minutes = int(match.group(1)), int(match.group(2))
    if minutes > 59:
        return None
    if hours == 24 and minutes == 0 and is_stop:
        return MINUTES_PER_DAY
    return hours * 60 + minutes if hours < 24 else None


def format_minutes(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@dataclass(frozen=True)
class TimeLimit:
    """One range: on `day` (0 Monday .. 6 Sunday) from `start` to `stop` (minutes after midnight; a stop
    at or before the start is on the next day), with its threshold and maximum."""

    index: int
    day: int
    start: int
    stop: int
    threshold: int
    maximum: int

    @property
    def crosses_midnight(self) -> bool:
        return self.stop <= self.start

    @property
    def length(self) -> int:
        """Minutes of wall-clock time the range covers."""
        return self.stop - self.start + (MINUTES_PER_DAY if self.crosses_midnight else 0)

    def week_span(self) -> tuple[int, int]:
        """[start, end) in minutes after Monday 00:00; `end` may pass the week's end (Sunday night)."""
        begin = self.day * MINUTES_PER_DAY + self.start
        return begin, begin + self.length

    def describe(self) -> str:
        stop = format_minutes(self.stop % MINUTES_PER_DAY) if self.stop != MINUTES_PER_DAY else "24:00"
        after = " (next day)" if self.crosses_midnight else ""
        return f"{DAY_NAMES[self.day]} {format_minutes(self.start)}-{stop}{after}"

    def as_doc(self) -> dict[str, Any]:
        return {"provision_time_day": self.day, "provision_time_start": format_minutes(self.start),
                "provision_time_stop": "24:00" if self.stop == MINUTES_PER_DAY else format_minutes(self.stop),
                "provision_time_threshold": self.threshold, "provision_time_max_size": self.maximum}


def from_docs(items: list[dict[str, Any]]) -> list[TimeLimit]:
    """The stored (already validated) items as ranges; an item that does not parse is left out."""
    ranges = []
    for index, item in enumerate(items or []):
        start = parse_time(str(item.get("provision_time_start", "")))
        stop = parse_time(str(item.get("provision_time_stop", "")), is_stop=True)
        if start is None or stop is None:
            continue
        ranges.append(TimeLimit(index, int(item["provision_time_day"]), start, stop,
                                int(item.get("provision_time_threshold") or 0),
                                int(item.get("provision_time_max_size") or 0)))
    return ranges


def _overlap(a: tuple[int, int], b: tuple[int, int]) -> bool:
    """Do two week spans overlap, the week being a circle (Sunday night runs into Monday)?"""
    for shift in (-MINUTES_PER_WEEK, 0, MINUTES_PER_WEEK):
        if a[0] < b[1] + shift and b[0] + shift < a[1]:
            return True
    return False


def problems(items: list[dict[str, Any]], errors: ErrorList,
             base: str = "/body/provision/time_limits") -> None:
    """Every bad item and field, by its path: times that are not `HH:MM`, an empty range, a maximum below
    its threshold, a range that overlaps an earlier one (named by the field that runs into it)."""
    if len(items) > MAX_TIME_LIMITS:
        errors.add(base, f"At most {MAX_TIME_LIMITS} time ranges")
        return
    valid: list[TimeLimit] = []
    for index, item in enumerate(items):
        path = f"{base}/{index}"
        start = parse_time(item.get("provision_time_start", ""))
        stop = parse_time(item.get("provision_time_stop", ""), is_stop=True)
        if start is None:
            errors.add(f"{path}/provision_time_start", "Give the start as HH:MM (00:00 to 23:59)")
        if stop is None:
            errors.add(f"{path}/provision_time_stop", "Give the stop as HH:MM (00:01 to 24:00)")
        if start is not None and start == stop:
            errors.add(f"{path}/provision_time_stop",
                       "The stop equals the start: for the whole day write 00:00 to 24:00")
            continue
        if item.get("provision_time_max_size", 0) < item.get("provision_time_threshold", 0):
            errors.add(f"{path}/provision_time_max_size",
                       "The range's maximum must be greater than or equal to its threshold")
        if start is None or stop is None:
            continue
        current = TimeLimit(index, int(item["provision_time_day"]), start, stop, 0, 0)
        for earlier in valid:
            if _overlap(current.week_span(), earlier.week_span()):
                begins_inside = _overlap((current.week_span()[0], current.week_span()[0] + 1),
                                         earlier.week_span())
                field = "provision_time_start" if begins_inside else "provision_time_stop"
                errors.add(f"{path}/{field}", f"{current.describe()} overlaps "
                                              f"time_limits/{earlier.index} ({earlier.describe()})")
                break
        else:
            valid.append(current)


def normalized(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The items as stored and returned: times written `HH:MM`."""
    return [
        {**item, "provision_time_start": format_minutes(parse_time(item["provision_time_start"]) or 0),
         "provision_time_stop": format_minutes(stop) if (stop := parse_time(item["provision_time_stop"],
                                                                             is_stop=True)) != MINUTES_PER_DAY
         else "24:00"}
        for item in items
    ]


def zone_problem(name: str) -> str | None:
    """Why `name` is not an IANA time zone name this broker knows (None when it is one)."""
    if not _ZONE.match(name):
        return "Give an IANA time zone name such as Europe/Berlin or America/New_York"
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return f"Unknown time zone '{name}'"
    return None


def zone_of(pool_zone: str | None, tenant_zone: str | None) -> tuple[str, tzinfo]:
    """The zone the pool's times are read in: its own, else its tenant's, else UTC (a stored name that no
    longer resolves, e.g. after a time zone database change, falls back the same way)."""
    for name in (pool_zone, tenant_zone):
        if name and zone_problem(name) is None:
            return name, ZoneInfo(name)
    return "UTC", UTC


def _instant(day: date, minutes: int, zone: tzinfo) -> datetime:
    """The moment `day` + `minutes` of wall-clock time happens in `zone` (fold 0: before a change)."""
    return (datetime.combine(day, time(0)) + timedelta(minutes=minutes)).replace(tzinfo=zone)


def occurrence(limit: TimeLimit, day: date, zone: tzinfo) -> tuple[datetime, datetime]:
    """[start, stop) of the range on `day` (whose weekday is the range's), as UTC instants."""
    start = _instant(day, limit.start, zone).astimezone(UTC)
    stop = _instant(day, limit.start + limit.length, zone).astimezone(UTC)
    if stop <= start:  # the range lies wholly in the hour the clocks skip: it runs for its length
        stop = start + timedelta(minutes=limit.length)
    return start, stop


@dataclass(frozen=True)
class LimitsInForce:
    threshold: int
    maximum: int
    time_limit: TimeLimit | None  # the range in force, None outside every range
    until: datetime | None  # when the range in force stops
    next_limit: TimeLimit | None  # the next range to start
    next_start: datetime | None


def limits_in_force(threshold: int, maximum: int, ranges: list[TimeLimit], zone: tzinfo,
                    now: float) -> LimitsInForce:
    """The threshold and maximum that apply at `now` (epoch seconds), and the next range's start."""
    moment = datetime.fromtimestamp(now, UTC)
    today = moment.astimezone(zone).date()
    current: tuple[TimeLimit, datetime] | None = None
    upcoming: tuple[TimeLimit, datetime] | None = None
    for limit in ranges:
        for offset in range(-8, 9):  # a range crossing midnight began yesterday; next week's is ahead
            day = today + timedelta(days=offset)
            if day.weekday() != limit.day:
                continue
            start, stop = occurrence(limit, day, zone)
            if start <= moment < stop and (current is None or start < current[1]):
                current = (limit, stop)
            if start > moment and (upcoming is None or start < upcoming[1]):
                upcoming = (limit, start)
    if current is None:
        return LimitsInForce(threshold, maximum, None, None, *(upcoming or (None, None)))
    limit, until = current
    return LimitsInForce(limit.threshold, limit.maximum, limit, until, *(upcoming or (None, None)))


# -------------------------------------------------------------------------------------- enforcement


@dataclass(frozen=True)
class SurplusCandidate:
    """A desktop of the pool as the enforcement sees it."""

    desktop_id: int
    idle_since: float  # epoch seconds: its last release, session end, claim or creation, the latest
    removable: bool  # unassigned, deletable, ready, no session, no user reported by its agent
    pending_delete: bool = False


@dataclass(frozen=True)
class Shrink:
    delete: list[int]  # desktop ids, longest idle first
    still_over: int  # how far above the maximum the pool stays (assigned or in-use desktops are kept)


def shrink(total: int, maximum: int, desktops: list[SurplusCandidate]) -> Shrink:
    """Which desktops to delete to bring the pool's total down to `maximum`: only removable ones, the
    longest idle first; those already being deleted count as gone."""
    pending = sum(1 for d in desktops if d.pending_delete)
    excess = total - pending - maximum
    if excess <= 0:
        return Shrink([], 0)
    removable = sorted((d for d in desktops if d.removable and not d.pending_delete),
                       key=lambda d: (d.idle_since, d.desktop_id))
    chosen = [d.desktop_id for d in removable[:excess]]
    return Shrink(chosen, excess - len(chosen))


def needs_tenant_zone(provision: Provision | None) -> bool:
    """Whether the limits in force depend on the tenant's default zone: only a pool with time limits and no
    zone of its own that resolves reads them in it (without time limits the zone changes nothing)."""
    if provision is None:
        return False
    own = provision.provision_time_zone
    return bool(provision.time_limits) and not (own and zone_problem(own) is None)


def for_provision(provision: Provision | None, now: float, tenant_zone: str | None = None
                  ) -> tuple[str, LimitsInForce]:
    """The limits in force for a pool's `provision` (None: a pool that does not provision, whose limits
    are 0) at `now`, and the name of the zone read."""
    provision = provision or Provision()
    name, zone = zone_of(provision.provision_time_zone, tenant_zone)
    return name, limits_in_force(provision.provision_threshold, provision.provision_max,
                                 from_docs(provision.time_limits), zone, now)
