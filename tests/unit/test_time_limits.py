"""Time limits (pure rules): the reference's items validated, the limits in force at an instant, the
daylight-saving days of Europe/Berlin and America/New_York, and which surplus desktops go first."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.domain import time_limits as tl
from chalicelib.domain.entities.pools import Provision
from chalicelib.domain.errors import ErrorList


def utc(*fields: int) -> datetime:
    return datetime(*fields, tzinfo=UTC)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def item(day: int, start: str, stop: str, threshold: int = 2, maximum: int = 5) -> dict[str, Any]:
    return {"provision_time_day": day, "provision_time_start": start, "provision_time_stop": stop,
            "provision_time_threshold": threshold, "provision_time_max_size": maximum}


def problems_of(items: list[dict[str, Any]]) -> list[tuple[str, str]]:
    errors = ErrorList()
    tl.problems(items, errors)
    return [(e.path, e.message) for e in errors.errors]


def epoch(text: str, zone: Any = UTC) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=zone).timestamp()


# ------------------------------------------------------------------------------------- validation


def test_times_are_hh_mm_and_24_00_ends_the_day() -> None:
    assert tl.parse_time("08:00") == 480 and tl.parse_time("8:05") == 485
    assert tl.parse_time("24:00") is None and tl.parse_time("24:00", is_stop=True) == 1440
    for bad in ("8", "08:60", "25:00", "8am", "08:00:00", "", " : "):
        assert tl.parse_time(bad, is_stop=True) is None, bad
    assert problems_of([item(0, "00:00", "24:00"), item(1, "9:30", "17:00")]) == []
    assert tl.normalized([item(1, "9:30", "24:00")])[0]["provision_time_start"] == "09:30"


def test_bad_items_are_named_by_index_and_field() -> None:
    found = problems_of([item(0, "08:00", "10:00"), item(1, "8h", "10:00"), item(2, "08:00", "25:00"),
                         item(3, "09:00", "09:00"), item(4, "08:00", "10:00", threshold=6, maximum=5)])
    paths = [path for path, _ in found]
    assert paths == ["/body/provision/time_limits/1/provision_time_start",
                     "/body/provision/time_limits/2/provision_time_stop",
                     "/body/provision/time_limits/3/provision_time_stop",
                     "/body/provision/time_limits/4/provision_time_max_size"]


def test_an_overlap_names_the_later_item_and_the_field_that_runs_into_the_earlier_one() -> None:
    found = problems_of([item(0, "08:00", "10:00"), item(0, "12:00", "14:00"), item(0, "07:00", "08:30")])
    assert found == [("/body/provision/time_limits/2/provision_time_stop",
                      "Monday 07:00-08:30 overlaps time_limits/0 (Monday 08:00-10:00)")]
    found = problems_of([item(0, "08:00", "10:00"), item(0, "09:00", "11:00")])
    assert [p for p, _ in found] == ["/body/provision/time_limits/1/provision_time_start"]


def test_ranges_that_touch_do_not_overlap_and_midnight_crossings_are_checked_across_days() -> None:
    assert problems_of([item(0, "08:00", "10:00"), item(0, "10:00", "12:00")]) == []
    # Sunday 22:00 to Monday 06:00 runs into Monday's early range, across the week's end
    found = problems_of([item(0, "05:00", "07:00"), item(6, "22:00", "06:00")])
    assert [p for p, _ in found] == ["/body/provision/time_limits/1/provision_time_stop"]
    assert problems_of([item(0, "06:00", "07:00"), item(6, "22:00", "06:00")]) == []


def test_time_zone_names() -> None:
    assert tl.zone_problem("Europe/Berlin") is None and tl.zone_problem("UTC") is None
    for bad in ("Mars/Olympus", "../etc/passwd", "Europe/../../x", "", "Europe/Berlin "):
        assert tl.zone_problem(bad), bad
    assert tl.zone_of("", "America/New_York")[0] == "America/New_York"
    assert tl.zone_of("Europe/Berlin", "America/New_York")[0] == "Europe/Berlin"
    assert tl.zone_of(None, None)[0] == "UTC"


# ---------------------------------------------------------------------------------- in force now


def test_inside_a_range_its_limits_outside_the_pool_s_own_and_the_next_start() -> None:
    ranges = tl.from_docs([item(0, "08:00", "10:00", 12, 45), item(4, "22:00", "06:00", 1, 3)])
    monday_9 = epoch("2026-12-07T09:00", BERLIN)  # a Monday
    now = tl.limits_in_force(2, 10, ranges, BERLIN, monday_9)
    assert (now.threshold, now.maximum, now.time_limit.index) == (12, 45, 0)
    assert now.until == datetime(2026, 12, 7, 10, 0, tzinfo=BERLIN)
    assert now.next_limit.index == 1 and now.next_start == datetime(2026, 12, 11, 22, 0, tzinfo=BERLIN)
    later = tl.limits_in_force(2, 10, ranges, BERLIN, epoch("2026-12-07T10:00", BERLIN))
    assert (later.threshold, later.maximum, later.time_limit) == (2, 10, None)
    # Friday's night range crosses midnight: in force on Saturday at 03:00, not at 06:00
    assert tl.limits_in_force(2, 10, ranges, BERLIN, epoch("2026-12-12T03:00", BERLIN)).maximum == 3
    saturday_6 = tl.limits_in_force(2, 10, ranges, BERLIN, epoch("2026-12-12T06:00", BERLIN))
    assert saturday_6.time_limit is None
    assert saturday_6.next_start == datetime(2026, 12, 14, 8, 0, tzinfo=BERLIN)  # Monday's, two days on
    assert tl.limits_in_force(2, 10, [], BERLIN, monday_9) == tl.LimitsInForce(2, 10, None, None, None, None)


def test_the_time_zone_decides_the_instant() -> None:
    ranges = tl.from_docs([item(0, "08:00", "10:00", 12, 45)])
    at = epoch("2026-12-07T07:30")  # 07:30 UTC: 08:30 in Berlin, 02:30 in New York
    assert tl.limits_in_force(2, 10, ranges, BERLIN, at).maximum == 45
    assert tl.limits_in_force(2, 10, ranges, NEW_YORK, at).maximum == 10
    assert tl.limits_in_force(2, 10, ranges, UTC, at).maximum == 10


# ------------------------------------------------------------------------------- daylight saving


def test_berlin_spring_forward_a_morning_range_starts_at_its_wall_clock_time() -> None:
    # 2026-03-29 (Sunday): 02:00 CET becomes 03:00 CEST. 08:00 is 06:00 UTC that day, 07:00 UTC before.
    ranges = tl.from_docs([item(6, "08:00", "10:00", 12, 45)])
    assert tl.limits_in_force(2, 10, ranges, BERLIN, epoch("2026-03-29T05:59")).maximum == 10
    assert tl.limits_in_force(2, 10, ranges, BERLIN, epoch("2026-03-29T06:00")).maximum == 45
    assert tl.limits_in_force(2, 10, ranges, BERLIN, epoch("2026-03-22T06:30")).maximum == 10
    assert tl.limits_in_force(2, 10, ranges, BERLIN, epoch("2026-03-22T07:00")).maximum == 45


def test_berlin_a_range_in_the_skipped_hour_is_not_skipped() -> None:
    ranges = tl.from_docs([item(6, "02:00", "03:00", 12, 45)])
    start, stop = tl.occurrence(ranges[0], date(2026, 3, 29), BERLIN)
    assert start == datetime(2026, 3, 29, 1, 0, tzinfo=UTC) and stop - start == timedelta(hours=1)
    assert tl.limits_in_force(2, 10, ranges, BERLIN, epoch("2026-03-29T01:30")).maximum == 45
    start, stop = tl.occurrence(tl.from_docs([item(6, "02:30", "04:00")])[0], date(2026, 3, 29), BERLIN)
    assert (start, stop) == (utc(2026, 3, 29, 1, 30), utc(2026, 3, 29, 2, 0))


def test_berlin_fall_back_the_repeated_hour_is_one_range_not_two() -> None:
    # 2026-10-25 (Sunday): 03:00 CEST becomes 02:00 CET; 02:00-03:00 happens twice on the wall.
    ranges = tl.from_docs([item(6, "02:00", "03:00", 12, 45)])
    start, stop = tl.occurrence(ranges[0], date(2026, 10, 25), BERLIN)
    assert (start, stop) == (utc(2026, 10, 25, 0, 0), utc(2026, 10, 25, 2, 0))
    inside = tl.limits_in_force(2, 10, ranges, BERLIN, epoch("2026-10-25T01:30"))  # the second 02:30
    assert inside.maximum == 45 and inside.until == stop
    assert inside.next_start == datetime(2026, 11, 1, 2, 0, tzinfo=BERLIN)  # next week's, not a second today


def test_new_york_spring_and_fall() -> None:
    # 2026-03-08 and 2026-11-01 (Sundays) at 02:00 local.
    ranges = tl.from_docs([item(6, "01:30", "02:30", 12, 45)])
    start, stop = tl.occurrence(ranges[0], date(2026, 3, 8), NEW_YORK)
    assert start == datetime(2026, 3, 8, 6, 30, tzinfo=UTC) and stop > start
    start, stop = tl.occurrence(ranges[0], date(2026, 11, 1), NEW_YORK)
    # 01:30 EDT (first pass) to 02:30 EST: two hours of real time, once
    assert (start, stop) == (utc(2026, 11, 1, 5, 30), utc(2026, 11, 1, 7, 30))


_QUARTER = st.integers(0, 95).map(lambda q: q * 15)
_DST_WEEKS = [date(2026, 3, 23), date(2026, 10, 19), date(2026, 3, 2), date(2026, 10, 26)]  # Mondays


@settings(max_examples=40, deadline=None)
@given(day=st.integers(0, 6), start=_QUARTER, stop=_QUARTER, zone=st.sampled_from([BERLIN, NEW_YORK]),
       week=st.sampled_from(_DST_WEEKS))
def test_every_range_happens_exactly_once_a_week_across_dst(day: int, start: int, stop: int, zone: ZoneInfo,
                                                             week: date) -> None:
    """Stepping through a local week (Monday 00:00 to Monday 00:00, 167 to 169 hours) that holds a clock
    change of Berlin or New York, the range comes into force exactly once, and lasts no more than its
    length plus the hour the clocks went back."""
    if start == stop:
        return
    stop = stop or tl.MINUTES_PER_DAY
    ranges = [tl.TimeLimit(0, day, start, stop, 7, 9)]
    begin = datetime.combine(week, datetime.min.time()).replace(tzinfo=zone).timestamp()
    end = datetime.combine(week + timedelta(days=7), datetime.min.time()).replace(tzinfo=zone).timestamp()
    steps = int(end - begin) // 900
    inside = [tl.limits_in_force(1, 2, ranges, zone, begin + n * 900).maximum == 9 for n in range(-1, steps)]
    entries = sum(1 for n in range(1, steps + 1) if inside[n] and not inside[n - 1])
    assert entries == 1
    assert 1 <= sum(inside[1:]) <= (ranges[0].length + 60) // 15

# --------------------------------------------------------------------------------------- shrink


def test_shrink_deletes_the_longest_idle_removable_desktops_only() -> None:
    desktops = [tl.SurplusCandidate(1, idle_since=300, removable=True),
                tl.SurplusCandidate(2, idle_since=100, removable=True),
                tl.SurplusCandidate(3, idle_since=50, removable=False),  # assigned or in use
                tl.SurplusCandidate(4, idle_since=200, removable=True)]
    assert tl.shrink(4, 2, desktops) == tl.Shrink([2, 4], 0)
    assert tl.shrink(4, 0, desktops) == tl.Shrink([2, 4, 1], 1)  # desktop 3 stays: one above
    assert tl.shrink(4, 4, desktops) == tl.Shrink([], 0)
    pending = [tl.SurplusCandidate(2, 100, True, pending_delete=True), *desktops[:1], *desktops[2:]]
    assert tl.shrink(4, 2, pending) == tl.Shrink([4], 0)  # one already on its way out


def test_zones_resolve_without_the_systems_time_zone_database() -> None:
    """The Lambda image need not have /usr/share/zoneinfo: the pinned `tzdata` package carries the zones.
    Without it every pool's zone would silently read as UTC (`zone_of` falls back)."""
    import zoneinfo

    zoneinfo.reset_tzpath(to=[])  # no system database at all
    zoneinfo.ZoneInfo.clear_cache()
    try:
        assert tl.zone_problem("Europe/Berlin") is None
        name, zone = tl.zone_of("Europe/Berlin", None)
        assert name == "Europe/Berlin"
        assert datetime(2026, 7, 1, 12, tzinfo=zone).utcoffset() == timedelta(hours=2)
    finally:
        zoneinfo.reset_tzpath()
        zoneinfo.ZoneInfo.clear_cache()


