"""Pieces the built-in planners share: schema fragments, seeded randomness, argument parsing."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any, TypeVar

from chaosmonkey.planners.planner import PlannerConfigError

T = TypeVar("T")

#: An optional ``seed`` makes a planner's random choices reproducible.
SEED_SCHEMA: dict[str, Any] = {
    "type": ["integer", "string"],
    "description": "Makes the random choices reproducible: the same seed plans the same times.",
}


def planner_schema(ref: str, args: dict[str, Any], required: list[str]) -> dict[str, Any]:
    """The whole-config schema of a built-in planner: ``{ref, args}`` with strict ``args``."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {
            "ref": {"type": "string", "description": f"Always {ref!r}."},
            "args": {
                "type": "object",
                "properties": args,
                "required": required,
                "additionalProperties": False,
            },
        },
        "required": ["ref", "args"],
    }


def seeded_random(seed: Any, *salt: object) -> random.Random:
    """A generator seeded from ``seed`` and ``salt`` (stable across runs), or from the OS."""
    if seed is None:
        return random.Random()
    return random.Random(":".join(str(part) for part in (seed, *salt)))


def parse_arg(args: dict[str, Any], name: str, parse: Callable[[Any], T], default: T | None = None) -> T:
    """``parse(args[name])``, turning a ValueError into a PlannerConfigError naming the field."""
    if name not in args:
        if default is None:
            raise PlannerConfigError(f"args.{name}", "is required")
        return default
    try:
        return parse(args[name])
    except (TypeError, ValueError) as exc:
        raise PlannerConfigError(f"args.{name}", str(exc)) from exc
