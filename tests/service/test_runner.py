"""AttackRunner with real threads: timeouts, the concurrency cap, failures, a free event loop."""

from __future__ import annotations

import asyncio
import threading
from typing import Any, ClassVar

import pytest

from chaosmonkey.attacks.attack import Attack, AttackContext, AttackError
from chaosmonkey.runner import THREAD_NAME_PREFIX, AttackRunner

from .conftest import wait_until

CONTEXT = AttackContext(plan_name="plan", namespace="chaos", executor_name="plan-1")


class GatedAttack(Attack):
    """Blocks in ``run`` until the test opens its gate; counts how many run at once."""

    ref = "gated:GatedAttack"
    schema: ClassVar[dict[str, Any]] = {}
    example: ClassVar[dict[str, Any]] = {}

    gate = threading.Event()
    lock = threading.Lock()
    running = 0
    most_running = 0
    threads: ClassVar[set[str]] = set()

    @classmethod
    def reset(cls) -> None:
        cls.gate = threading.Event()
        cls.running = 0
        cls.most_running = 0
        cls.threads = set()

    def run(self) -> str:
        cls = type(self)
        with cls.lock:
            cls.running += 1
            cls.most_running = max(cls.most_running, cls.running)
            cls.threads.add(threading.current_thread().name)
        try:
            if not cls.gate.wait(timeout=30):
                raise AttackError("the test never opened the gate")
            return f"ran {self.attack_config['n']}"
        finally:
            with cls.lock:
                cls.running -= 1


class FailingAttack(Attack):
    ref = "failing:FailingAttack"
    schema: ClassVar[dict[str, Any]] = {}
    example: ClassVar[dict[str, Any]] = {}

    def run(self) -> str:
        raise ValueError("no such instance")


@pytest.fixture(autouse=True)
def _reset_gated_attack() -> Any:
    GatedAttack.reset()
    yield
    GatedAttack.gate.set()  # never leave a thread behind


@pytest.mark.asyncio
async def test_a_slow_attack_times_out_and_keeps_its_slot_until_it_returns() -> None:
    runner = AttackRunner(max_concurrent=1, timeout_seconds=0.1)
    timed = await runner.run_timed(GatedAttack, {"n": 1}, CONTEXT)
    assert not timed.outcome.succeeded
    assert timed.outcome.message == (
        "timed out after 0.1s; the attack may still be running in the background"
    )
    assert timed.duration_seconds >= 0.1
    # The thread still runs: the only slot is taken, so the next attack waits.
    assert runner.running == 1
    queued = asyncio.create_task(runner.run(GatedAttack, {"n": 2}, CONTEXT))
    await asyncio.sleep(0.02)
    assert not queued.done()
    assert GatedAttack.running == 1

    GatedAttack.gate.set()
    outcome = await asyncio.wait_for(queued, 5)
    assert outcome.succeeded
    assert outcome.message == "ran 2"
    await wait_until(lambda: runner.running == 0)
    await runner.shutdown()


@pytest.mark.asyncio
async def test_at_most_max_concurrent_attacks_run_at_once() -> None:
    runner = AttackRunner(max_concurrent=3, timeout_seconds=30)
    runs = [asyncio.create_task(runner.run(GatedAttack, {"n": n}, CONTEXT)) for n in range(10)]
    await wait_until(lambda: GatedAttack.running == 3)
    await asyncio.sleep(0.02)  # a fourth would have started by now if the cap did not hold
    assert GatedAttack.running == 3
    assert sum(run.done() for run in runs) == 0

    GatedAttack.gate.set()
    outcomes = await asyncio.wait_for(asyncio.gather(*runs), 10)
    assert [o.message for o in outcomes] == [f"ran {n}" for n in range(10)]
    assert GatedAttack.most_running == 3
    assert GatedAttack.threads and all(name.startswith(THREAD_NAME_PREFIX) for name in GatedAttack.threads)
    await runner.shutdown()


@pytest.mark.asyncio
async def test_exceptions_become_failures_with_their_message() -> None:
    runner = AttackRunner(max_concurrent=2, timeout_seconds=5)
    timed = await runner.run_timed(FailingAttack, {}, CONTEXT)
    assert not timed.outcome.succeeded
    assert timed.outcome.message == "ValueError: no such instance"
    assert timed.duration_seconds >= 0
    print(
        f"\nfailing attack: ran {1000 * timed.duration_seconds:.2f} ms, queued {1000 * timed.queued_seconds:.2f} ms"
    )
    await runner.shutdown()


@pytest.mark.asyncio
async def test_the_event_loop_keeps_running_while_an_attack_blocks() -> None:
    runner = AttackRunner(max_concurrent=1, timeout_seconds=30)
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.001)

    ticker = asyncio.create_task(tick())
    run = asyncio.create_task(runner.run(GatedAttack, {"n": 1}, CONTEXT))
    await wait_until(lambda: GatedAttack.running == 1)
    ticks_at_start = ticks
    await wait_until(lambda: ticks >= ticks_at_start + 20)  # the loop ticks while the attack blocks
    assert GatedAttack.running == 1
    GatedAttack.gate.set()
    assert (await asyncio.wait_for(run, 5)).succeeded
    ticker.cancel()
    await runner.shutdown()


@pytest.mark.asyncio
async def test_nothing_starts_after_shutdown() -> None:
    runner = AttackRunner(max_concurrent=1, timeout_seconds=5)
    await runner.shutdown()
    with pytest.raises(RuntimeError, match="shut down"):
        await runner.run(FailingAttack, {}, CONTEXT)


def test_bounds_are_checked() -> None:
    with pytest.raises(ValueError, match="max_concurrent"):
        AttackRunner(max_concurrent=0, timeout_seconds=1)
    with pytest.raises(ValueError, match="timeout_seconds"):
        AttackRunner(max_concurrent=1, timeout_seconds=0)


@pytest.mark.asyncio
async def test_a_cancelled_caller_leaves_the_slot_taken_until_the_thread_ends() -> None:
    runner = AttackRunner(max_concurrent=1, timeout_seconds=30)
    first = asyncio.create_task(runner.run(GatedAttack, {"n": 1}, CONTEXT))
    await wait_until(lambda: GatedAttack.running == 1)
    first.cancel()
    await asyncio.gather(first, return_exceptions=True)
    assert runner.running == 1  # the thread still runs: no second thread may start beside it

    second = asyncio.create_task(runner.run(GatedAttack, {"n": 2}, CONTEXT))
    await asyncio.sleep(0.02)
    assert not second.done()
    assert GatedAttack.most_running == 1
    GatedAttack.gate.set()
    assert (await asyncio.wait_for(second, 5)).message == "ran 2"
    assert GatedAttack.most_running == 1
    await runner.shutdown()