def test_only_time_limits_without_a_zone_of_their_own_need_the_tenant_s_zone() -> None:
    ranges = [{"provision_time_day": 0, "provision_time_start": "08:00", "provision_time_stop": "10:00",
               "provision_time_threshold": 1, "provision_time_max_size": 1}]

    def needs_zone(provision: dict[str, Any]) -> bool:
        return tl.needs_tenant_zone(Provision.from_doc(provision))

    assert not tl.needs_tenant_zone(None)  # a pool that does not provision
    assert not needs_zone({"time_limits": []})
    assert not needs_zone({"time_limits": ranges, "provision_time_zone": "Asia/Tokyo"})
    assert needs_zone({"time_limits": ranges})
    assert needs_zone({"time_limits": ranges, "provision_time_zone": ""})
    # A stored zone that no longer resolves (a time zone database change) falls back to the tenant's.
    assert needs_zone({"time_limits": ranges, "provision_time_zone": "Mars/Base"})


def test_an_overlap_message_writes_24_00_and_next_day() -> None:
    found = problems_of([item(0, "20:00", "24:00"), item(0, "23:00", "01:00")])
    assert found == [("/body/provision/time_limits/1/provision_time_start",
                      "Monday 23:00-01:00 (next day) overlaps time_limits/0 (Monday 20:00-24:00)")]


