"""The operator: kopf watches ChaosPlans; the lifecycle functions decide; services carry it out.

Handlers stay thin. Each watch event is translated into a call of
:func:`chaosmonkey.lifecycle.reconcile`; each due job into :func:`start_executor`, the attack
run, and :func:`finish_executor`. All status changes of a plan go through one
:class:`StatusWriter` (one writer per plan, coalesced writes), and the scheduler is synced from
the same reconciliation that produced the status, so the two never disagree for long; where
they do (a job firing for an executor just cancelled), the lifecycle's at-most-once guard wins.

kopf's low-level ``on.event`` handlers are used on purpose: they write no annotations and no
finalizers, so GitOps tools see no drift and deleting a plan never hangs on the operator.
Only the elected leader reconciles, writes status and fires; standbys keep watching.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
from collections.abc import Callable, Mapping
from typing import Any

import kopf

from chaosmonkey.attacks.attack import AttackContext
from chaosmonkey.execution import AttackOutcome
from chaosmonkey.executors import ExecutorState
from chaosmonkey.kube import GROUP, PLURAL, VERSION, KubeClient, PlanNotFound, describe_error
from chaosmonkey.leader import LeaseElector
from chaosmonkey.lifecycle import Event, PlanStatus, finish_executor, reconcile, start_executor
from chaosmonkey.metrics import Metrics
from chaosmonkey.registry import PluginRegistry
from chaosmonkey.runner import AttackRunner
from chaosmonkey.scheduling import AttackScheduler, PlanKey
from chaosmonkey.settings import OperatorSettings
from chaosmonkey.status_writer import StatusWriter
from chaosmonkey.timeutil import UTC
from chaosmonkey.validation import PlanSpec

log = logging.getLogger(__name__)

#: How long the start of an attack may wait for "Running" to be stored before it is abandoned.
RECORD_START_TIMEOUT = 30.0
#: On a clean stop, how long running attacks may take to finish (and have their result written)
#: before the Lease is handed over; one still running then ends Interrupted. Kubernetes gives a
#: pod 30 s between SIGTERM and SIGKILL by default.
SHUTDOWN_GRACE_SECONDS = 20.0


@dataclasses.dataclass
class PlanRecord:
    """What the operator knows of one plan, from the latest watch event."""

    key: PlanKey
    generation: int | None
    spec: dict[str, Any]
    stored_status: dict[str, Any] | None


class ChaosOperator:
    """One operator replica: its services, its plans, and whether it leads."""

    def __init__(
        self,
        settings: OperatorSettings,
        plugins: PluginRegistry,
        kube: KubeClient,
        *,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(UTC),
    ) -> None:
        self.settings = settings
        self.plugins = plugins
        self.kube = kube
        self.clock = clock
        self.scheduler = AttackScheduler(self._fire)
        self.runner = AttackRunner(settings.max_concurrent_attacks, settings.attack_timeout_seconds)
        self.writer = StatusWriter(self._write_status)
        self.metrics = Metrics()
        self.plans: dict[str, PlanRecord] = {}
        self.leading = False
        #: Set for replicas that elect a leader; without one, this replica leads from the start.
        self.elector: LeaseElector | None = None
        self._elector_task: asyncio.Task[None] | None = None
        self._stopping = False
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- kopf wiring ---------------------------------------------------------------------------

    def register(self, registry: kopf.OperatorRegistry) -> None:
        """Register this replica's handlers in a kopf registry of its own."""

        @kopf.on.login(registry=registry)
        def login(**_: Any) -> kopf.ConnectionInfo:
            # kopf watches with the same credentials as the operator's own writes.
            return self.kube.connection_info()

        @kopf.on.startup(registry=registry)
        async def startup(settings: kopf.OperatorSettings, **_: Any) -> None:
            settings.posting.enabled = False  # the operator posts its own, deliberate Events
            await self.start()

        @kopf.on.cleanup(registry=registry)
        async def cleanup(**_: Any) -> None:
            await self.stop()

        @kopf.on.event(GROUP, VERSION, PLURAL, registry=registry)
        async def on_plan_event(event: Mapping[str, Any], **_: Any) -> None:
            await self.handle_event(str(event.get("type")), event.get("object") or {})

    async def start(self) -> None:
        self.scheduler.start()
        if self.elector is not None:
            self._elector_task = asyncio.create_task(self.elector.run(), name="chaosmonkey-leader-election")
        else:
            await self.start_leading()
        try:
            await self.kube.publish_catalog(
                self.settings.operator_namespace, self.settings.catalog_configmap, self.plugins.describe()
            )
        except Exception as exc:  # noqa: BLE001 - the catalog is informative; the operator runs on
            log.warning("could not publish the plugin catalog: %s", describe_error(exc))

    async def stop(self) -> None:
        """A clean stop: fire nothing new, let running attacks finish and their results be written,
        and only then hand the Lease over, so the next leader finds them finished, not Interrupted."""
        self._stopping = True
        self.scheduler.pause()
        await self.scheduler.shutdown(grace=min(SHUTDOWN_GRACE_SECONDS, self.settings.attack_timeout_seconds))
        await self.writer.drain(timeout=10.0)
        if self._elector_task is not None:
            self._elector_task.cancel()  # steps down and releases the Lease
            await asyncio.gather(self._elector_task, return_exceptions=True)
        self.leading = False
        await self.writer.shutdown()
        await self.runner.shutdown()
        for task in list(self._tasks):
            task.cancel()

    # -- leadership ----------------------------------------------------------------------------

    async def start_leading(self) -> None:
        """Take over: every known plan is resumed from its stored status."""
        log.info("leading: resuming %d plans", len(self.plans))
        self.leading = True
        self.scheduler.resume()
        for record in list(self.plans.values()):
            self.writer.set(record.key, PlanStatus.from_dict(record.stored_status))
            await self._reconcile(record, resumed=True)

    async def stop_leading(self) -> None:
        """Hand over: fire nothing, write nothing; the next leader resumes from stored status."""
        log.warning("no longer leading: firing and status writes stop")
        self.leading = False
        self.scheduler.pause()

    # -- watch events --------------------------------------------------------------------------

    async def handle_event(self, event_type: str, body: Mapping[str, Any]) -> None:
        if self._stopping:
            return  # the scheduler is shutting down; the next leader resumes from stored status
        metadata = body.get("metadata") or {}
        uid = metadata.get("uid")
        if not uid:
            return
        key = PlanKey(metadata.get("namespace") or "default", metadata.get("name") or "", uid)
        if event_type == "DELETED":
            self._forget(key)
            return
        generation = metadata.get("generation")
        record = self.plans.get(uid)
        first_seen = record is None
        record = PlanRecord(
            key=key,
            generation=generation if isinstance(generation, int) else None,
            spec=dict(body.get("spec") or {}),
            stored_status=dict(body["status"]) if isinstance(body.get("status"), Mapping) else None,
        )
        self.plans[uid] = record
        if not self.leading:
            return
        if first_seen:
            self.writer.set(key, PlanStatus.from_dict(record.stored_status))
        if first_seen or record.generation != self.writer.get(key).observed_generation:
            await self._reconcile(record, resumed=first_seen)

    def _forget(self, key: PlanKey) -> None:
        self.plans.pop(key.uid, None)
        self.scheduler.remove_plan(key)
        self.writer.forget(key)
        self.metrics.plan_deleted(key)

    async def _reconcile(self, record: PlanRecord, *, resumed: bool = False) -> None:
        results = []

        def change(status: PlanStatus) -> PlanStatus:
            result = reconcile(
                name=record.key.name,
                generation=record.generation,
                spec=self._with_defaults(record.spec),
                status=status,
                registry=self.plugins,
                now=self.clock(),
                resumed=resumed,
            )
            results.append(result)
            return result.status

        status = await self.writer.update(record.key, change)
        [result] = results
        self.scheduler.sync(record.key, result.schedule, result.unschedule)
        self.metrics.plan_status(record.key, status.phase.value, status.summary())
        for event in result.events:
            self._post(record.key, event)

    # -- firing --------------------------------------------------------------------------------

    async def _fire(self, key: PlanKey, executor_name: str) -> None:
        record = self.plans.get(key.uid)
        if record is None or not self.leading or self._stopping:
            return
        spec_dict = self._with_defaults(record.spec)
        spec = PlanSpec.from_dict(spec_dict)
        fired_at = self.clock()
        started = []

        def begin(status: PlanStatus) -> PlanStatus:
            new_status, executor = start_executor(status, executor_name, spec, fired_at)
            started.append(executor)
            return new_status

        status = await self.writer.update(key, begin)
        executor = started[0]
        if executor is None:
            missed = status.executor(executor_name)
            if missed is not None and missed.state is ExecutorState.MISSED:
                self.metrics.attack_finished(spec.attack.get("ref", "?"), "missed", 0.0)
                self._post(key, Event("Warning", "AttackMissed", f"{executor_name}: {missed.message}"))
            return
        self.metrics.fired((fired_at - executor.scheduled_time).total_seconds())
        # At most once: the attack runs only once "Running" is stored, so a crash from here on
        # leaves an executor that a restart marks Interrupted, never one that fires again.
        try:
            stored = await asyncio.wait_for(self.writer.flush(key), RECORD_START_TIMEOUT)
        except TimeoutError:
            outcome = AttackOutcome(False, "could not record the attack's start in time; it was not run")
            await self._finish(key, spec, executor_name, outcome, duration=0.0)
            return
        if not stored:
            log.info(
                "plan %s/%s was deleted before %s started; not run", key.namespace, key.name, executor_name
            )
            return
        # A planner may give each run its own attack config (the seed API's _add_job argument).
        attack_config = executor.attack_config or spec.attack
        attack = self.plugins.get("attack", str(attack_config.get("ref", "")))
        if attack is None:
            outcome = AttackOutcome(
                False, f"attack {attack_config.get('ref')!r} (from the planner) is not loaded"
            )
            await self._finish(key, spec, executor_name, outcome, duration=0.0)
            return
        self._post(key, Event("Normal", "AttackStarted", f"{executor_name}: {attack.ref}"))
        context = AttackContext(
            plan_name=key.name,
            namespace=key.namespace,
            executor_name=executor_name,
            dry_run=spec.dry_run,
            allowed_namespaces=frozenset(self.settings.allowed_namespaces),
            read_secret=self.kube.secret_reader(key.namespace),
        )
        began = asyncio.get_running_loop().time()
        outcome = await self.runner.run(attack.cls, attack_config, context)
        await self._finish(
            key, spec, executor_name, outcome, duration=asyncio.get_running_loop().time() - began
        )

    async def _finish(
        self, key: PlanKey, spec: PlanSpec, executor_name: str, outcome: AttackOutcome, *, duration: float
    ) -> None:
        finished_at = self.clock()
        if key.uid not in self.plans:
            log.info(
                "plan %s/%s was deleted while %s ran: %s",
                key.namespace,
                key.name,
                executor_name,
                outcome.message,
            )
            return  # nothing to write to; the writer must not start a fresh status for it
        await self.writer.update(
            key, lambda status: finish_executor(status, executor_name, outcome, spec, finished_at)
        )
        result = "dry_run" if outcome.dry_run else "succeeded" if outcome.succeeded else "failed"
        self.metrics.attack_finished(spec.attack.get("ref", "?"), result, duration)
        if outcome.succeeded:
            self._post(key, Event("Normal", "AttackSucceeded", f"{executor_name}: {outcome.message}"))
        else:
            self._post(key, Event("Warning", "AttackFailed", f"{executor_name}: {outcome.message}"))
        if key.uid in self.plans:
            await self._reconcile(self.plans[key.uid])  # recurring planners plan ahead; history trims

    # -- writing -------------------------------------------------------------------------------

    async def _write_status(self, key: PlanKey, status: dict[str, Any]) -> None:
        if not self.leading:
            return  # a replica that lost leadership must not overwrite the new leader's status
        try:
            await self.kube.patch_plan_status(key.namespace, key.name, status)
        except PlanNotFound:
            log.info("plan %s/%s is gone; its status is dropped", key.namespace, key.name)

    def _post(self, key: PlanKey, event: Event) -> None:
        task = asyncio.create_task(
            self.kube.post_event(
                key.namespace, key.name, key.uid, type=event.type, reason=event.reason, message=event.message
            )
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _with_defaults(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        """The spec with the operator-wide default time zone where the plan names none."""
        if spec.get("timeZone"):
            return dict(spec)
        return {**spec, "timeZone": self.settings.default_time_zone}
