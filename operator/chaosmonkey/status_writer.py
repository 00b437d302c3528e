"""One status writer per plan: every change in order, every write coalesced, no change lost.

The operator changes a plan's status from many places at once (the reconcile of a watch event,
fires starting, attacks finishing). All of them go through :meth:`StatusWriter.update`, which
applies a change function to the plan's *current in-memory* status under the plan's lock, so
each change sees the result of the previous one and none is lost, whatever the timing.

Writing is separate from changing:

* **At most one write in flight per plan.** Changes made while a write is in flight are
  coalesced into one following write of the latest status: a hundred executors finishing in the
  same second cost a few writes, not a hundred. Plans are written independently of each other.
* **A failed write is retried forever**, with exponential backoff (``retry_initial`` doubling up
  to ``retry_max`` seconds, plus up to 10 % jitter), each try writing the latest status, until it
  succeeds or the plan is forgotten (deleted) or the writer shut down. Memory stays bounded
  meanwhile: one status per plan, however many changes arrive.
* **Forgetting a plan** (its deletion) drops its status and its pending writes; a change made
  to it afterwards (an attack that finished after the deletion) starts a fresh status and one
  write, which the write function is expected to drop (the plan is gone).
* **What is written is the status alone** (``PlanStatus.to_dict()``); the write function decides
  how (a merge patch of ``/status``). The operator never writes ``spec``, so there is no conflict
  to resolve: the latest in-memory status is the truth.

Everything runs on one event loop; nothing here is thread-safe.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any

from chaosmonkey.lifecycle import PlanStatus
from chaosmonkey.scheduling import PlanKey

log = logging.getLogger(__name__)

WriteStatus = Callable[[PlanKey, dict[str, Any]], Awaitable[None]]

#: Up to this fraction of a backoff delay is added at random, so retries of many plans spread out.
RETRY_JITTER = 0.1


@dataclasses.dataclass(eq=False)
class _PlanSlot:
    """The writer's state of one plan."""

    status: PlanStatus
    lock: asyncio.Lock = dataclasses.field(default_factory=asyncio.Lock)
    #: Bumped by every change; ``written`` is the version stored last.
    version: int = 0
    written: int = 0
    flusher: asyncio.Task[None] | None = None
    #: ``flush`` callers: the version each waits for, and the future that wakes it.
    waiters: list[tuple[int, asyncio.Future[bool]]] = dataclasses.field(default_factory=list)
    forgotten: bool = False
    failures: int = 0

    @property
    def dirty(self) -> bool:
        return self.written < self.version


