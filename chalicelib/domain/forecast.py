"""The week, learned: a weekday x hour profile of a pool's demand from its history samples, how long its
center takes to make a desktop ready, and the `time_limits` that follow from both. Pure rules: the
samples, the durations, the zone and `now` come in as arguments (docs/provisioning.md, "Forecast").

Decisions where the issue is silent:

- **Demand is the assigned desktops** (what provisioning counts: unassigned = total - assigned); the
  connected desktops are profiled beside it for the admin, and never drive a recommendation.
- **A cell** is a local weekday and hour (in the pool's zone). Each week gives it one value: the highest
  sample of that hour that week. Its median and 90th percentile are weighted by age: a week's weight
  halves every `HALF_LIFE_WEEKS` weeks. Only the last `WEEKS_CONSIDERED` weeks count.
- **The rise** of a cell is the fastest growth of demand between two consecutive samples ending in it,
  per minute; the threshold of a range covers the rise during the time a desktop takes to be ready
  (plus a margin for the randomness of arrivals), so the spare desktops last until new ones are ready.
- **Ready time**: median and 90th percentile of "create request to ready"; a range starts the 90th
  percentile earlier, rounded up to 5 minutes.
- **A range is needed** where the pool's own limits would not serve the 90th percentile: the demand
  plus the threshold it needs is above `provision_max`, or the threshold it needs is above
  `provision_threshold`. Consecutive such hours of one day (a gap of one hour is bridged) form a range;
  ranges that overlap once started earlier are merged; a merged span is cut at local midnights so that
  each piece is a valid `time_limits` item.
- **The maximum** of a range is its 90th-percentile demand plus `HEADROOM` (for a week that grows),
  plus its threshold; `max_cap` (the admin's cap, 0 = none) bounds it, and the threshold with it.
- **Too little history**: fewer than `MIN_WEEKS` weeks of samples, or fewer than `MIN_READY_SAMPLES`
  desktops seen from request to ready, recommends nothing and says why.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any

from chalicelib.domain.time_limits import DAY_NAMES, MINUTES_PER_DAY, MINUTES_PER_WEEK, format_minutes

WEEK_SECONDS = 7 * 24 * 3600
WEEKS_CONSIDERED = 8
HALF_LIFE_WEEKS = 2.0
MIN_WEEKS = 3
MIN_READY_SAMPLES = 3
LEAD_STEP_MINUTES = 5
HEADROOM = 0.2
MAX_HEADROOM = 0.35
POISSON_MARGIN = 1.3
MAX_SAMPLE_GAP_SECONDS = 3600  # two samples further apart say nothing about how fast demand grew


@dataclass(frozen=True)
class Sample:
    """One history sample: when (epoch seconds) and the pool's assigned and connected desktops."""

    at: float
    assigned: int
    connected: int


@dataclass(frozen=True)
class Cell:
    """One weekday (0 Monday) x hour of the profile."""

    day: int
    hour: int
    weeks: int
    assigned_median: float
    assigned_p90: float
    connected_median: float
    connected_p90: float
    rise_per_minute_p90: float

    def as_doc(self) -> dict[str, Any]:
        return {"day": self.day, "hour": self.hour, "weeks": self.weeks,
                "assigned_median": self.assigned_median, "assigned_p90": self.assigned_p90,
                "connected_median": self.connected_median, "connected_p90": self.connected_p90}


@dataclass(frozen=True)
class Readiness:
    """How long the center takes from create request to a ready desktop."""

    count: int
    median_seconds: float
    p90_seconds: float

    @property
    def minutes(self) -> int:
        """The 90th percentile in whole minutes (rounded up), as the sentences say it."""
        return max(1, math.ceil(self.p90_seconds / 60))

    @property
    def lead_minutes(self) -> int:
        """How much earlier a range starts: the 90th percentile rounded up to `LEAD_STEP_MINUTES`."""
        return LEAD_STEP_MINUTES * max(1, math.ceil(self.p90_seconds / 60 / LEAD_STEP_MINUTES))

    def as_doc(self) -> dict[str, Any]:
        return {"count": self.count, "median_seconds": self.median_seconds, "p90_seconds": self.p90_seconds,
                "lead_minutes": self.lead_minutes}


