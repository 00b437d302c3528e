"""AttackScheduler on a real event loop and a real APScheduler: fire times, idempotence, pausing."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from chaosmonkey.executors import Executor, ExecutorState
from chaosmonkey.scheduling import AttackScheduler, PlanKey
from chaosmonkey.timeutil import UTC

from .conftest import wait_until

PLAN = PlanKey("chaos", "kill-one-node", "uid-1")
OTHER = PlanKey("chaos", "other", "uid-2")


def now() -> dt.datetime:
    return dt.datetime.now(UTC)


def soon(seconds: float) -> dt.datetime:
    return now() + dt.timedelta(seconds=seconds)


class Recorder:
    """The fire callback: remembers every (plan, executor) fired, in order."""

    def __init__(self) -> None:
        self.fired: list[tuple[PlanKey, str]] = []

    async def __call__(self, plan: PlanKey, executor_name: str) -> None:
        self.fired.append((plan, executor_name))

    def names(self) -> list[str]:
        return [name for _, name in self.fired]


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest_asyncio.fixture
async def scheduler(recorder: Recorder) -> AsyncIterator[AttackScheduler]:
    service = AttackScheduler(recorder)
    service.start()
    yield service
    await service.shutdown()


@pytest.mark.asyncio
async def test_many_executors_due_in_the_same_second_fire_once_each_in_order(
    scheduler: AttackScheduler, recorder: Recorder
) -> None:
    base = soon(0.3)
    # 50 executors within the same second, added in shuffled order.
    executors = [Executor(f"e-{i:02d}", base + dt.timedelta(milliseconds=10 * i)) for i in range(50)]
    scheduler.sync(PLAN, reversed(executors), ())
    assert scheduler.job_count == 50

    await wait_until(lambda: len(recorder.fired) >= 50)
    await asyncio.sleep(0.05)  # a duplicate fire would be due by now: there must be none
    assert recorder.names() == [e.name for e in executors]
    assert scheduler.job_count == 0
    assert scheduler.scheduled(PLAN) == {}


@pytest.mark.asyncio
async def test_syncing_the_same_executor_again_keeps_one_job(
    scheduler: AttackScheduler, recorder: Recorder
) -> None:
    executor = Executor("e-1", soon(0.2))
    for _ in range(3):
        scheduler.sync(PLAN, [executor], ())
    assert scheduler.job_count == 1
    assert scheduler.scheduled(PLAN) == {"e-1": executor.scheduled_time}

    await wait_until(lambda: len(recorder.fired) == 1)
    await asyncio.sleep(0.05)
    assert recorder.fired == [(PLAN, "e-1")]


@pytest.mark.asyncio
async def test_a_changed_scheduled_time_moves_the_job(scheduler: AttackScheduler, recorder: Recorder) -> None:
    scheduler.sync(PLAN, [Executor("e-1", soon(3600))], ())
    moved = Executor("e-1", soon(0.2))
    scheduler.sync(PLAN, [moved], ())
    assert scheduler.scheduled(PLAN) == {"e-1": moved.scheduled_time}
    await wait_until(lambda: recorder.fired == [(PLAN, "e-1")])


@pytest.mark.asyncio
async def test_unschedule_removes_jobs_and_ignores_unknown_names(
    scheduler: AttackScheduler, recorder: Recorder
) -> None:
    scheduler.sync(PLAN, [Executor("e-1", soon(0.2)), Executor("e-2", soon(0.25))], ())
    scheduler.sync(PLAN, (), ["e-1", "never-scheduled"])
    assert set(scheduler.scheduled(PLAN)) == {"e-2"}
    await wait_until(lambda: len(recorder.fired) == 1)
    await asyncio.sleep(0.3)
    assert recorder.names() == ["e-2"]


@pytest.mark.asyncio
async def test_executors_no_longer_pending_lose_their_job(scheduler: AttackScheduler) -> None:
    executor = Executor("e-1", soon(3600))
    scheduler.sync(PLAN, [executor], ())
    cancelled = executor.transition(ExecutorState.CANCELLED, now())
    scheduler.sync(PLAN, [cancelled], ())
    assert scheduler.scheduled(PLAN) == {}


@pytest.mark.asyncio
async def test_remove_plan_removes_only_its_jobs(scheduler: AttackScheduler, recorder: Recorder) -> None:
    scheduler.sync(PLAN, [Executor(f"e-{i}", soon(0.2)) for i in range(5)], ())
    scheduler.sync(OTHER, [Executor("o-1", soon(0.2))], ())
    scheduler.remove_plan(PLAN)
    scheduler.remove_plan(PlanKey("chaos", "unknown", "uid-unknown"))
    assert scheduler.scheduled(PLAN) == {}
    assert scheduler.job_count == 1
    await wait_until(lambda: len(recorder.fired) == 1)
    await asyncio.sleep(0.05)
    assert recorder.fired == [(OTHER, "o-1")]


@pytest.mark.asyncio
async def test_past_due_executors_fire_at_once(scheduler: AttackScheduler, recorder: Recorder) -> None:
    # Far past APScheduler's default misfire grace time of 1 s: lateness is the lifecycle's call.
    scheduler.sync(PLAN, [Executor("late", now() - dt.timedelta(minutes=10))], ())
    started = time.monotonic()
    await wait_until(lambda: recorder.fired == [(PLAN, "late")], deadline=2.0)
    print(f"\npast-due executor fired after {1000 * (time.monotonic() - started):.1f} ms")


@pytest.mark.asyncio
async def test_nothing_fires_while_paused_and_missed_jobs_fire_on_resume(
    scheduler: AttackScheduler, recorder: Recorder
) -> None:
    scheduler.pause()
    due = Executor("e-1", soon(0.1))
    scheduler.sync(PLAN, [due], ())
    await wait_until(lambda: now() > due.scheduled_time + dt.timedelta(milliseconds=200))
    assert recorder.fired == []
    assert scheduler.scheduled(PLAN) == {"e-1": due.scheduled_time}  # kept while paused

    scheduler.resume()
    await wait_until(lambda: recorder.fired == [(PLAN, "e-1")], deadline=2.0)


@pytest.mark.asyncio
async def test_nothing_fires_after_shutdown(recorder: Recorder) -> None:
    service = AttackScheduler(recorder)
    service.start()
    due = Executor("e-1", soon(0.1))
    service.sync(PLAN, [due], ())
    await service.shutdown()
    await wait_until(lambda: now() > due.scheduled_time + dt.timedelta(milliseconds=200))
    await asyncio.sleep(0.05)
    assert recorder.fired == []
    with pytest.raises(RuntimeError, match="shut down"):
        service.sync(PLAN, [due], ())


@pytest.mark.asyncio
async def test_shutdown_cancels_running_fires_after_the_grace_time() -> None:
    started = asyncio.Event()
    cancelled = asyncio.Event()

    async def hanging_fire(plan: PlanKey, executor_name: str) -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    service = AttackScheduler(hanging_fire)
    service.start()
    service.sync(PLAN, [Executor("e-1", now())], ())
    await asyncio.wait_for(started.wait(), 5)
    assert service.in_flight == 1
    await service.shutdown(grace=0.01)
    assert cancelled.is_set()
    assert service.in_flight == 0


@pytest.mark.asyncio
async def test_a_failing_fire_does_not_stop_the_others(caplog: pytest.LogCaptureFixture) -> None:
    fired: list[str] = []

    async def fire(plan: PlanKey, executor_name: str) -> None:
        fired.append(executor_name)
        if executor_name == "bad":
            raise RuntimeError("boom")

    service = AttackScheduler(fire)
    service.start()
    try:
        service.sync(PLAN, [Executor("bad", soon(0.05)), Executor("good", soon(0.1))], ())
        await wait_until(lambda: len(fired) == 2)
        await wait_until(lambda: service.in_flight == 0)
    finally:
        await service.shutdown()
    assert "firing uid-1/bad failed" in caplog.text


def test_sync_before_start_is_refused(recorder: Recorder) -> None:
    with pytest.raises(RuntimeError, match=r"start\(\)"):
        AttackScheduler(recorder).sync(PLAN, [Executor("e-1", soon(60))], ())


@pytest.mark.asyncio
async def test_ten_thousand_jobs_are_added_and_removed_quickly(scheduler: AttackScheduler) -> None:
    plans = [PlanKey("chaos", f"plan-{p}", f"uid-{p}") for p in range(100)]
    base = soon(3600)
    started = time.perf_counter()
    for plan in plans:
        scheduler.sync(plan, [Executor(f"e-{i}", base + dt.timedelta(seconds=i)) for i in range(100)], ())
    added = time.perf_counter()
    assert scheduler.job_count == 10_000

    for plan in plans[:1]:
        resynced = time.perf_counter()
        scheduler.sync(plan, [Executor(f"e-{i}", base + dt.timedelta(seconds=i)) for i in range(100)], ())
        resynced = time.perf_counter() - resynced
    removing = time.perf_counter()
    for plan in plans:
        scheduler.remove_plan(plan)
    removed = time.perf_counter()
    assert scheduler.job_count == 0
    await asyncio.sleep(0)  # let the queued wake-ups run
    print(
        f"\n10,000 jobs: added in {added - started:.3f} s, re-synced 100 unchanged in "
        f"{1000 * resynced:.1f} ms, removed (100 plans) in {removed - removing:.3f} s"
    )
