"""Helpers for the service tests: they run on a real event loop, waiting by polling with a deadline."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

#: Generous: a condition that holds is seen within milliseconds; this only bounds a failure.
DEFAULT_DEADLINE = 10.0


async def wait_until(condition: Callable[[], bool], *, deadline: float = DEFAULT_DEADLINE) -> None:
    """Poll ``condition`` until it holds; AssertionError after ``deadline`` seconds."""
    give_up = time.monotonic() + deadline
    while not condition():
        if time.monotonic() > give_up:
            raise AssertionError(f"condition not met within {deadline}s")
        await asyncio.sleep(0.005)
