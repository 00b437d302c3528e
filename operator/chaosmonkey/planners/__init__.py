"""Planners: the plugin base class and the built-in planners."""

from chaosmonkey.planners.planner import PlannedJob, Planner, PlannerConfigError

__all__ = ["PlannedJob", "Planner", "PlannerConfigError"]