def test_a_range_is_stored_with_every_field_and_24_00() -> None:
    assert tl.from_docs([item(2, "9:30", "24:00", 3, 7)])[0].as_doc() == item(2, "09:30", "24:00", 3, 7)
    assert tl.from_docs([item(6, "22:00", "06:00", 1, 2)])[0].as_doc() == item(6, "22:00", "06:00", 1, 2)


def test_only_text_is_a_time_and_any_minute_of_the_hour_counts() -> None:
    assert tl.parse_time(None) is None and tl.parse_time(800) is None  # type: ignore[arg-type]
    assert tl.parse_time("08:59") == 539 and tl.parse_time("23:59") == 1439


def test_each_bad_field_says_what_to_write() -> None:
    found = problems_of([item(0, "8h", "10:00"), item(1, "08:00", "25:00"), item(2, "09:00", "09:00"),
                         item(3, "08:00", "10:00", threshold=6, maximum=5)])
    assert [message for _, message in found] == [
        "Give the start as HH:MM (00:00 to 23:59)", "Give the stop as HH:MM (00:01 to 24:00)",
        "The stop equals the start: for the whole day write 00:00 to 24:00",
        "The range's maximum must be greater than or equal to its threshold"]


def test_a_maximum_equal_to_its_threshold_is_fine_and_missing_numbers_are_zero() -> None:
    assert problems_of([item(0, "08:00", "10:00", threshold=5, maximum=5)]) == []
    bare = {"provision_time_day": 0, "provision_time_start": "08:00", "provision_time_stop": "10:00"}
    assert problems_of([bare]) == []
    assert [p for p, _ in problems_of([{**bare, "provision_time_threshold": 1}])] == [
        "/body/provision/time_limits/0/provision_time_max_size"]
    assert tl.from_docs([bare]) == [tl.TimeLimit(0, 0, 480, 600, 0, 0)]


