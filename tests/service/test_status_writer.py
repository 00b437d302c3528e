"""StatusWriter on a real event loop: no lost change, coalesced writes, retries, independence."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import random
from collections.abc import Callable
from typing import Any

import pytest

from chaosmonkey.executors import Executor
from chaosmonkey.lifecycle import Phase, PlanStatus
from chaosmonkey.scheduling import PlanKey
from chaosmonkey.status_writer import StatusWriter
from chaosmonkey.timeutil import UTC

from .conftest import wait_until

PLAN = PlanKey("chaos", "plan-a", "uid-a")
OTHER = PlanKey("chaos", "plan-b", "uid-b")
T0 = dt.datetime(2026, 1, 1, tzinfo=UTC)


def add_executor(name: str) -> Callable[[PlanStatus], PlanStatus]:
    def change(status: PlanStatus) -> PlanStatus:
        return dataclasses.replace(status, executors=(*status.executors, Executor(name, T0)))

    return change


def names(written: dict[str, Any]) -> list[str]:
    return [entry["name"] for entry in written["executors"]]


class Store:
    """The write function: records every write; can be slowed, gated or made to fail."""

    def __init__(self, *, latency: float = 0.0, failures: int = 0) -> None:
        self.latency = latency
        self.failures = failures
        self.gates: dict[PlanKey, asyncio.Event] = {}
        self.writes: list[tuple[PlanKey, dict[str, Any]]] = []
        self.attempts = 0
        self.in_flight: dict[PlanKey, int] = {}
        self.most_in_flight = 0

    async def __call__(self, plan: PlanKey, status: dict[str, Any]) -> None:
        self.attempts += 1
        self.in_flight[plan] = self.in_flight.get(plan, 0) + 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight[plan])
        try:
            if plan in self.gates:
                await self.gates[plan].wait()
            if self.latency:
                await asyncio.sleep(self.latency)  # the API call's round trip
            if self.failures > 0:
                self.failures -= 1
                raise ConnectionError("API server unavailable")
            self.writes.append((plan, status))
        finally:
            self.in_flight[plan] -= 1

    def last(self, plan: PlanKey) -> dict[str, Any]:
        return next(status for key, status in reversed(self.writes) if key == plan)

    def count(self, plan: PlanKey) -> int:
        return sum(1 for key, _ in self.writes if key == plan)


@pytest.mark.asyncio
async def test_concurrent_updates_are_all_kept_and_coalesced_into_few_writes() -> None:
    store = Store(latency=0.005)
    writer = StatusWriter(store)

    async def finish(index: int) -> None:
        await asyncio.sleep(random.uniform(0, 0.02))  # completions spread over ~20 ms
        await writer.update(PLAN, add_executor(f"e-{index:03d}"))

    await asyncio.gather(*(finish(i) for i in range(100)))
    assert await writer.flush(PLAN)

    expected = {f"e-{i:03d}" for i in range(100)}
    assert {e.name for e in writer.get(PLAN).executors} == expected
    assert set(names(store.last(PLAN))) == expected
    assert len(names(store.last(PLAN))) == 100
    assert store.most_in_flight == 1
    print(f"\n100 concurrent updates -> {store.count(PLAN)} writes")
    assert store.count(PLAN) <= 10
    await writer.shutdown()


@pytest.mark.asyncio
async def test_each_update_sees_the_previous_ones_result() -> None:
    writer = StatusWriter(Store())
    seen: list[int] = []

    def count(status: PlanStatus) -> PlanStatus:
        seen.append(len(status.executors))
        return add_executor(f"e-{len(status.executors)}")(status)

    await asyncio.gather(*(writer.update(PLAN, count) for _ in range(20)))
    assert seen == list(range(20))
    await writer.shutdown()


@pytest.mark.asyncio
async def test_a_failing_write_is_retried_until_the_latest_status_is_written() -> None:
    store = Store(failures=3)
    writer = StatusWriter(store, retry_initial=0.01, retry_max=0.04)
    await writer.update(PLAN, add_executor("e-1"))
    await wait_until(lambda: store.attempts >= 2)  # failing meanwhile
    await writer.update(PLAN, add_executor("e-2"))
    assert await asyncio.wait_for(writer.flush(PLAN), 5)

    assert names(store.last(PLAN)) == ["e-1", "e-2"]
    assert store.attempts >= 4
    print(f"\n3 failures, then success: {store.attempts} attempts, {store.count(PLAN)} write(s) stored")
    await writer.shutdown()


@pytest.mark.asyncio
async def test_a_slow_plan_does_not_hold_up_another() -> None:
    store = Store()
    store.gates[PLAN] = asyncio.Event()  # plan A's writes hang
    writer = StatusWriter(store)
    await writer.update(PLAN, add_executor("a-1"))
    await writer.update(OTHER, add_executor("b-1"))
    assert await asyncio.wait_for(writer.flush(OTHER), 5)
    assert store.count(PLAN) == 0
    assert names(store.last(OTHER)) == ["b-1"]

    store.gates[PLAN].set()
    assert await asyncio.wait_for(writer.flush(PLAN), 5)
    assert names(store.last(PLAN)) == ["a-1"]
    await writer.shutdown()


@pytest.mark.asyncio
async def test_forget_drops_pending_writes() -> None:
    store = Store()
    store.gates[PLAN] = asyncio.Event()
    writer = StatusWriter(store)
    await writer.update(PLAN, add_executor("e-1"))
    await wait_until(lambda: store.attempts == 1)  # the first write is in flight, hanging
    await writer.update(PLAN, add_executor("e-2"))  # coalesced, pending
    flushing = asyncio.create_task(writer.flush(PLAN))
    await asyncio.sleep(0)

    writer.forget(PLAN)
    assert await asyncio.wait_for(flushing, 5) is False
    store.gates[PLAN].set()
    await asyncio.sleep(0.02)
    assert store.writes == []
    assert store.attempts == 1
    assert writer.pending() == []
    assert writer.get(PLAN) == PlanStatus()
    await writer.shutdown()


@pytest.mark.asyncio
async def test_drain_waits_for_every_plan() -> None:
    store = Store()
    gate = asyncio.Event()
    store.gates[PLAN] = store.gates[OTHER] = gate
    writer = StatusWriter(store)
    await writer.update(PLAN, add_executor("a-1"))
    await writer.update(OTHER, add_executor("b-1"))

    assert await writer.drain(timeout=0.05) is False
    assert set(writer.pending()) == {PLAN, OTHER}
    gate.set()
    assert await writer.drain(timeout=5) is True
    assert writer.pending() == []
    assert {key for key, _ in store.writes} == {PLAN, OTHER}
    await writer.shutdown()


@pytest.mark.asyncio
async def test_set_seeds_without_writing_and_get_defaults_to_an_empty_status() -> None:
    store = Store()
    writer = StatusWriter(store)
    assert writer.get(PLAN) == PlanStatus()
    stored = PlanStatus(phase=Phase.SCHEDULED, observed_generation=3)
    writer.set(PLAN, stored)
    assert writer.get(PLAN) is stored
    assert await writer.flush(PLAN) is True
    assert await writer.drain(timeout=1) is True
    assert store.attempts == 0

    updated = await writer.update(PLAN, add_executor("e-1"))
    assert updated.observed_generation == 3
    assert await writer.flush(PLAN)
    assert store.last(PLAN)["observedGeneration"] == 3
    await writer.shutdown()


@pytest.mark.asyncio
async def test_a_change_that_raises_leaves_the_status_as_it_was() -> None:
    writer = StatusWriter(Store())
    await writer.update(PLAN, add_executor("e-1"))

    def broken(status: PlanStatus) -> PlanStatus:
        raise ValueError("bug")

    with pytest.raises(ValueError, match="bug"):
        await writer.update(PLAN, broken)
    assert [e.name for e in writer.get(PLAN).executors] == ["e-1"]
    await writer.shutdown()


@pytest.mark.asyncio
async def test_after_shutdown_changes_stay_in_memory_and_nothing_is_written() -> None:
    store = Store()
    store.gates[PLAN] = asyncio.Event()
    writer = StatusWriter(store)
    await writer.update(PLAN, add_executor("e-1"))
    flushing = asyncio.create_task(writer.flush(PLAN))
    await wait_until(lambda: store.attempts == 1)
    await writer.shutdown()
    assert await asyncio.wait_for(flushing, 5) is False
    await writer.update(PLAN, add_executor("e-2"))
    assert [e.name for e in writer.get(PLAN).executors] == ["e-1", "e-2"]
    store.gates[PLAN].set()
    await asyncio.sleep(0.02)
    assert store.writes == []
