"""``simple_planner:SimplePlanner``: ``times`` attacks at random moments inside a daily window.

The window ``[min_time, max_time)`` is wall-clock time in the plan's time zone. It crosses
midnight when ``min_time`` is after ``max_time`` (``22:00``-``02:00`` runs into the next day).
The window is cut into ``times`` equal buckets (in real elapsed time, so a DST change inside
the window is handled) and one attack falls at a random second of each bucket, as in the
original engine. Which window:

* the window in progress, from now to its end, if at least ``times`` seconds of it are left;
* otherwise the next window to start (tomorrow's, if today's has passed).

So no executor is ever planned in the past, and planning always yields ``times`` executors.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from chaosmonkey.planners._common import SEED_SCHEMA, parse_arg, planner_schema, seeded_random
from chaosmonkey.planners.planner import Planner, PlannerConfigError
from chaosmonkey.timeutil import CLOCK_SCHEMA, UTC, ceil_second, parse_clock, wall_to_instant

MAX_TIMES = 100


def daily_window(
    now: dt.datetime, start: dt.time, end: dt.time, timezone: dt.tzinfo, min_seconds: int
) -> tuple[dt.datetime, dt.datetime]:
    """The window (UTC instants) to plan in: in progress with enough left, else the next one."""
    today = now.astimezone(timezone).date()
    crosses_midnight = end <= start
    for offset in (-1, 0, 1, 2):
        day = today + dt.timedelta(days=offset)
        window_start = wall_to_instant(day, start, timezone)
        window_end = wall_to_instant(day + dt.timedelta(days=1 if crosses_midnight else 0), end, timezone)
        effective_start = max(window_start, ceil_second(now))
        if (window_end - effective_start).total_seconds() >= min_seconds:
            return effective_start, window_end
    raise AssertionError("a daily window always recurs within two days")  # pragma: no cover


class SimplePlanner(Planner):
    """``times`` executors spread at random over ``[min_time, max_time)`` of the day."""

    ref = "simple_planner:SimplePlanner"
    schema = planner_schema(
        ref,
        {
            "min_time": {**CLOCK_SCHEMA, "description": 'Window start, "HH:MM" in the plan\'s time zone.'},
            "max_time": {
                **CLOCK_SCHEMA,
                "description": 'Window end, "HH:MM"; before min_time means the window crosses midnight.',
            },
            "times": {
                "type": "integer",
                "minimum": 1,
                "maximum": MAX_TIMES,
                "description": "How many attacks to plan in the window.",
            },
            "seed": SEED_SCHEMA,
        },
        ["min_time", "max_time", "times"],
    )
    example = {"ref": ref, "args": {"min_time": "10:00", "max_time": "18:00", "times": 4}}

    def plan(self, planner_config: dict[str, Any], attack_config: dict[str, Any]) -> None:
        args = planner_config.get("args", {})
        start = parse_arg(args, "min_time", parse_clock)
        end = parse_arg(args, "max_time", parse_clock)
        times = parse_arg(args, "times", int)
        if start == end:
            raise PlannerConfigError("args.max_time", "must differ from min_time (the window would be empty)")
        if not 1 <= times <= MAX_TIMES:
            raise PlannerConfigError("args.times", f"must be between 1 and {MAX_TIMES}")
        window_start, window_end = daily_window(self.now, start, end, self.timezone, times)
        rng = seeded_random(args.get("seed"), window_start.isoformat())
        total = int((window_end - window_start).total_seconds())
        for bucket in range(times):
            bucket_start = bucket * total // times
            bucket_end = (bucket + 1) * total // times
            offset = bucket_start + rng.randrange(max(1, bucket_end - bucket_start))
            attack_date = (window_start + dt.timedelta(seconds=offset)).astimezone(UTC)
            self._add_job(attack_date, f"Simple Planner - {self.name}", attack_config)

    @staticmethod
    def to_dict() -> dict[str, Any]:
        return Planner._to_dict(SimplePlanner.ref, SimplePlanner.schema, SimplePlanner.example)
