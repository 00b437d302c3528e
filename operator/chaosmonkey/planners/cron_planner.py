"""``cron_planner:CronPlanner``: recurring attacks on a cron schedule.

The expression has the five standard fields and APScheduler's ``CronTrigger`` semantics
(``CronTrigger.from_crontab``), evaluated in the plan's time zone: ``0 10 * * mon-fri`` is
10:00 local time on weekdays, DST included. In the hour skipped in spring an occurrence moves
forward by the gap (02:30 becomes 03:30); in the hour repeated in autumn a job at fixed hours
fires once, the first time the clock reads it, while a job whose hour field is ``*`` or a step
fires every real hour, as cron does (APScheduler alone would fire both twice). The planner
keeps ``ahead`` occurrences planned; the operator re-plans as they are consumed.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from apscheduler.triggers.cron import CronTrigger

from chaosmonkey.planners._common import parse_arg, planner_schema
from chaosmonkey.planners.planner import Planner, PlannerConfigError
from chaosmonkey.timeutil import UTC

MAX_AHEAD = 100


def cron_trigger(expression: str, timezone: dt.tzinfo) -> CronTrigger:
    """A CronTrigger for a five-field expression; ValueError with the reason when it is invalid."""
    if not isinstance(expression, str) or len(expression.split()) != 5:
        raise ValueError(
            f"{expression!r} is not a cron expression of five fields (minute hour day month weekday)"
        )
    try:
        return CronTrigger.from_crontab(expression, timezone=timezone)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{expression!r} is not a valid cron expression: {exc}") from exc


def next_occurrences(
    trigger: CronTrigger, after: dt.datetime, limit: int, timezone: dt.tzinfo, *, once_per_wall_time: bool
) -> list[dt.datetime]:
    """Up to ``limit`` fire times strictly after ``after``, in UTC.

    With ``once_per_wall_time``, a wall time repeated by the autumn change fires only once.
    """
    occurrences: list[dt.datetime] = []
    # CronTrigger answers the first fire time at or after "now", rounded up to a whole second.
    cursor = after.astimezone(UTC) + dt.timedelta(microseconds=1)
    previous_wall = after.astimezone(timezone).replace(tzinfo=None)
    while len(occurrences) < limit:
        fire_time = _next_fire_time(trigger, cursor)
        if fire_time is None:
            break
        wall = fire_time.astimezone(timezone).replace(tzinfo=None)
        if wall != previous_wall or not once_per_wall_time:
            occurrences.append(fire_time)
        previous_wall = wall
        cursor = fire_time + dt.timedelta(microseconds=1)
    return occurrences


def _next_fire_time(trigger: CronTrigger, cursor: dt.datetime) -> dt.datetime | None:
    """The trigger's first fire time at or after ``cursor`` (UTC), guarding an APScheduler 3 bug.

    In the hour repeated in autumn, APScheduler 3 drops ``fold`` and can answer a time before
    ``cursor`` (the same one, forever). Stepping the cursor a minute at a time gets past it; an
    ambiguous stretch lasts at most a few hours, hence the bound.
    """
    for _ in range(6 * 60):
        answer: dt.datetime | None = trigger.get_next_fire_time(None, cursor)
        if answer is None:
            return None
        fire_time = answer.astimezone(UTC)
        if fire_time >= cursor:
            return fire_time
        cursor += dt.timedelta(minutes=1)
    raise ValueError("the cron schedule makes no progress across a time change")


class CronPlanner(Planner):
    """Executors at the next ``ahead`` occurrences of a cron expression, re-planned as consumed."""

    ref = "cron_planner:CronPlanner"
    recurring = True
    schema = planner_schema(
        ref,
        {
            "cron": {
                "type": "string",
                "description": 'Five-field cron expression, in the plan\'s zone: "0 10 * * mon-fri".',
            },
            "ahead": {
                "type": "integer",
                "minimum": 1,
                "maximum": MAX_AHEAD,
                "default": 3,
                "description": "How many future occurrences to keep planned (default 3).",
            },
        },
        ["cron"],
    )
    example = {"ref": ref, "args": {"cron": "0 10 * * mon-fri", "ahead": 3}}

    def plan(self, planner_config: dict[str, Any], attack_config: dict[str, Any]) -> None:
        args = planner_config.get("args", {})
        trigger = parse_arg(args, "cron", lambda value: cron_trigger(value, self.timezone))
        ahead = parse_arg(args, "ahead", int, 3)
        if not 1 <= ahead <= MAX_AHEAD:
            raise PlannerConfigError("args.ahead", f"must be between 1 and {MAX_AHEAD}")
        # As cron does: a job at fixed hours runs once in the repeated autumn hour, while one
        # whose hour field is a wildcard or step runs every real hour.
        fixed_hours = "*" not in str(args["cron"]).split()[1]
        occurrences = next_occurrences(
            trigger, self.after, ahead, self.timezone, once_per_wall_time=fixed_hours
        )
        if not occurrences and self.after <= self.now:
            raise PlannerConfigError("args.cron", f"{args['cron']!r} never fires")
        for fire_time in occurrences:
            self._add_job(fire_time, f"Cron Planner - {self.name}", attack_config)

    @staticmethod
    def to_dict() -> dict[str, Any]:
        return Planner._to_dict(CronPlanner.ref, CronPlanner.schema, CronPlanner.example)
