"""``exact_planner:ExactPlanner``: one attack at an exact date and time."""

from __future__ import annotations

from typing import Any

from chaosmonkey.planners._common import parse_arg, planner_schema
from chaosmonkey.planners.planner import Planner
from chaosmonkey.timeutil import parse_datetime


class ExactPlanner(Planner):
    """One executor at ``args.date`` (ISO 8601; without an offset, in the plan's time zone)."""

    ref = "exact_planner:ExactPlanner"
    schema = planner_schema(
        ref,
        {
            "date": {
                "type": "string",
                "description": 'ISO 8601, e.g. "2026-12-01T10:00" (plan\'s zone) or with an offset.',
            }
        },
        ["date"],
    )
    example = {"ref": ref, "args": {"date": "2026-12-01T10:00"}}

    def plan(self, planner_config: dict[str, Any], attack_config: dict[str, Any]) -> None:
        args = planner_config.get("args", {})
        attack_date = parse_arg(args, "date", lambda value: parse_datetime(value, self.timezone))
        self._add_job(attack_date, f"Exact Planner - {self.name}", attack_config)

    @staticmethod
    def to_dict() -> dict[str, Any]:
        return Planner._to_dict(ExactPlanner.ref, ExactPlanner.schema, ExactPlanner.example)