@dataclass(frozen=True)
class Recommended:
    """One recommended range and the sentence giving its numbers."""

    day: int
    start: int  # minutes after midnight
    stop: int  # minutes after midnight; at or before `start` crosses midnight; 1440 is 24:00
    threshold: int
    maximum: int
    demand_p90: int
    weeks: int
    sentence: str

    def as_time_limit(self) -> dict[str, Any]:
        return {"provision_time_day": self.day, "provision_time_start": format_minutes(self.start),
                "provision_time_stop": "24:00" if self.stop == MINUTES_PER_DAY else format_minutes(self.stop),
                "provision_time_threshold": self.threshold, "provision_time_max_size": self.maximum}


@dataclass(frozen=True)
class Forecast:
    enough_history: bool
    reason: str  # why nothing is recommended, or "" when something may be
    weeks: int
    cells: list[Cell]
    readiness: Readiness | None
    ranges: list[Recommended] = field(default_factory=list)

    @property
    def time_limits(self) -> list[dict[str, Any]]:
        return [r.as_time_limit() for r in self.ranges]


# ------------------------------------------------------------------------------------------ statistics


def weighted_quantile(values: list[tuple[float, float]], q: float) -> float:
    """The smallest value whose cumulative weight reaches `q` of the total; `values` are (value, weight)."""
    ordered = sorted(v for v in values if v[1] > 0)
    if not ordered:
        return 0.0
    total = sum(w for _, w in ordered)
    running = 0.0
    for value, weight in ordered:
        running += weight
        if running >= q * total - 1e-9:
            return value
    return ordered[-1][0]


def quantile(values: Iterable[float], q: float) -> float:
    return weighted_quantile([(v, 1.0) for v in values], q)


def week_age(now: float, at: float) -> int:
    """Whole weeks before `now`: 0 for (now - 1 week, now], 1 for the week before, and so on."""
    return max(0, math.ceil((now - at) / WEEK_SECONDS) - 1)


def week_weight(age_weeks: int) -> float:
    return 0.5 ** (age_weeks / HALF_LIFE_WEEKS)


# ----------------------------------------------------------------------------------------- the profile


def profile(samples: Iterable[Sample], zone: tzinfo, now: float) -> tuple[list[Cell], int]:
    """The weekday x hour cells with data, and the number of distinct weeks the samples span."""
    ordered = sorted((s for s in samples if 0 <= now - s.at <= WEEKS_CONSIDERED * WEEK_SECONDS),
                     key=lambda s: s.at)
    # (day, hour) -> week age -> [peak assigned, peak connected, fastest rise per minute]
    per_week: dict[tuple[int, int], dict[int, list[float]]] = defaultdict(dict)
    previous: Sample | None = None
    for sample in ordered:
        local = datetime.fromtimestamp(sample.at, UTC).astimezone(zone)
        key = (local.weekday(), local.hour)
        age = week_age(now, sample.at)
        rise = 0.0
        if previous is not None and 0 < sample.at - previous.at <= MAX_SAMPLE_GAP_SECONDS:
            rise = max(0.0, (sample.assigned - previous.assigned) / ((sample.at - previous.at) / 60))
        entry = per_week[key].setdefault(age, [0.0, 0.0, 0.0])
        entry[0] = max(entry[0], sample.assigned)
        entry[1] = max(entry[1], sample.connected)
        entry[2] = max(entry[2], rise)
        previous = sample
    cells = []
    for (day, hour), weeks in sorted(per_week.items()):
        def stat(index: int, q: float, weeks: dict[int, list[float]] = weeks) -> float:
            return weighted_quantile([(values[index], week_weight(age)) for age, values in weeks.items()], q)
        cells.append(Cell(day, hour, len(weeks), stat(0, 0.5), stat(0, 0.9), stat(1, 0.5), stat(1, 0.9),
                          stat(2, 0.9)))
    weeks_seen = len({week_age(now, s.at) for s in ordered})
    return cells, weeks_seen


def readiness(durations_seconds: Iterable[float]) -> Readiness | None:
    values = [d for d in durations_seconds if d >= 0]
    if not values:
        return None
    return Readiness(len(values), quantile(values, 0.5), quantile(values, 0.9))