def test_at_most_100_ranges() -> None:
    hours = [item(slot // 24, f"{slot % 24:02d}:00", f"{slot % 24:02d}:30") for slot in range(101)]
    assert not [p for p, _ in problems_of(hours[:100]) if p == "/body/provision/time_limits"]
    assert problems_of(hours) == [("/body/provision/time_limits", "At most 100 time ranges")]


def test_a_stored_item_that_does_not_parse_is_left_out_and_the_others_kept() -> None:
    ranges = tl.from_docs([item(0, "08:00", "25:00"), item(1, "25:00", "10:00"), item(2, "08:00", "10:00")])
    assert [r.index for r in ranges] == [2]


def test_a_pool_s_stored_provisioning_gives_its_zone_and_the_limits_in_force() -> None:
    provision = Provision.from_doc({"provision_threshold": 2, "provision_max": 10,
                                    "provision_time_zone": "Europe/Berlin",
                                    "time_limits": [item(0, "08:00", "10:00", 12, 45)]})
    monday_9 = epoch("2026-12-07T09:00", BERLIN)
    name, now = tl.for_provision(provision, monday_9, "America/New_York")
    assert (name, now.threshold, now.maximum, now.time_limit.index) == ("Europe/Berlin", 12, 45, 0)
    name, now = tl.for_provision(replace(provision, provision_time_zone=None), monday_9, "America/New_York")
    assert (name, now.threshold, now.maximum) == ("America/New_York", 2, 10)  # 03:00 in New York
    assert tl.for_provision(Provision(), monday_9) == ("UTC", tl.LimitsInForce(0, 0, None, None, None, None))
    assert tl.for_provision(None, monday_9) == tl.for_provision(Provision(), monday_9)


def test_items_are_stored_with_two_digit_hours_and_24_00() -> None:
    assert tl.normalized([item(1, "0:00", "8:05")]) == [item(1, "00:00", "08:05")]
    assert tl.normalized([item(1, "9:30", "24:00")]) == [item(1, "09:30", "24:00")]
    assert tl.zone_problem("../x") == "Give an IANA time zone name such as Europe/Berlin or America/New_York"


def test_the_field_named_is_the_one_that_runs_into_the_earlier_range_to_the_minute() -> None:
    assert [p for p, _ in problems_of([item(0, "07:59", "10:00"), item(0, "08:00", "09:00")])] == [
        "/body/provision/time_limits/1/provision_time_start"]
    assert [p for p, _ in problems_of([item(0, "08:01", "10:00"), item(0, "08:00", "09:00")])] == [
        "/body/provision/time_limits/1/provision_time_stop"]


def test_an_overlap_does_not_stop_the_check_of_the_next_items() -> None:
    found = problems_of([item(0, "08:00", "10:00"), item(0, "09:00", "11:00"), item(1, "8h", "10:00")])
    assert [p for p, _ in found] == ["/body/provision/time_limits/1/provision_time_start",
                                     "/body/provision/time_limits/2/provision_time_start"]


def test_at_a_range_s_first_minute_the_next_start_is_another_range() -> None:
    ranges = tl.from_docs([item(0, "08:00", "10:00", 12, 45), item(4, "22:00", "06:00", 1, 3)])
    now = tl.limits_in_force(2, 10, ranges, BERLIN, epoch("2026-12-07T08:00", BERLIN))
    assert now.time_limit.index == 0 and now.next_limit.index == 1
    assert now.next_start == datetime(2026, 12, 11, 22, 0, tzinfo=BERLIN)


def test_a_monday_range_runs_into_an_earlier_item_s_sunday_night() -> None:
    found = problems_of([item(6, "22:00", "06:00"), item(0, "05:00", "07:00")])
    assert [p for p, _ in found] == ["/body/provision/time_limits/1/provision_time_start"]
