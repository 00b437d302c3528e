"""Built-in planners: property-based checks (hypothesis) and the DST days of Europe/Madrid.

For every planner: executors within their window and calendar, sorted, the right count, no
duplicates, stable for a fixed seed, and correct across the last Sundays of March and October.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from chaosmonkey.planners.cron_planner import CronPlanner
from chaosmonkey.planners.exact_planner import ExactPlanner
from chaosmonkey.planners.mtbf_planner import WEEKDAYS, MTBFPlanner
from chaosmonkey.planners.planner import Planner
from chaosmonkey.planners.simple_planner import SimplePlanner
from chaosmonkey.planning import compute_executors
from chaosmonkey.timeutil import parse_clock, wall_to_instant

UTC = dt.UTC
MADRID = ZoneInfo("Europe/Madrid")
ZONES = [
    ZoneInfo(name)
    for name in (
        "UTC",
        "Europe/Madrid",
        "America/New_York",
        "Australia/Lord_Howe",
        "Asia/Kolkata",
        "Pacific/Chatham",
    )
]
SPRING_FORWARD = dt.date(2026, 3, 29)  # Madrid: 02:00 CET -> 03:00 CEST
FALL_BACK = dt.date(2026, 10, 25)  # Madrid: 03:00 CEST -> 02:00 CET

# Instants around the year, with extra weight on the DST weekends.
instants = st.one_of(
    st.datetimes(
        min_value=dt.datetime(2026, 1, 1), max_value=dt.datetime(2027, 12, 31), timezones=st.just(UTC)
    ),
    st.datetimes(
        min_value=dt.datetime(2026, 3, 27), max_value=dt.datetime(2026, 3, 30), timezones=st.just(UTC)
    ),
    st.datetimes(
        min_value=dt.datetime(2026, 10, 23), max_value=dt.datetime(2026, 10, 26), timezones=st.just(UTC)
    ),
)
clocks = st.builds(lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 23), st.sampled_from([0, 15, 30, 45, 59]))
seeds = st.one_of(st.integers(0, 2**32), st.text(min_size=1, max_size=8))


def plan(
    planner: type[Planner],
    args: dict[str, Any],
    *,
    now: dt.datetime,
    tz: dt.tzinfo = MADRID,
    after: dt.datetime | None = None,
) -> list[dt.datetime]:
    executors = compute_executors(
        planner,
        {"ref": planner.ref, "args": args},
        {"ref": "x:X"},
        plan_name="p",
        timezone=tz,
        now=now,
        after=after,
    )
    assert [e.name for e in executors] == [f"p-{i}" for i in range(1, len(executors) + 1)]
    return [e.scheduled_time for e in executors]


def strictly_increasing(times: list[dt.datetime]) -> bool:
    return all(a < b for a, b in itertools.pairwise(times))


def is_transition_day(day: dt.date, tz: dt.tzinfo) -> bool:
    start = dt.datetime.combine(day, dt.time(0), tz).utcoffset()
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tz).utcoffset()
    return start != end


# -- ExactPlanner ------------------------------------------------------------------------------


@given(
    moment=st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2100, 1, 1)),
    tz=st.sampled_from(ZONES),
    now=instants,
)
def test_exact_planner_plans_the_wall_time_in_the_plan_zone(
    moment: dt.datetime, tz: ZoneInfo, now: dt.datetime
) -> None:
    moment = moment.replace(microsecond=0)
    [when] = plan(ExactPlanner, {"date": moment.isoformat()}, now=now, tz=tz)
    assert when == wall_to_instant(moment.date(), moment.time(), tz)
    [with_offset] = plan(ExactPlanner, {"date": moment.replace(tzinfo=UTC).isoformat()}, now=now, tz=tz)
    assert with_offset == moment.replace(tzinfo=UTC)


def test_exact_planner_accepts_z_and_offsets() -> None:
    now = dt.datetime(2026, 1, 1, tzinfo=UTC)
    assert plan(ExactPlanner, {"date": "2026-06-01T10:00:00Z"}, now=now) == [
        dt.datetime(2026, 6, 1, 10, tzinfo=UTC)
    ]
    assert plan(ExactPlanner, {"date": "2026-06-01T10:00+05:30"}, now=now) == [
        dt.datetime(2026, 6, 1, 4, 30, tzinfo=UTC)
    ]
    assert plan(ExactPlanner, {"date": "2026-06-01"}, now=now) == [dt.datetime(2026, 5, 31, 22, tzinfo=UTC)]


# -- SimplePlanner -----------------------------------------------------------------------------


def simple_window_holds(when: dt.datetime, start: str, end: str, tz: dt.tzinfo) -> bool:
    """``when`` lies in the [start, end) window of some day (end on the next day if it crosses)."""
    start_clock, end_clock = parse_clock(start), parse_clock(end)
    local_day = when.astimezone(tz).date()
    for offset in (-1, 0):
        day = local_day + dt.timedelta(days=offset)
        end_day = day + dt.timedelta(days=1 if end_clock <= start_clock else 0)
        if wall_to_instant(day, start_clock, tz) <= when < wall_to_instant(end_day, end_clock, tz):
            return True
    return False


@settings(max_examples=300)
@given(
    now=instants, start=clocks, end=clocks, times=st.integers(1, 30), tz=st.sampled_from(ZONES), seed=seeds
)
def test_simple_planner_properties(
    now: dt.datetime, start: str, end: str, times: int, tz: ZoneInfo, seed: int | str
) -> None:
    if start == end:
        return
    args = {"min_time": start, "max_time": end, "times": times, "seed": seed}
    planned = plan(SimplePlanner, args, now=now, tz=tz)
    assert len(planned) == times
    assert strictly_increasing(planned)
    assert all(when >= now for when in planned), "never in the past"
    assert all(when.microsecond == 0 for when in planned)
    assert all(simple_window_holds(when, start, end, tz) for when in planned)
    # All in one window: the whole plan spans less than a day.
    assert planned[-1] - planned[0] < dt.timedelta(days=1)
    # Wall-clock view, on days without a DST change.
    start_clock, end_clock = parse_clock(start), parse_clock(end)
    for when in planned:
        local = when.astimezone(tz)
        if not is_transition_day(local.date(), tz):
            wall = local.time()
            inside = (
                (start_clock <= wall < end_clock)
                if start_clock < end_clock
                else (wall >= start_clock or wall < end_clock)
            )
            assert inside, (local, start, end)
    assert plan(SimplePlanner, args, now=now, tz=tz) == planned, "a seed makes it reproducible"


def test_simple_planner_uses_the_rest_of_todays_window_then_tomorrows() -> None:
    args = {"min_time": "10:00", "max_time": "18:00", "times": 4, "seed": 7}
    inside = dt.datetime(2026, 6, 1, 14, 0, tzinfo=MADRID).astimezone(UTC)
    planned = plan(SimplePlanner, args, now=inside)
    assert all(inside <= when < dt.datetime(2026, 6, 1, 18, 0, tzinfo=MADRID) for when in planned)
    after = dt.datetime(2026, 6, 1, 18, 30, tzinfo=MADRID).astimezone(UTC)
    planned = plan(SimplePlanner, args, now=after)
    assert all(
        dt.datetime(2026, 6, 2, 10, tzinfo=MADRID) <= when < dt.datetime(2026, 6, 2, 18, tzinfo=MADRID)
        for when in planned
    )
    # Too little left of the window (fewer seconds than attacks): tomorrow's window.
    almost_over = dt.datetime(2026, 6, 1, 17, 59, 58, tzinfo=MADRID).astimezone(UTC)
    assert plan(SimplePlanner, args, now=almost_over)[0] >= dt.datetime(2026, 6, 2, 10, tzinfo=MADRID)


def test_simple_planner_window_across_midnight() -> None:
    args = {"min_time": "22:00", "max_time": "02:00", "times": 8, "seed": 1}
    # At 01:00 we are inside the window that started yesterday at 22:00.
    night = dt.datetime(2026, 6, 2, 1, 0, tzinfo=MADRID)
    planned = plan(SimplePlanner, args, now=night)
    assert all(night <= when < dt.datetime(2026, 6, 2, 2, 0, tzinfo=MADRID) for when in planned)
    noon = dt.datetime(2026, 6, 2, 12, 0, tzinfo=MADRID)
    planned = plan(SimplePlanner, args, now=noon)
    assert all(
        dt.datetime(2026, 6, 2, 22, tzinfo=MADRID) <= when < dt.datetime(2026, 6, 3, 2, tzinfo=MADRID)
        for when in planned
    )
    assert planned[0].astimezone(MADRID).date() == dt.date(2026, 6, 2)
    assert planned[-1].astimezone(MADRID).date() == dt.date(2026, 6, 3)


def test_simple_planner_on_madrid_dst_days() -> None:
    args = {"min_time": "01:00", "max_time": "04:00", "times": 6, "seed": 3}
    for day, hours in ((SPRING_FORWARD, 2), (FALL_BACK, 4)):
        now = dt.datetime.combine(day, dt.time(0), MADRID).astimezone(UTC)
        planned = plan(SimplePlanner, args, now=now)
        start = wall_to_instant(day, dt.time(1), MADRID)
        end = wall_to_instant(day, dt.time(4), MADRID)
        assert end - start == dt.timedelta(hours=hours), "the window is measured in real time"
        assert all(start <= when < end for when in planned)
        # One attack in each sixth of the real window.
        bucket = (end - start) / 6
        assert [int((when - start) / bucket) for when in planned] == list(range(6))
        walls = [when.astimezone(MADRID).time() for when in planned]
        assert all(dt.time(1) <= wall < dt.time(4) for wall in walls)
        assert not any(dt.time(2) <= wall < dt.time(3) for wall in walls) or day == FALL_BACK


# -- CronPlanner -------------------------------------------------------------------------------

CRON_CASES = {
    "0 10 * * mon-fri": ({0}, {10}, set(range(5))),
    "*/15 9-17 * * *": ({0, 15, 30, 45}, set(range(9, 18)), set(range(7))),
    "30 2 * * *": ({30}, {2}, set(range(7))),
    "5 4 * * sun": ({5}, {4}, {6}),
    "0 0 1 * *": ({0}, {0}, set(range(7))),
}


@settings(max_examples=200)
@given(
    now=instants,
    expression=st.sampled_from(sorted(CRON_CASES)),
    ahead=st.integers(1, 12),
    tz=st.sampled_from(ZONES),
)
def test_cron_planner_properties(now: dt.datetime, expression: str, ahead: int, tz: ZoneInfo) -> None:
    planned = plan(CronPlanner, {"cron": expression, "ahead": ahead}, now=now, tz=tz)
    assert len(planned) == ahead
    assert strictly_increasing(planned)
    assert planned[0] > now
    walls = [when.astimezone(tz).replace(tzinfo=None) for when in planned]
    assert len(set(walls)) == len(walls), "each wall-clock occurrence fires once"
    minutes, hours, weekdays = CRON_CASES[expression]
    for when in planned:
        local = when.astimezone(tz)
        if is_transition_day(local.date(), tz):
            continue  # checked exactly below for Madrid
        assert local.minute in minutes and local.hour in hours and local.weekday() in weekdays
        assert local.second == 0
        if expression == "0 0 1 * *":
            assert local.day == 1
    # Re-planning from the last consumed occurrence continues the same series.
    half = ahead // 2
    if half:
        first = plan(CronPlanner, {"cron": expression, "ahead": half}, now=now, tz=tz)
        rest = plan(CronPlanner, {"cron": expression, "ahead": ahead - half}, now=now, tz=tz, after=first[-1])
        assert first + rest == planned


def test_cron_planner_on_madrid_dst_days() -> None:
    before_spring = dt.datetime(2026, 3, 28, 12, 0, tzinfo=UTC)
    planned = plan(CronPlanner, {"cron": "30 2 * * *", "ahead": 3}, now=before_spring)
    assert [when.astimezone(MADRID).isoformat() for when in planned] == [
        "2026-03-29T03:30:00+02:00",  # 02:30 does not exist: moved forward by the gap
        "2026-03-30T02:30:00+02:00",
        "2026-03-31T02:30:00+02:00",
    ]
    before_autumn = dt.datetime(2026, 10, 24, 12, 0, tzinfo=UTC)
    planned = plan(CronPlanner, {"cron": "30 2 * * *", "ahead": 3}, now=before_autumn)
    assert [when.astimezone(MADRID).isoformat() for when in planned] == [
        "2026-10-25T02:30:00+02:00",  # 02:30 happens twice: fires once, the first time
        "2026-10-26T02:30:00+01:00",
        "2026-10-27T02:30:00+01:00",
    ]
    # Re-planning from the first 02:30 must not pick up its repeat an hour later.
    again = plan(CronPlanner, {"cron": "30 2 * * *", "ahead": 1}, now=before_autumn, after=planned[0])
    assert again == [planned[1]]
    hourly = plan(
        CronPlanner, {"cron": "0 * * * *", "ahead": 5}, now=dt.datetime(2026, 10, 24, 23, 30, tzinfo=UTC)
    )
    assert [when.isoformat() for when in hourly] == [  # one run per real hour through the change
        "2026-10-25T00:00:00+00:00",
        "2026-10-25T01:00:00+00:00",
        "2026-10-25T02:00:00+00:00",
        "2026-10-25T03:00:00+00:00",
        "2026-10-25T04:00:00+00:00",
    ]


# -- MTBFPlanner -------------------------------------------------------------------------------

durations = st.one_of(st.integers(60, 7 * 86400), st.sampled_from(["30m", "1h", "8h", "1d", "1h30m", "90s"]))


def seconds_of(value: int | str) -> int:
    if isinstance(value, int):
        return value
    units = {"d": 86400, "h": 3600, "m": 60, "s": 1}
    return sum(int(n) * units[u] for n, u in re.findall(r"(\d+)([dhms])", value))


@settings(max_examples=200)
@given(
    now=instants,
    mtbf=durations,
    min_gap=st.one_of(st.none(), durations),
    days=st.lists(st.sampled_from(WEEKDAYS), min_size=1, max_size=7, unique=True),
    hours=st.one_of(st.none(), st.tuples(st.integers(0, 22), st.integers(1, 24))),
    ahead=st.integers(1, 10),
    tz=st.sampled_from(ZONES),
    seed=seeds,
)
def test_mtbf_planner_properties(
    now: dt.datetime,
    mtbf: int | str,
    min_gap: int | str | None,
    days: list[str],
    hours: tuple[int, int] | None,
    ahead: int,
    tz: ZoneInfo,
    seed: int | str,
) -> None:
    args: dict[str, Any] = {"mtbf": mtbf, "days": days, "ahead": ahead, "seed": seed}
    if min_gap is not None:
        args["min_gap"] = min_gap
    start, end = dt.time(0), dt.time(0)
    if hours is not None:
        if hours[1] <= hours[0]:
            return
        start, end = dt.time(hours[0]), dt.time(hours[1] % 24)
        args["hours"] = {"start": start.strftime("%H:%M"), "end": end.strftime("%H:%M")}
    planned = plan(MTBFPlanner, args, now=now, tz=tz)
    assert len(planned) == ahead
    assert strictly_increasing(planned)
    assert planned[0] > now
    gap = dt.timedelta(seconds=seconds_of(min_gap) if min_gap is not None else 0)
    assert all(b - a >= gap for a, b in zip([now, *planned], planned, strict=False))
    allowed_days = {WEEKDAYS.index(day) for day in days}
    for when in planned:
        local = when.astimezone(tz)
        day = local.date()
        window_end = wall_to_instant(day + dt.timedelta(days=1) if end == dt.time(0) else day, end, tz)
        assert local.weekday() in allowed_days
        assert wall_to_instant(day, start, tz) <= when < window_end
    assert plan(MTBFPlanner, args, now=now, tz=tz) == planned, "a seed makes it reproducible"


def test_mtbf_planner_mean_gap_and_working_hours() -> None:
    now = dt.datetime(2026, 3, 23, 6, 0, tzinfo=UTC)  # a Monday, spanning the spring change
    args = {"mtbf": "1h", "ahead": 100, "seed": 1}
    planned = plan(MTBFPlanner, args, now=now)
    mean = (planned[-1] - now) / 100
    assert dt.timedelta(minutes=40) < mean < dt.timedelta(minutes=80)
    office = {
        "mtbf": "8h",
        "min_gap": "1h",
        "days": ["mon", "tue", "wed", "thu", "fri"],
        "hours": {"start": "09:00", "end": "17:00"},
        "ahead": 40,
        "seed": 2,
    }
    planned = plan(MTBFPlanner, office, now=now)
    for when in planned:
        local = when.astimezone(MADRID)
        assert local.weekday() < 5 and dt.time(9) <= local.time() < dt.time(17), local
    # About one a working day: 40 attacks take about 40 working days (8 weeks), give or take.
    assert dt.timedelta(weeks=5) < planned[-1] - now < dt.timedelta(weeks=12)
