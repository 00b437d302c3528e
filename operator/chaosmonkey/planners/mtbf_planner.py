"""``mtbf_planner:MTBFPlanner``: random attacks with a mean time between them, Netflix style.

Attacks arrive as a Poisson process over *allowed* time only: the gaps are drawn from an
exponential distribution with mean ``mtbf``, never shorter than ``min_gap``, and count only the
hours on the allowed weekdays (``days``) between ``hours.start`` and ``hours.end`` wall time in
the plan's zone (so "mtbf 8h, Mon-Fri 09:00-17:00" averages one attack per working day, and
none at night or at the weekend). The planner keeps ``ahead`` attacks planned; the operator
re-plans as they are consumed. With a ``seed``, the same instant plans the same attacks.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from chaosmonkey.planners._common import SEED_SCHEMA, parse_arg, planner_schema, seeded_random
from chaosmonkey.planners.planner import Planner, PlannerConfigError
from chaosmonkey.timeutil import (
    CLOCK_SCHEMA,
    DURATION_SCHEMA,
    UTC,
    ceil_second,
    parse_clock,
    parse_duration,
    wall_to_instant,
)

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_AHEAD = 100
#: Searching further than this for allowed time means the calendar allows (almost) none.
MAX_SEARCH_DAYS = 3660


def allowed_windows(
    after: dt.datetime, *, days: frozenset[int], start: dt.time, end: dt.time, timezone: dt.tzinfo
) -> Iterator[tuple[dt.datetime, dt.datetime]]:
    """The allowed intervals (UTC) that end after ``after``, in order."""
    day = after.astimezone(timezone).date() - dt.timedelta(days=1)
    for _ in range(MAX_SEARCH_DAYS):
        if day.weekday() in days:
            window_start = wall_to_instant(day, start, timezone)
            window_end = (
                wall_to_instant(day, end, timezone)
                if end != dt.time(0)
                else wall_to_instant(day + dt.timedelta(days=1), end, timezone)
            )
            if window_end > after and window_end > window_start:
                yield max(window_start, after), window_end
        day += dt.timedelta(days=1)


def advance_allowed(
    after: dt.datetime,
    seconds: int,
    *,
    days: frozenset[int],
    start: dt.time,
    end: dt.time,
    timezone: dt.tzinfo,
) -> dt.datetime:
    """The instant ``seconds`` of allowed time after ``after``."""
    remaining = seconds
    for window_start, window_end in allowed_windows(
        after, days=days, start=start, end=end, timezone=timezone
    ):
        available = int((window_end - window_start).total_seconds())
        if remaining < available:
            return window_start + dt.timedelta(seconds=remaining)
        remaining -= available
    raise PlannerConfigError(
        "args", f"the allowed days and hours leave no time within {MAX_SEARCH_DAYS} days"
    )


class MTBFPlanner(Planner):
    """Random attacks, ``mtbf`` apart on average, only on allowed weekdays and hours."""

    ref = "mtbf_planner:MTBFPlanner"
    recurring = True
    schema = planner_schema(
        ref,
        {
            "mtbf": {**DURATION_SCHEMA, "description": 'Mean allowed time between attacks, e.g. "8h".'},
            "min_gap": {
                **DURATION_SCHEMA,
                "description": 'Shortest time between two attacks (default "0s").',
            },
            "days": {
                "type": "array",
                "items": {"enum": list(WEEKDAYS)},
                "minItems": 1,
                "uniqueItems": True,
                "description": "Weekdays when attacks may happen (default: every day).",
            },
            "hours": {
                "type": "object",
                "properties": {"start": CLOCK_SCHEMA, "end": CLOCK_SCHEMA},
                "required": ["start", "end"],
                "additionalProperties": False,
                "description": 'Allowed hours of the day, e.g. {"start": "09:00", "end": "17:00"}.',
            },
            "ahead": {
                "type": "integer",
                "minimum": 1,
                "maximum": MAX_AHEAD,
                "default": 3,
                "description": "How many future attacks to keep planned (default 3).",
            },
            "seed": SEED_SCHEMA,
        },
        ["mtbf"],
    )
    example = {
        "ref": ref,
        "args": {
            "mtbf": "8h",
            "min_gap": "1h",
            "days": ["mon", "tue", "wed", "thu", "fri"],
            "hours": {"start": "09:00", "end": "17:00"},
        },
    }

    def plan(self, planner_config: dict[str, Any], attack_config: dict[str, Any]) -> None:
        args = planner_config.get("args", {})
        mtbf = parse_arg(args, "mtbf", parse_duration).total_seconds()
        min_gap = int(parse_arg(args, "min_gap", parse_duration, dt.timedelta(0)).total_seconds())
        ahead = parse_arg(args, "ahead", int, 3)
        days = frozenset(WEEKDAYS.index(day) for day in args.get("days", WEEKDAYS))
        hours = args.get("hours", {"start": "00:00", "end": "00:00"})
        start = parse_arg(hours, "start", parse_clock)
        end = parse_arg(hours, "end", parse_clock)
        if mtbf < 1:
            raise PlannerConfigError("args.mtbf", "must be at least one second")
        if not 1 <= ahead <= MAX_AHEAD:
            raise PlannerConfigError("args.ahead", f"must be between 1 and {MAX_AHEAD}")
        if end != dt.time(0) and end <= start:
            raise PlannerConfigError("args.hours.end", "must be after hours.start (or 00:00 for midnight)")
        cursor = ceil_second(self.after)
        rng = seeded_random(args.get("seed"), cursor.isoformat())
        for _ in range(ahead):
            gap = max(1, min_gap, round(rng.expovariate(1 / mtbf)))
            cursor = advance_allowed(cursor, gap, days=days, start=start, end=end, timezone=self.timezone)
            self._add_job(cursor.astimezone(UTC), f"MTBF Planner - {self.name}", attack_config)

    @staticmethod
    def to_dict() -> dict[str, Any]:
        return Planner._to_dict(MTBFPlanner.ref, MTBFPlanner.schema, MTBFPlanner.example)
