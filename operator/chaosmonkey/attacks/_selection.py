"""Choosing targets the way AWS FIS selection modes do: ``count`` or ``percent`` of a set."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import Any, TypeVar

T = TypeVar("T")

#: JSON Schema fragments for attacks that pick targets: ``count`` (default 1) or ``percent``.
SELECTION_PROPERTIES: dict[str, Any] = {
    "count": {"type": "integer", "minimum": 1, "description": "How many targets (default 1)."},
    "percent": {
        "type": "number",
        "exclusiveMinimum": 0,
        "maximum": 100,
        "description": "Share of the matching targets, rounded up (at least one).",
    },
}
SELECTION_EXCLUSIVE: dict[str, Any] = {"not": {"required": ["count", "percent"]}}


def selection_size(total: int, *, count: int | None = None, percent: float | None = None) -> int:
    """How many of ``total`` matching targets to pick; never more than ``total``."""
    if count is not None and percent is not None:
        raise ValueError("give count or percent, not both")
    wanted = math.ceil(total * percent / 100) if percent is not None else (count or 1)
    return max(0, min(total, wanted))


def choose(
    items: Sequence[T],
    *,
    count: int | None = None,
    percent: float | None = None,
    rng: random.Random | None = None,
) -> list[T]:
    """Pick targets at random from ``items`` per ``count``/``percent``."""
    size = selection_size(len(items), count=count, percent=percent)
    return (rng or random.SystemRandom()).sample(list(items), size)