class StatusWriter:
    """Keeps each plan's latest status in memory and writes it, coalesced, through ``write``."""

    def __init__(self, write: WriteStatus, *, retry_initial: float = 0.5, retry_max: float = 30.0) -> None:
        if retry_initial <= 0 or retry_max < retry_initial:
            raise ValueError("need 0 < retry_initial <= retry_max")
        self._write = write
        self.retry_initial = retry_initial
        self.retry_max = retry_max
        self._plans: dict[PlanKey, _PlanSlot] = {}
        self._closed = False
        #: How many writes were attempted (succeeded or not), for tests and logs.
        self.writes_attempted = 0

    # -- the status in memory ------------------------------------------------------------------

    def get(self, plan: PlanKey) -> PlanStatus:
        """The latest status of ``plan`` (an empty Pending status for a plan not seen yet)."""
        slot = self._plans.get(plan)
        return slot.status if slot is not None else PlanStatus()

    def set(self, plan: PlanKey, status: PlanStatus) -> None:
        """Seed ``plan`` with ``status`` as stored (on resume): nothing to write.

        Changes not written yet are dropped and a write in flight is cancelled: what is stored now
        is the truth (another leader may have written it meanwhile). ``flush`` callers waiting
        for an earlier version return True: the stored status supersedes it.
        """
        slot = self._slot(plan)
        self._stop_flusher(slot)
        slot.status = status
        slot.version += 1
        slot.written = slot.version
        self._notify(slot)

    def forget(self, plan: PlanKey) -> None:
        """Drop ``plan`` (deleted): its pending writes are abandoned, a write in flight cancelled."""
        slot = self._plans.pop(plan, None)
        if slot is None:
            return
        slot.forgotten = True
        self._stop_flusher(slot)
        self._notify(slot)

    def pending(self) -> list[PlanKey]:
        """Plans with changes not written yet."""
        return [plan for plan, slot in self._plans.items() if slot.dirty]

    # -- changing ------------------------------------------------------------------------------

    async def update(self, plan: PlanKey, change: Callable[[PlanStatus], PlanStatus]) -> PlanStatus:
        """Apply ``change`` to the plan's current status, then have it written; the new status.

        If ``change`` raises, the status is left as it was and the exception propagates.
        """
        slot = self._slot(plan)
        async with slot.lock:
            new_status = change(slot.status)
            if self._plans.get(plan) is not slot:
                return new_status  # forgotten while we waited for the lock: nothing to keep
            slot.status = new_status
            slot.version += 1
        self._request_flush(plan, slot)
        return new_status

    # -- writing -------------------------------------------------------------------------------

    async def flush(self, plan: PlanKey) -> bool:
        """Wait until the status as of now (or a later one) is written.

        True once written; False if the plan was forgotten or the writer shut down first.
        """
        slot = self._plans.get(plan)
        if slot is None:
            return False
        target = slot.version
        if slot.written >= target:
            return True
        if self._closed:
            return False
        woken: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        slot.waiters.append((target, woken))
        return await woken

    async def drain(self, timeout: float | None = None) -> bool:
        """Wait until every plan's status as of now is written; False if ``timeout`` ran out."""
        plans = self.pending()
        if not plans:
            return True
        try:
            written = await asyncio.wait_for(asyncio.gather(*(self.flush(plan) for plan in plans)), timeout)
        except TimeoutError:
            log.warning("status of %d plan(s) not written within %ss", len(self.pending()), timeout)
            return False
        # A plan forgotten meanwhile needs no write; one that could not be written (shutdown) does.
        return all(done or plan not in self._plans for plan, done in zip(plans, written, strict=True))

    async def shutdown(self) -> None:
        """Stop writing: writes in flight are cancelled; later changes stay in memory only."""
        self._closed = True
        flushers = [slot.flusher for slot in self._plans.values() if slot.flusher is not None]
        for slot in self._plans.values():
            self._stop_flusher(slot)
            self._notify(slot)
        await asyncio.gather(*flushers, return_exceptions=True)

    # -- internals -----------------------------------------------------------------------------

    def _slot(self, plan: PlanKey) -> _PlanSlot:
        slot = self._plans.get(plan)
        if slot is None:
            slot = self._plans[plan] = _PlanSlot(PlanStatus())
        return slot

    def _request_flush(self, plan: PlanKey, slot: _PlanSlot) -> None:
        if self._closed or slot.forgotten:
            return
        if slot.flusher is None or slot.flusher.done():
            # The one writer of this plan; it writes until it has caught up with every change.
            slot.flusher = asyncio.create_task(
                self._flush_until_clean(plan, slot), name=f"chaosmonkey-status:{plan.namespace}/{plan.name}"
            )

    async def _flush_until_clean(self, plan: PlanKey, slot: _PlanSlot) -> None:
        while slot.dirty and not slot.forgotten and not self._closed:
            version, status = slot.version, slot.status  # the latest: earlier changes coalesce into it
            self.writes_attempted += 1
            try:
                await self._write(plan, status.to_dict())
            except Exception as exc:  # noqa: BLE001 - any failure is retried; the status is kept
                slot.failures += 1
                delay = min(self.retry_max, self.retry_initial * 2 ** (slot.failures - 1))
                delay += random.uniform(0, RETRY_JITTER * delay)
                log.warning(
                    "writing the status of %s/%s failed (try %d), retrying in %.1fs: %s",
                    plan.namespace,
                    plan.name,
                    slot.failures,
                    delay,
                    exc,
                )
                await asyncio.sleep(delay)
                continue
            slot.failures = 0
            slot.written = max(slot.written, version)
            self._notify(slot)

    def _stop_flusher(self, slot: _PlanSlot) -> None:
        if slot.flusher is not None and not slot.flusher.done():
            slot.flusher.cancel()
        slot.flusher = None

    def _notify(self, slot: _PlanSlot) -> None:
        """Wake the ``flush`` callers whose version is written, or all if it never will be."""
        waiting = []
        for target, woken in slot.waiters:
            if woken.done():  # its caller gave up (a timeout)
                continue
            if slot.written >= target:
                woken.set_result(True)
            elif slot.forgotten or self._closed:
                woken.set_result(False)
            else:
                waiting.append((target, woken))
        slot.waiters = waiting
