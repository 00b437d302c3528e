"""The planner plugin interface, as the Chaos Monkey Engine's plugin guide describes it.

A planner receives its own config (``{"ref": ..., "args": {...}}``) and the attack config, and
calls ``self._add_job(date, name, attack_config)`` once for every attack run it wants. Unlike
the original engine, ``_add_job`` touches no global scheduler: it only records the job, so that
planning is a pure computation (see :mod:`chaosmonkey.planning`) that tests and the operator
can run alike.

Besides the seed's API a planner may read, all set before ``plan`` is called:

* ``self.timezone``: the plan's time zone (``spec.timeZone``, a :class:`zoneinfo.ZoneInfo`).
  Naive datetimes passed to ``_add_job`` are taken to be in this zone.
* ``self.now``: the aware "current" instant the plan is computed for.
* ``self.after``: recurring planners (``recurring = True``) plan only occurrences strictly after
  this instant; it is ``self.now`` on a first planning and the last planned time on re-planning.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

UTC = dt.UTC


class PlannerConfigError(ValueError):
    """A planner's arguments are well-typed but unusable (a bad date, an empty window...).

    ``field`` is the path inside the planner config, for example ``"args.date"``, so that the
    error can be reported as ``spec.planner.args.date: ...``.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.reason = message


@dataclass(frozen=True)
class PlannedJob:
    """One ``_add_job`` call: what the planner asked for, before normalisation."""

    date: dt.datetime | str
    name: str
    attack_config: dict[str, Any]


class Planner:
    """Base class of every planner plugin.

    Subclasses define the class attributes ``ref`` (``"module:Class"``), ``schema`` (a JSON
    Schema for the whole planner config) and ``example`` (a config that validates), and the
    methods ``plan`` and the static ``to_dict``.
    """

    ref: ClassVar[str]
    schema: ClassVar[dict[str, Any]]
    example: ClassVar[dict[str, Any]]

    #: Recurring planners keep planning ahead as their executors are consumed.
    recurring: ClassVar[bool] = False

    def __init__(self, name: str) -> None:
        self.name = name
        self.timezone: dt.tzinfo = ZoneInfo("UTC")
        self.now: dt.datetime = dt.datetime.now(UTC)
        self.after: dt.datetime = self.now
        self._jobs: list[PlannedJob] = []

    def plan(self, planner_config: dict[str, Any], attack_config: dict[str, Any]) -> None:
        """Compute the attack runs for ``planner_config`` and call ``_add_job`` for each."""
        raise NotImplementedError(f"{type(self).__name__} does not implement plan()")

    def _add_job(self, date: dt.datetime | str, name: str, attack_config: dict[str, Any]) -> None:
        """Record an attack run due at ``date`` (naive means the plan's time zone).

        Like APScheduler's ``run_date``, which the original engine passed it to, ``date`` may
        also be an ISO 8601 string.
        """
        if not isinstance(date, dt.datetime | str):
            raise TypeError(f"_add_job() needs a datetime or ISO 8601 string, got {type(date).__name__}")
        self._jobs.append(PlannedJob(date=date, name=str(name), attack_config=attack_config))

    @property
    def jobs(self) -> list[PlannedJob]:
        """The jobs recorded so far, in the order ``_add_job`` was called."""
        return list(self._jobs)

    @staticmethod
    def to_dict() -> dict[str, Any]:
        raise NotImplementedError("planners implement to_dict() with Planner._to_dict(...)")

    @staticmethod
    def _to_dict(ref: str, schema: dict[str, Any], example: dict[str, Any]) -> dict[str, Any]:
        return {"ref": ref, "schema": schema, "example": example}
