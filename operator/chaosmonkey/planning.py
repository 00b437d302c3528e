"""Planning as a pure computation: a planner plugin in, the executors it asks for out.

The operator and the CLI (``chaosmonkey plan``) both call :func:`compute_executors`; nothing
here touches a scheduler or Kubernetes.
"""

from __future__ import annotations

import copy
import datetime as dt
from dataclasses import dataclass
from typing import Any

from chaosmonkey.planners.planner import Planner, PlannerConfigError
from chaosmonkey.timeutil import UTC, to_utc

#: The most executors one planning may produce. Status must stay far below etcd's object size
#: limit, and a plugin that asks for more is almost certainly wrong.
MAX_EXECUTORS_PER_PLANNING = 500


class PlanningError(Exception):
    """Planning failed. ``field`` is the path inside the planner config (``args.date``) or ''."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.reason = message


@dataclass(frozen=True)
class PlannedExecutor:
    """One scheduled attack run."""

    name: str
    scheduled_time: dt.datetime  # aware, in UTC
    job_name: str
    attack_config: dict[str, Any]


def compute_executors(
    planner_cls: type[Planner],
    planner_config: dict[str, Any],
    attack_config: dict[str, Any],
    *,
    plan_name: str,
    timezone: dt.tzinfo,
    now: dt.datetime | None = None,
    after: dt.datetime | None = None,
    first_index: int = 1,
    limit: int = MAX_EXECUTORS_PER_PLANNING,
) -> list[PlannedExecutor]:
    """Run ``planner_cls`` for a plan and return its executors, sorted by time.

    ``now`` is the instant planning happens at (default: the current time). ``after`` is, for
    recurring planners, the instant after which to plan (default ``now``). Executors are named
    ``{plan_name}-{n}`` counting from ``first_index``, in time order, so re-planning a recurring
    plan continues the numbering. Naive datetimes from the plugin are wall times in ``timezone``.

    Any exception from the plugin becomes a :class:`PlanningError` with a readable message.
    """
    now = (now or dt.datetime.now(UTC)).astimezone(UTC)
    try:
        planner = planner_cls(plan_name)
        planner.timezone = timezone
        planner.now = now
        planner.after = (after or now).astimezone(UTC)
        # Deep copies: a plugin may mutate what it is given, and must not change the spec.
        planner.plan(copy.deepcopy(planner_config), copy.deepcopy(attack_config))
        jobs = planner.jobs
    except PlannerConfigError as exc:
        raise PlanningError(exc.field, exc.reason) from exc
    except Exception as exc:
        raise PlanningError(
            "", f"planner {planner_cls.__name__} failed: {type(exc).__name__}: {exc}"
        ) from exc
    if len(jobs) > limit:
        raise PlanningError(
            "", f"planner {planner_cls.__name__} asked for {len(jobs)} executors; at most {limit} are allowed"
        )
    timed = []
    for job in jobs:
        try:
            when = to_utc(job.date, timezone)
        except (OverflowError, ValueError) as exc:
            raise PlanningError(
                "", f"planner {planner_cls.__name__} gave an unusable date {job.date!r}"
            ) from exc
        timed.append((when, job))
    timed.sort(key=lambda pair: pair[0])  # stable: equal times keep the plugin's order
    return [
        PlannedExecutor(
            name=f"{plan_name}-{first_index + position}",
            scheduled_time=when,
            job_name=job.name,
            attack_config=job.attack_config,
        )
        for position, (when, job) in enumerate(timed)
    ]