def threshold_for(rise_per_minute: float, lead_minutes: int) -> int:
    """Spare desktops that last while new ones are being made: the expected arrivals during the lead
    time, plus 1.3 standard deviations of a Poisson count of that mean (about its 90th percentile)."""
    expected = rise_per_minute * lead_minutes
    return math.ceil(expected + POISSON_MARGIN * math.sqrt(expected))


# ------------------------------------------------------------------------------------ recommendation


@dataclass
class _Span:
    begin: int  # minutes after Monday 00:00 (may be negative or pass the week before normalising)
    end: int
    demand_begin: int
    threshold: int
    peak: float
    weeks: int

    def absorb(self, other: _Span) -> None:
        self.end = max(self.end, other.end)
        self.demand_begin = min(self.demand_begin, other.demand_begin)
        self.threshold = max(self.threshold, other.threshold)
        self.peak = max(self.peak, other.peak)
        self.weeks = min(self.weeks, other.weeks)


def _runs(cells: list[Cell], lead: int, own_threshold: int, own_max: int) -> list[_Span]:
    """The hours whose 90th percentile the pool's own limits do not serve, as spans: consecutive hours of
    one threshold form one span; a block of such hours starts `lead` early, and so does a step up of the
    threshold inside a block (the span before it ends that much sooner)."""
    spans: list[_Span] = []
    for cell in sorted(cells, key=lambda c: (c.day, c.hour)):
        if cell.weeks < MIN_WEEKS:
            continue
        threshold = max(own_threshold, threshold_for(cell.rise_per_minute_p90 * (1 + HEADROOM), lead))
        if not (cell.assigned_p90 + threshold > own_max or threshold > own_threshold):
            continue
        begin = cell.day * MINUTES_PER_DAY + cell.hour * 60
        last = spans[-1] if spans else None
        if last is not None and last.end == begin and last.threshold == threshold:
            last.end = begin + 60
            last.peak = max(last.peak, cell.assigned_p90)
            last.weeks = min(last.weeks, cell.weeks)
            continue
        if last is not None and last.end == begin:  # a step inside a block
            start = begin - lead if threshold > last.threshold else begin
            start = max(start, last.begin + 1)
            last.end = start
            spans.append(_Span(start, begin + 60, begin, threshold, cell.assigned_p90, cell.weeks))
        else:
            spans.append(_Span(begin - lead, begin + 60, begin, threshold, cell.assigned_p90, cell.weeks))
    return spans


