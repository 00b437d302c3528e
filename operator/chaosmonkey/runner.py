"""Running attacks off the event loop: a bounded thread pool with a per-attack timeout.

Attack plugins are synchronous (the seed API), so each runs in a worker thread of this runner's
own pool (threads named ``chaosmonkey-attack``) while the event loop keeps serving watches,
leader election and status writes.

Guarantees:

* At most ``max_concurrent`` attacks run at once; further ones wait, first come first served.
* An attack is given ``timeout_seconds``; past it, :meth:`AttackRunner.run` returns a failure
  at once. A Python thread cannot be killed, so the attack may still be running: **its slot
  stays taken until its thread really ends**. A hung attack therefore occupies one slot for as
  long as it hangs, but hung attacks can never pile up into an unbounded number of threads.
* An attack never makes :meth:`run` raise: plugin exceptions are failures with their message
  (see :func:`chaosmonkey.execution.run_attack`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from chaosmonkey.attacks.attack import Attack, AttackContext
from chaosmonkey.execution import AttackOutcome, run_attack

log = logging.getLogger(__name__)

THREAD_NAME_PREFIX = "chaosmonkey-attack"


@dataclass(frozen=True)
class TimedOutcome:
    """An attack's outcome and how long it took."""

    outcome: AttackOutcome
    #: Seconds the attack ran in its thread (up to the timeout for an attack that timed out).
    duration_seconds: float
    #: Seconds it waited for a free slot before it started.
    queued_seconds: float


class AttackRunner:
    """Runs attacks in a thread pool, ``max_concurrent`` at most, each within ``timeout_seconds``."""

    def __init__(self, max_concurrent: int, timeout_seconds: float) -> None:
        if max_concurrent < 1:
            raise ValueError(f"max_concurrent must be at least 1, not {max_concurrent}")
        if timeout_seconds <= 0:
            raise ValueError(f"timeout_seconds must be positive, not {timeout_seconds}")
        self.max_concurrent = max_concurrent
        self.timeout_seconds = timeout_seconds
        self._pool = ThreadPoolExecutor(max_workers=max_concurrent, thread_name_prefix=THREAD_NAME_PREFIX)
        self._slots = asyncio.Semaphore(max_concurrent)
        self._running = 0
        self._closed = False

    @property
    def running(self) -> int:
        """Attacks whose thread has not ended yet (timed-out ones included)."""
        return self._running

    async def run(
        self, attack_cls: type[Attack], attack_config: dict[str, Any], context: AttackContext
    ) -> AttackOutcome:
        """Run one attack; its outcome, a failure if it timed out."""
        return (await self.run_timed(attack_cls, attack_config, context)).outcome

    async def run_timed(
        self, attack_cls: type[Attack], attack_config: dict[str, Any], context: AttackContext
    ) -> TimedOutcome:
        """:meth:`run`, with the attack's duration and time spent waiting for a slot."""
        loop = asyncio.get_running_loop()
        queued_at = loop.time()
        await self._slots.acquire()
        if self._closed:
            self._slots.release()
            raise RuntimeError("the attack runner is shut down")
        started = loop.time()
        try:
            future = loop.run_in_executor(self._pool, _timed_run_attack, attack_cls, attack_config, context)
        except BaseException:
            self._slots.release()
            raise
        self._running += 1
        # The slot is given back when the thread ends, not when we stop waiting for it.
        future.add_done_callback(self._thread_ended)
        try:
            outcome, duration = await asyncio.wait_for(asyncio.shield(future), self.timeout_seconds)
        except TimeoutError:
            ref = getattr(attack_cls, "ref", attack_cls.__name__)
            log.warning(
                "attack %s of %s/%s timed out after %gs; its thread keeps a slot until it returns",
                ref,
                context.namespace,
                context.executor_name,
                self.timeout_seconds,
            )
            outcome = AttackOutcome(
                False,
                f"timed out after {self.timeout_seconds:g}s; "
                "the attack may still be running in the background",
                dry_run=context.dry_run,
            )
            duration = loop.time() - started
        return TimedOutcome(outcome, duration, started - queued_at)

    async def shutdown(self) -> None:
        """Start no more attacks; attacks already running are left to end in their threads."""
        self._closed = True
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _thread_ended(self, future: asyncio.Future[tuple[AttackOutcome, float]]) -> None:
        self._running -= 1
        self._slots.release()
        if not future.cancelled() and future.exception() is not None:  # retrieves it, too
            log.error("attack thread failed", exc_info=future.exception())


def _timed_run_attack(
    attack_cls: type[Attack], attack_config: dict[str, Any], context: AttackContext
) -> tuple[AttackOutcome, float]:
    started = time.monotonic()
    try:
        outcome = run_attack(attack_cls, attack_config, context)
    except Exception as exc:  # noqa: BLE001 - run_attack catches the plugin's errors; this is a last guard
        outcome = AttackOutcome(False, f"{type(exc).__name__}: {exc}", dry_run=context.dry_run)
    return outcome, time.monotonic() - started
