"""When executors fire: a thin service around APScheduler 3's ``AsyncIOScheduler``.

Guarantees:

* **One job per executor.** A job's id is ``"<plan uid>/<executor name>"`` and every
  :meth:`AttackScheduler.sync` replaces the job of that id, so syncing the same executor twice
  keeps one job (a changed ``scheduled_time`` moves it). APScheduler removes a date job once it
  has fired, so a job fires at most once; if the job is added again later (a reconcile that still
  saw the executor as Pending), the lifecycle's at-most-once guard (:func:`start_executor` only
  starts a Pending executor) makes the second fire a no-op.
* **Lateness is the lifecycle's call, not APScheduler's.** Jobs have no misfire grace time:
  a job whose time has passed (added late, or due while the scheduler was paused for a lost
  leadership) fires as soon as the scheduler runs, and :func:`start_executor` marks it Missed if
  it is beyond ``startingDeadlineSeconds``.
* **Per-plan bookkeeping is O(jobs of that plan)**: an index plan uid -> executor names, kept
  exact through APScheduler's job-removed events, so :meth:`remove_plan` never scans all jobs.
* **Fires are tasks of this service, not of APScheduler.** A due job hands ``fire(plan, name)``
  to a task of its own and returns, so APScheduler's executor never cancels a running attack.
  After :meth:`shutdown` returns nothing fires any more; fires still running are given
  ``grace`` seconds and then cancelled (the executor stays Running in the stored status, which a
  restart turns into Interrupted: never run twice).

Everything runs on the event loop that called :meth:`start` (kopf's); nothing here is thread-safe.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, NamedTuple

from apscheduler.events import EVENT_JOB_REMOVED, JobEvent
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger

from chaosmonkey.executors import Executor, ExecutorState
from chaosmonkey.timeutil import UTC

log = logging.getLogger(__name__)


class PlanKey(NamedTuple):
    """A ChaosPlan, by where it lives and by its uid (a recreated plan is a new plan)."""

    namespace: str
    name: str
    uid: str


_FIRE_TASK_PREFIX = "chaosmonkey-fire:"

FireCallback = Callable[[PlanKey, str], Awaitable[None]]


def job_id(plan: PlanKey, executor_name: str) -> str:
    """The APScheduler job id of one executor of one plan (uids contain no ``/``)."""
    return f"{plan.uid}/{executor_name}"


class AttackScheduler:
    """Fires ``fire(plan, executor_name)`` at each pending executor's ``scheduled_time``."""

    def __init__(self, fire: FireCallback, *, timezone: dt.tzinfo = UTC) -> None:
        self._fire = fire
        self._scheduler = AsyncIOScheduler(timezone=timezone)
        self._scheduler.add_listener(self._on_job_removed, EVENT_JOB_REMOVED)
        #: plan uid -> (plan, names of the executors that have a job).
        self._jobs_by_plan: dict[str, tuple[PlanKey, set[str]]] = {}
        self._in_flight: set[asyncio.Task[None]] = set()
        self._started = False
        self._stopped = False

    # -- life cycle ----------------------------------------------------------------------------

    def start(self) -> None:
        """Start on the running event loop (RuntimeError without one)."""
        asyncio.get_running_loop()
        if self._started:
            return
        self._scheduler.start()
        self._started = True

    async def shutdown(self, *, grace: float = 0.0) -> None:
        """Stop firing; wait up to ``grace`` seconds for running fires, then cancel them."""
        if self._stopped:
            return
        self._stopped = True
        if self._started and self._scheduler.running:
            # wait=False: APScheduler's own tasks only hand over to ours and end at once.
            self._scheduler.shutdown(wait=False)
        running = set(self._in_flight)
        if running and grace > 0:
            await asyncio.wait(running, timeout=grace)
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        # The scheduler's own shutdown is queued with call_soon; let it run before returning.
        await asyncio.sleep(0)

    def pause(self) -> None:
        """Fire nothing until :meth:`resume` (lost leadership); jobs are kept."""
        if self._started and not self._stopped:
            self._scheduler.pause()

    def resume(self) -> None:
        """Fire again; jobs whose time passed meanwhile fire at once."""
        if self._started and not self._stopped:
            self._scheduler.resume()

    # -- jobs ----------------------------------------------------------------------------------

    def sync(self, plan: PlanKey, schedule: Iterable[Executor], unschedule: Iterable[str]) -> None:
        """Give every pending executor of ``schedule`` its job; remove the jobs of ``unschedule``.

        Idempotent per executor. Executors in ``schedule`` that are no longer Pending lose their
        job. Names in ``unschedule`` without a job are ignored.
        """
        self._require_started()
        for name in unschedule:
            self._remove(plan, name)
        for executor in schedule:
            if executor.state is not ExecutorState.PENDING:
                self._remove(plan, executor.name)
                continue
            self._add(plan, executor)

    def remove_plan(self, plan: PlanKey) -> None:
        """Remove every job of ``plan`` (its deletion); O(number of its jobs)."""
        entry = self._jobs_by_plan.get(plan.uid)
        if entry is None:
            return
        for name in list(entry[1]):
            self._remove(plan, name)
        self._jobs_by_plan.pop(plan.uid, None)

    def scheduled(self, plan: PlanKey) -> dict[str, dt.datetime]:
        """Executor name -> next run time of every job of ``plan``."""
        entry = self._jobs_by_plan.get(plan.uid)
        if entry is None:
            return {}
        times = {}
        for name in entry[1]:
            job = self._scheduler.get_job(job_id(plan, name))
            if job is not None and job.next_run_time is not None:
                times[name] = job.next_run_time
        return times

    @property
    def job_count(self) -> int:
        return sum(len(names) for _, names in self._jobs_by_plan.values())

    @property
    def in_flight(self) -> int:
        """How many fires are running now."""
        return len(self._in_flight)

    # -- internals -----------------------------------------------------------------------------

    def _require_started(self) -> None:
        if not self._started:
            raise RuntimeError("AttackScheduler.start() must be called (on the event loop) first")
        if self._stopped:
            raise RuntimeError("AttackScheduler is shut down")

    def _add(self, plan: PlanKey, executor: Executor) -> None:
        identifier = job_id(plan, executor.name)
        existing = self._scheduler.get_job(identifier)
        if existing is not None and existing.next_run_time == executor.scheduled_time:
            return  # already scheduled as asked: no store update, no wake-up
        self._scheduler.add_job(
            self._due,
            trigger=DateTrigger(run_date=executor.scheduled_time),
            args=(plan, executor.name),
            id=identifier,
            name=identifier,
            replace_existing=True,
            misfire_grace_time=None,
            coalesce=False,
            max_instances=1,
        )
        self._jobs_by_plan.setdefault(plan.uid, (plan, set()))[1].add(executor.name)

    def _remove(self, plan: PlanKey, name: str) -> None:
        with contextlib.suppress(JobLookupError):  # already fired, or never scheduled
            self._scheduler.remove_job(job_id(plan, name))
        self._forget_job(plan.uid, name)  # also done by the listener; harmless twice

    def _forget_job(self, uid: str, name: str) -> None:
        entry = self._jobs_by_plan.get(uid)
        if entry is None:
            return
        entry[1].discard(name)
        if not entry[1]:
            del self._jobs_by_plan[uid]

    def _on_job_removed(self, event: JobEvent) -> None:
        # APScheduler removes a date job itself once it has been submitted to fire.
        uid, _, name = str(event.job_id).partition("/")
        self._forget_job(uid, name)

    async def _due(self, plan: PlanKey, executor_name: str) -> None:
        """APScheduler's job: hand the fire to a task of ours and return at once."""
        if self._stopped:
            return
        task = asyncio.create_task(
            self._call_fire(plan, executor_name), name=f"{_FIRE_TASK_PREFIX}{job_id(plan, executor_name)}"
        )
        self._in_flight.add(task)
        task.add_done_callback(self._fire_done)

    async def _call_fire(self, plan: PlanKey, executor_name: str) -> None:
        await self._fire(plan, executor_name)

    def _fire_done(self, task: asyncio.Task[Any]) -> None:
        self._in_flight.discard(task)
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            log.error("firing %s failed", task.get_name().removeprefix(_FIRE_TASK_PREFIX), exc_info=error)