def _merge_on_week(spans: list[_Span]) -> list[_Span]:
    """Merge spans that overlap, the week being a circle (Sunday night runs into Monday)."""
    for span in spans:
        shift = (span.begin // MINUTES_PER_WEEK) * MINUTES_PER_WEEK
        span.begin, span.end = span.begin - shift, span.end - shift
        span.demand_begin -= shift
    merged: list[_Span] = []
    for span in sorted(spans, key=lambda s: s.begin):
        if merged and span.begin < merged[-1].end:
            merged[-1].absorb(span)
        else:
            merged.append(span)
    if len(merged) > 1 and merged[-1].end > merged[0].begin + MINUTES_PER_WEEK:
        first = merged.pop(0)
        first.begin, first.end = first.begin + MINUTES_PER_WEEK, first.end + MINUTES_PER_WEEK
        first.demand_begin += MINUTES_PER_WEEK
        merged[-1].absorb(first)
    for span in merged:
        span.end = min(span.end, span.begin + MINUTES_PER_WEEK)
    return merged


def _pieces(span: _Span) -> list[tuple[int, int]]:
    """[begin, end) cut so that each piece is one valid item: shorter than a day, or a whole day."""
    pieces = []
    begin = span.begin
    while begin < span.end:
        length = span.end - begin
        at_midnight = begin % MINUTES_PER_DAY == 0
        if length < MINUTES_PER_DAY or (length == MINUTES_PER_DAY and at_midnight):
            pieces.append((begin, span.end))
            break
        cut = begin + MINUTES_PER_DAY if at_midnight else (begin // MINUTES_PER_DAY + 1) * MINUTES_PER_DAY
        pieces.append((begin, cut))
        begin = cut
    return pieces


def sentence(day: int, demand_start: int, stop: int, start: int, peak: int, weeks: int,
             ready_minutes: int, threshold: int, maximum: int) -> str:
    """The range's numbers in words; times are minutes after Monday 00:00 (a stop at a midnight is 24:00)."""
    stop_text = "24:00" if stop % MINUTES_PER_DAY == 0 else format_minutes(stop % MINUTES_PER_DAY)
    return (f"{DAY_NAMES[day]}s {format_minutes(demand_start % MINUTES_PER_DAY)}\u2013{stop_text}: "
            f"demand reaches {peak} at the 90th percentile over {weeks} weeks; desktops take {ready_minutes} "
            f"min to be ready here; start at {format_minutes(start % MINUTES_PER_DAY)} with threshold "
            f"{threshold} and maximum {maximum}")


def recommend(samples: Iterable[Sample], durations_seconds: Iterable[float], zone: tzinfo, now: float,
              own_threshold: int, own_max: int, max_cap: int = 0) -> Forecast:
    """The profile and, with enough history, the recommended `time_limits` with their sentences."""
    cells, weeks = profile(samples, zone, now)
    ready = readiness(durations_seconds)
    if weeks < MIN_WEEKS:
        return Forecast(False, f"Too little history: {weeks} week(s) of samples, at least {MIN_WEEKS} are "
                               "needed (keep pool_history_age at 21 days or more). Nothing is recommended.",
                        weeks, cells, ready)
    if ready is None or ready.count < MIN_READY_SAMPLES:
        seen = ready.count if ready else 0
        return Forecast(False, f"Too little history: {seen} desktop(s) seen from create request to ready, at "
                               f"least {MIN_READY_SAMPLES} are needed. Nothing is recommended.",
                        weeks, cells, ready)
    lead = ready.lead_minutes
    ranges: list[Recommended] = []
    for span in _merge_on_week(_runs(cells, lead, own_threshold, own_max)):
        peak = math.ceil(span.peak)
        maximum = math.ceil(span.peak * (1 + MAX_HEADROOM)) + span.threshold
        threshold = span.threshold
        if max_cap > 0:
            maximum = min(maximum, max_cap)
            threshold = min(threshold, maximum)
        for begin, end in _pieces(span):
            day = (begin // MINUTES_PER_DAY) % 7
            start = begin % MINUTES_PER_DAY
            stop = end - (begin // MINUTES_PER_DAY) * MINUTES_PER_DAY
            stop = stop if stop <= MINUTES_PER_DAY else stop - MINUTES_PER_DAY
            demand_start = max(begin, span.demand_begin) if span.demand_begin < end else begin
            words = sentence((demand_start // MINUTES_PER_DAY) % 7, demand_start, end, begin, peak,
                             span.weeks, ready.minutes, threshold, maximum)
            ranges.append(Recommended(day, start, stop, threshold, maximum, peak, span.weeks, words))
    ranges.sort(key=lambda r: (r.day, r.start))
    return Forecast(True, "", weeks, cells, ready, ranges)


# ------------------------------------------------------------------------------- the provisioning log


@dataclass(frozen=True)
class LogEvent:
    """What the provisioning log says: `requested` names the desktops a check created at `at`;
    `ready` says one desktop became ready at `at` (with `seconds_to_ready` when it was recorded)."""

    at: float
    kind: str  # "requested" or "ready"
    names: tuple[str, ...]
    seconds_to_ready: float | None = None


def ready_durations(events: Iterable[LogEvent]) -> list[float]:
    """Create request to ready, per desktop: the recorded duration, else the time since the latest
    request naming the desktop (events written before durations were recorded)."""
    requested_at: dict[str, float] = {}
    durations: list[float] = []
    for event in sorted(events, key=lambda e: e.at):
        if event.kind == "requested":
            for name in event.names:
                requested_at[name] = event.at
        elif event.kind == "ready":
            if event.seconds_to_ready is not None:
                durations.append(event.seconds_to_ready)
            elif event.names and event.names[0] in requested_at:
                durations.append(event.at - requested_at.pop(event.names[0]))
    return durations
