"""The forecast (pure rules): the weekday x hour profile, recent weeks weighing more, the ready time and
the lead it gives, the recommended time limits and their sentences, too little history, the cap, the
zone, and that every recommendation is a valid `time_limits` list."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.domain import forecast as fc
from chalicelib.domain import time_limits as tl
from chalicelib.domain.errors import ErrorList

MONDAY = datetime(2026, 1, 5, tzinfo=UTC).timestamp()  # a Monday, 00:00 UTC
WEEK = 7 * 86400
STEP = 15 * 60
SEVEN_MINUTES = [7 * 60.0] * 10


def week_of_samples(weeks: int, demand: Callable[[int, int, int], int], start: float = MONDAY
                    ) -> tuple[list[fc.Sample], float]:
    """Samples every 15 minutes for `weeks` weeks; demand(week, day, minute of day). Returns the samples
    and `now` (the end of the last week)."""
    samples = []
    for week in range(weeks):
        for slot in range(WEEK // STEP):
            at = start + week * WEEK + slot * STEP
            minute = (slot * STEP // 60) % 1440
            value = demand(week, slot * STEP // 86400, minute)
            samples.append(fc.Sample(at, value, value))
    return samples, start + weeks * WEEK


def monday_morning(week: int, day: int, minute: int) -> int:
    """Nobody, except Mondays 08:00-10:00: 40 desktops (ramping up over the first half hour)."""
    if day == 0 and 8 * 60 <= minute < 10 * 60:
        return min(40, 10 + (minute - 8 * 60))
    return 0


def valid(items: list[dict]) -> list[tuple[str, str]]:
    errors = ErrorList()
    tl.problems(items, errors)
    return [(e.path, e.message) for e in errors.errors]


def test_a_weekly_peak_becomes_a_range_started_the_ready_time_earlier() -> None:
    samples, now = week_of_samples(6, monday_morning)
    result = fc.recommend(samples, SEVEN_MINUTES, UTC, now, own_threshold=1, own_max=5)
    assert result.enough_history and result.weeks == 6
    ready = result.readiness
    assert ready is not None and ready.minutes == 7 and ready.lead_minutes == 10
    # The ramp (08:00-08:30) needs spares; the plateau (09:00-10:00) only the room: one range each.
    assert [(r.day, tl.format_minutes(r.start), tl.format_minutes(r.stop)) for r in result.ranges] == [
        (0, "07:50", "09:00"), (0, "09:00", "10:00")]
    ramp, plateau = result.ranges
    assert ramp.demand_p90 == 40 and ramp.threshold > 1 and ramp.maximum >= 40 + ramp.threshold
    assert ramp.sentence == (f"Mondays 08:00\u201309:00: demand reaches 40 at the 90th percentile over 6 "
                             f"weeks; desktops take 7 min to be ready here; start at 07:50 with threshold "
                             f"{ramp.threshold} and maximum {ramp.maximum}")
    assert plateau.threshold == 1 and plateau.maximum >= 40
    assert plateau.sentence.startswith("Mondays 09:00\u201310:00: demand reaches 40")
    assert "start at 09:00 with threshold 1" in plateau.sentence
    assert result.time_limits == [ramp.as_time_limit(), plateau.as_time_limit()]
    assert not valid(result.time_limits)


def test_the_profile_has_median_p90_and_the_weeks_behind_each_cell() -> None:
    samples, now = week_of_samples(4, lambda week, day, minute: 10 + week if (day, minute // 60) == (1, 9)
                                   else 0)
    cells, weeks = fc.profile(samples, UTC, now)
    tuesday_nine = next(c for c in cells if (c.day, c.hour) == (1, 9))
    assert weeks == 4 and tuesday_nine.weeks == 4
    assert tuesday_nine.assigned_p90 == 13 and tuesday_nine.connected_p90 == 13
    assert 11 <= tuesday_nine.assigned_median <= 13


def test_recent_weeks_weigh_more() -> None:
    # Four old weeks at 10, the two latest at 30: unweighted, the median would be 10.
    samples, now = week_of_samples(6, lambda week, day, minute: 30 if week >= 4 else 10)
    cell = fc.profile(samples, UTC, now)[0][0]
    assert cell.assigned_median == 30
    assert fc.weighted_quantile([(10, 1), (10, 1), (10, 1), (10, 1), (30, 1), (30, 1)], 0.5) == 10


def test_too_little_history_says_so_and_recommends_nothing() -> None:
    samples, now = week_of_samples(2, monday_morning)
    short = fc.recommend(samples, SEVEN_MINUTES, UTC, now, 1, 5)
    assert not short.enough_history and short.ranges == [] and short.time_limits == []
    assert short.reason.startswith("Too little history: 2 week(s) of samples")
    samples, now = week_of_samples(6, monday_morning)
    no_ready = fc.recommend(samples, [400.0, 420.0], UTC, now, 1, 5)
    assert not no_ready.enough_history and no_ready.ranges == []
    assert "2 desktop(s) seen from create request to ready" in no_ready.reason


def test_samples_older_than_the_window_do_not_count() -> None:
    samples, _ = week_of_samples(6, monday_morning)
    later = MONDAY + (6 + fc.WEEKS_CONSIDERED) * WEEK
    assert fc.profile(samples, UTC, later) == ([], 0)


def test_a_cell_with_fewer_weeks_behind_it_recommends_nothing() -> None:
    """Six weeks of samples, but Wednesdays sampled only in the last two (sampling was off before)."""
    samples, now = week_of_samples(6, lambda week, day, minute: 50 if day == 2 and minute // 60 == 14 else 0)
    wednesday = 2 * 86400
    kept = [s for s in samples if not ((s.at - MONDAY) % WEEK // 86400 * 86400 == wednesday
                                       and s.at < MONDAY + 4 * WEEK)]
    result = fc.recommend(kept, SEVEN_MINUTES, UTC, now, 1, 5)
    assert result.enough_history and result.ranges == []
    assert next(c for c in result.cells if (c.day, c.hour) == (2, 14)).weeks == 2


def test_the_pool_s_own_limits_serve_the_quiet_hours() -> None:
    samples, now = week_of_samples(6, lambda week, day, minute: 3)
    result = fc.recommend(samples, SEVEN_MINUTES, UTC, now, own_threshold=2, own_max=10)
    assert result.enough_history and result.ranges == []


def test_the_cap_bounds_the_maximum_and_the_threshold() -> None:
    samples, now = week_of_samples(6, monday_morning)
    result = fc.recommend(samples, SEVEN_MINUTES, UTC, now, 1, 5, max_cap=20)
    assert result.ranges and all(r.maximum == 20 and r.threshold <= 20 for r in result.ranges)
    assert "maximum 20" in result.ranges[0].sentence


def test_cells_are_local_hours_of_the_pool_s_zone() -> None:
    # 07:00 UTC on a winter Monday is 08:00 in Berlin.
    samples, now = week_of_samples(4, lambda week, day, minute: 5 if day == 0 and minute // 60 == 7 else 0)
    cells, _ = fc.profile(samples, ZoneInfo("Europe/Berlin"), now)
    assert [(c.day, c.hour) for c in cells if c.assigned_p90] == [(0, 8)]


def test_a_range_at_midnight_starts_the_evening_before() -> None:
    samples, now = week_of_samples(5, lambda week, day, minute: 30 if day == 0 and minute < 120 else 0)
    result = fc.recommend(samples, SEVEN_MINUTES, UTC, now, 1, 5)
    # Sorted by day: Monday's plateau, then the ramp that starts on Sunday evening.
    assert [(r.day, tl.format_minutes(r.start), tl.format_minutes(r.stop)) for r in result.ranges] == [
        (0, "01:00", "02:00"), (6, "23:50", "01:00")]
    assert result.ranges[1].sentence.startswith("Mondays 00:00\u201301:00:")
    assert "start at 23:50" in result.ranges[1].sentence and not valid(result.time_limits)


def test_a_busy_week_is_cut_into_valid_pieces() -> None:
    samples, now = week_of_samples(4, lambda week, day, minute: 50)
    result = fc.recommend(samples, SEVEN_MINUTES, UTC, now, 1, 5)
    assert result.ranges and not valid(result.time_limits)
    covered = sum(tl.from_docs([r.as_time_limit()])[0].length for r in result.ranges)
    assert covered == tl.MINUTES_PER_WEEK


def test_ready_durations_from_the_log() -> None:
    events = [fc.LogEvent(100, "requested", ("desk-1", "desk-2")), fc.LogEvent(520, "ready", ("desk-1",)),
              fc.LogEvent(700, "ready", ("desk-2",)), fc.LogEvent(800, "ready", ("desk-9",)),
              fc.LogEvent(900, "ready", (), 300.0)]
    assert fc.ready_durations(events) == [420, 600, 300.0]
    ready = fc.readiness([60.0 * m for m in (5, 6, 7, 7, 8, 9, 9, 9, 10, 11)])
    assert ready is not None and ready.median_seconds == 480 and ready.p90_seconds == 600
    assert ready.minutes == 10 and ready.lead_minutes == 10


@settings(max_examples=40, deadline=None)
@given(peaks=st.lists(st.tuples(st.integers(0, 6), st.integers(0, 23), st.integers(1, 4), st.integers(1, 80)),
                      min_size=1, max_size=6),
       ready_minutes=st.integers(1, 90), own=st.integers(0, 10), cap=st.integers(0, 60))
def test_every_recommendation_is_a_valid_time_limits_list(peaks: list[tuple[int, int, int, int]],
                                                          ready_minutes: int, own: int, cap: int) -> None:
    def demand(week: int, day: int, minute: int) -> int:
        return max((height for d, hour, hours, height in peaks
                    if d == day and hour <= minute // 60 < hour + hours), default=0)

    samples, now = week_of_samples(3, demand)
    result = fc.recommend(samples, [ready_minutes * 60.0] * 3, UTC, now, own, own + 2, cap)
    assert result.enough_history
    assert not valid(result.time_limits)
    assert len(result.time_limits) <= tl.MAX_TIME_LIMITS
    for r in result.ranges:
        assert r.threshold <= r.maximum and (cap == 0 or r.maximum <= cap)
    # Every hour whose demand the pool's own maximum cannot hold is inside a range.
    ranges = tl.from_docs(result.time_limits)
    for day, hour, hours, height in peaks:
        if height + own > own + 2:
            for h in range(hour, min(hour + hours, 24)):
                at = MONDAY + day * 86400 + h * 3600 + 1800
                assert tl.limits_in_force(own, own + 2, ranges, UTC, at).time_limit is not None


def test_a_recommended_range_is_a_time_limits_item_with_every_field() -> None:
    late = fc.Recommended(4, 20 * 60, tl.MINUTES_PER_DAY, 3, 9, 6, 5, "")
    assert late.as_time_limit() == {"provision_time_day": 4, "provision_time_start": "20:00",
                                    "provision_time_stop": "24:00", "provision_time_threshold": 3,
                                    "provision_time_max_size": 9}


def test_ranges_that_overlap_once_started_early_are_merged_and_keep_their_weeks() -> None:
    """Two busy hours an hour apart, and desktops that take 70 minutes: the second range, started 70
    minutes early, runs into the first; one range results, over the weeks behind both."""
    samples, now = week_of_samples(6, lambda week, day, minute: 40 if day == 0 and minute // 60 in (8, 10)
                                   else 0)
    result = fc.recommend(samples, [70 * 60.0] * 5, UTC, now, 1, 5)
    assert [(r.day, tl.format_minutes(r.start), tl.format_minutes(r.stop)) for r in result.ranges] == [
        (0, "06:50", "11:00")]
    assert result.ranges[0].weeks == 6 and " over 6 weeks" in result.ranges[0].sentence


def test_the_profile_and_readiness_are_shown_with_every_figure() -> None:
    cell = fc.Cell(1, 9, 4, 11.0, 13.0, 10.0, 12.0, 0.5)
    assert cell.as_doc() == {"day": 1, "hour": 9, "weeks": 4, "assigned_median": 11.0, "assigned_p90": 13.0,
                             "connected_median": 10.0, "connected_p90": 12.0}
    assert fc.Readiness(5, 300.0, 420.0).as_doc() == {"count": 5, "median_seconds": 300.0,
                                                      "p90_seconds": 420.0, "lead_minutes": 10}


def test_the_threshold_covers_the_arrivals_during_the_lead_and_their_spread() -> None:
    assert fc.threshold_for(0.0, 10) == 0
    assert fc.threshold_for(2.0, 10) == 26  # 20 expected, plus 1.3 x sqrt(20) = 5.8


def test_a_sentence_ending_at_midnight_says_24_00() -> None:
    words = fc.sentence(0, 22 * 60, tl.MINUTES_PER_DAY, 21 * 60 + 50, 5, 4, 7, 2, 9)
    assert words == ("Mondays 22:00\u201324:00: demand reaches 5 at the 90th percentile over 4 weeks; "
                     "desktops take 7 min to be ready here; start at 21:50 with threshold 2 and maximum 9")
    one_past = fc.sentence(0, 22 * 60, 23 * 60 + 1, 21 * 60, 5, 4, 7, 2, 9)
    assert one_past.startswith("Mondays 22:00\u201323:01:")


def test_the_ramp_s_threshold_is_its_fastest_rise_with_headroom_over_the_lead() -> None:
    samples, now = week_of_samples(6, monday_morning)
    ramp = fc.recommend(samples, SEVEN_MINUTES, UTC, now, own_threshold=1, own_max=5).ranges[0]
    # the fastest rise in 08:00-09:00 is 15 desktops in 15 minutes; the lead is 10 minutes
    assert ramp.threshold == fc.threshold_for(1.0 * (1 + fc.HEADROOM), 10) == 17


def test_a_quiet_hour_that_fits_exactly_under_the_maximum_needs_no_range() -> None:
    samples, now = week_of_samples(6, lambda week, day, minute: 3)
    assert fc.recommend(samples, SEVEN_MINUTES, UTC, now, own_threshold=2, own_max=5).ranges == []
    assert fc.recommend(samples, SEVEN_MINUTES, UTC, now, own_threshold=2, own_max=4).ranges


def test_a_plateau_above_the_maximum_is_covered_even_when_the_demand_alone_fits() -> None:
    """Six desktops from 09:00 to 11:00, the pool's own maximum 5 and threshold 2: 10:00-11:00 needs no
    spares for a rise, but 6 + 2 is above 5."""
    samples, now = week_of_samples(6, lambda week, day, minute: 6 if day == 0 and 9 <= minute // 60 < 11
                                   else 0)
    result = fc.recommend(samples, SEVEN_MINUTES, UTC, now, own_threshold=2, own_max=5)
    ranges = tl.from_docs(result.time_limits)
    assert tl.limits_in_force(2, 5, ranges, UTC, MONDAY + 10.5 * 3600).time_limit is not None


def test_three_weeks_of_history_are_enough_for_a_cell() -> None:
    samples, now = week_of_samples(3, monday_morning)
    assert fc.recommend(samples, SEVEN_MINUTES, UTC, now, 1, 5).ranges


def test_a_cell_with_too_few_weeks_does_not_stop_the_later_ones() -> None:
    samples, now = week_of_samples(6, lambda week, day, minute: 50 if day in (2, 3) and minute // 60 == 14
                                   else 0)
    wednesday = 2 * 86400
    kept = [s for s in samples if not ((s.at - MONDAY) % WEEK // 86400 * 86400 == wednesday
                                       and s.at < MONDAY + 4 * WEEK)]
    result = fc.recommend(kept, SEVEN_MINUTES, UTC, now, 1, 5)
    assert {r.day for r in result.ranges} == {3}  # Thursday's, though Wednesday's cell comes first


def test_a_longer_plateau_is_one_range_to_the_hour_with_its_weeks() -> None:
    samples, now = week_of_samples(6, lambda week, day, minute: 40 if day == 0 and 8 <= minute // 60 < 11
                                   else 0)
    result = fc.recommend(samples, SEVEN_MINUTES, UTC, now, 1, 5)
    assert [(tl.format_minutes(r.start), tl.format_minutes(r.stop), r.weeks) for r in result.ranges] == [
        ("07:50", "09:00", 6), ("09:00", "11:00", 6)]
    assert all(" over 6 weeks" in r.sentence for r in result.ranges)


def test_a_step_up_inside_a_block_starts_the_lead_earlier() -> None:
    """10 desktops from 08:00, then a climb to 40 from 09:00: the higher threshold starts 10 minutes
    before 09:00, and the lower range ends there."""
    def demand(week: int, day: int, minute: int) -> int:
        if day != 0 or not 8 * 60 <= minute < 10 * 60:
            return 0
        return 10 if minute < 9 * 60 else min(40, 25 + (minute - 9 * 60))

    samples, now = week_of_samples(6, demand)
    result = fc.recommend(samples, SEVEN_MINUTES, UTC, now, 1, 5)
    spans = [(tl.format_minutes(r.start), tl.format_minutes(r.stop)) for r in result.ranges]
    assert spans[:2] == [("07:50", "08:50"), ("08:50", "10:00")]
    assert result.ranges[0].threshold < result.ranges[1].threshold


def test_a_week_s_weight_halves_every_two_weeks_and_ages_count_whole_weeks() -> None:
    assert fc.week_weight(0) == 1.0 and fc.week_weight(2) == 0.5 and fc.week_weight(4) == 0.25
    now = MONDAY + 10 * WEEK
    assert [fc.week_age(now, at) for at in (now, now - 1, now - WEEK, now - WEEK - 1)] == [0, 0, 0, 1]


def test_the_window_holds_a_sample_taken_now_and_one_exactly_eight_weeks_old() -> None:
    now = MONDAY + 10 * WEEK
    for at in (now, now - fc.WEEKS_CONSIDERED * WEEK):
        assert len(fc.profile([fc.Sample(at, 3, 2)], UTC, now)[0]) == 1
    assert fc.profile([fc.Sample(now + 1, 3, 2)], UTC, now) == ([], 0)  # from the future: not yet


def test_too_little_history_still_shows_what_was_learned() -> None:
    samples, now = week_of_samples(2, monday_morning)
    short = fc.recommend(samples, SEVEN_MINUTES, UTC, now, 1, 5)
    assert short.enough_history is False and short.weeks == 2 and short.cells and short.readiness is not None
    assert short.reason == ("Too little history: 2 week(s) of samples, at least 3 are needed (keep "
                            "pool_history_age at 21 days or more). Nothing is recommended.")
    samples, now = week_of_samples(6, monday_morning)
    few = fc.recommend(samples, [400.0, 420.0], UTC, now, 1, 5)
    assert few.enough_history is False and few.weeks == 6 and few.cells and few.readiness.count == 2
    none_ready = fc.recommend(samples, [], UTC, now, 1, 5)
    assert "0 desktop(s) seen from create request to ready" in none_ready.reason
    assert fc.recommend(samples, SEVEN_MINUTES, UTC, now, 1, 5).reason == ""
    # a desktop ready at once counts; a negative duration is bad data
    assert fc.readiness([0.0, 60.0, -1.0]).count == 2


def test_recommended_ranges_are_in_the_pool_s_local_time() -> None:
    # 07:00-09:00 UTC on winter Mondays is 08:00-10:00 in Berlin.
    samples, now = week_of_samples(6, lambda week, day, minute: monday_morning(week, day, minute + 60))
    result = fc.recommend(samples, SEVEN_MINUTES, ZoneInfo("Europe/Berlin"), now, 1, 5)
    assert [(r.day, tl.format_minutes(r.start)) for r in result.ranges][:1] == [(0, "07:50")]


def test_a_range_that_runs_past_the_week_s_end_is_merged_with_monday_s() -> None:
    """Busy Mondays 00:00-01:00 and 02:00-03:00, desktops ready in 70 minutes: the first range starts on
    Sunday evening and runs into the second; one valid range, not two overlapping items."""
    busy = ((0, 0), (0, 2), (2, 14))  # (day, hour); Wednesday's makes a third range in the middle
    samples, now = week_of_samples(6, lambda week, day, minute: 40 if (day, minute // 60) in busy else 0)
    result = fc.recommend(samples, [70 * 60.0] * 5, UTC, now, 1, 5)
    assert [(r.day, tl.format_minutes(r.start), tl.format_minutes(r.stop)) for r in result.ranges] == [
        (2, "12:50", "15:00"), (6, "22:50", "03:00")]
    assert not valid(result.time_limits)


def test_the_maximum_is_the_peak_with_headroom_plus_the_threshold() -> None:
    samples, now = week_of_samples(6, monday_morning)
    ramp = fc.recommend(samples, SEVEN_MINUTES, UTC, now, 1, 5).ranges[0]
    assert ramp.maximum == math.ceil(40 * (1 + fc.MAX_HEADROOM)) + ramp.threshold == 71


def test_assigned_and_connected_are_profiled_apart() -> None:
    samples = [fc.Sample(MONDAY + week * WEEK + 9 * 3600, 10 + week, week) for week in range(4)]
    cell = fc.profile(samples, UTC, MONDAY + 4 * WEEK)[0][0]
    figures = (cell.assigned_median, cell.assigned_p90, cell.connected_median, cell.connected_p90)
    assert figures == (12, 13, 2, 3)


def test_an_old_peak_fades_out_of_the_90th_percentile() -> None:
    """Eight weeks at 10, but 50 in the oldest: its weight (a half-life of two weeks) is under a tenth."""
    now = MONDAY + 8 * WEEK
    samples = [fc.Sample(MONDAY + week * WEEK + 9 * 3600, 50 if week == 0 else 10, 50 if week == 0 else 10)
               for week in range(8)]
    cell = fc.profile(samples, UTC, now)[0][0]
    assert (cell.assigned_p90, cell.connected_p90) == (10, 10)


def test_a_cell_s_peak_is_the_highest_sample_of_the_hour() -> None:
    at = MONDAY + 9 * 3600
    hour = ((0, 40, 30), (15, 10, 0), (30, 8, 0))  # (minute, assigned, connected): the peak comes first
    samples = [fc.Sample(at + week * WEEK + minutes * 60, assigned, connected)
               for week in range(4) for minutes, assigned, connected in hour]
    cell = fc.profile(samples, UTC, MONDAY + 4 * WEEK)[0][0]
    assert (cell.assigned_p90, cell.connected_p90) == (40, 30)
    quiet_samples = [fc.Sample(at + week * WEEK, 5, 0) for week in range(4)]
    quiet = fc.profile(quiet_samples, UTC, MONDAY + 4 * WEEK)[0][0]
    assert quiet.connected_p90 == 0


def test_the_rise_is_counted_per_minute() -> None:
    at = MONDAY + 9 * 3600
    samples = [fc.Sample(at + week * WEEK + minutes * 60, assigned, assigned)
               for week in range(4) for minutes, assigned in ((0, 10), (15, 25))]
    assert fc.profile(samples, UTC, MONDAY + 4 * WEEK)[0][0].rise_per_minute_p90 == 1.0  # 15 in 15 minutes


def test_a_span_of_exactly_a_day_not_starting_at_midnight_is_cut_there() -> None:
    """One item of 24 hours from 01:00 would stop where it starts, which no item may."""
    span = fc._Span(begin=60, end=60 + tl.MINUTES_PER_DAY, demand_begin=60, threshold=1, peak=1.0, weeks=3)
    assert fc._pieces(span) == [(60, tl.MINUTES_PER_DAY), (tl.MINUTES_PER_DAY, tl.MINUTES_PER_DAY + 60)]
