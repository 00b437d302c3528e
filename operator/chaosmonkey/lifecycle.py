"""A ChaosPlan's lifecycle as pure functions: stored status and spec in, new status and jobs out.

The operator's handlers only translate between Kubernetes and these functions, so every rule of
the lifecycle is testable without a cluster:

* **Create / resume / change** (:func:`reconcile`): validate; plan when the planning inputs
  (planner, attack, time zone) are new or changed, cancelling the pending executors of the old
  ones; on an operator restart, executors that were Running become Interrupted and are never
  re-run; pending executors later than ``startingDeadlineSeconds`` become Missed; recurring
  planners are topped up; finished executors beyond ``historyLimit`` are dropped.
  ``suspend``, ``dryRun``, ``historyLimit`` and the deadline are *not* planning inputs: changing
  them keeps the executors (a suspended plan's executors go Missed past their deadline).
* **Fire** (:func:`start_executor`, :func:`finish_executor`): Pending -> Running exactly once,
  then Succeeded or Failed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from chaosmonkey.execution import AttackOutcome, truncate
from chaosmonkey.executors import Executor, ExecutorState
from chaosmonkey.planning import PlannedExecutor, PlanningError, compute_executors
from chaosmonkey.registry import PluginRegistry
from chaosmonkey.timeutil import rfc3339
from chaosmonkey.validation import PlanSpec, ValidationIssue, validate_spec

#: The status message of an Invalid plan lists its errors, within this many characters.
MAX_STATUS_MESSAGE = 4096


class Phase(StrEnum):
    PENDING = "Pending"
    SCHEDULED = "Scheduled"
    RUNNING = "Running"
    COMPLETED = "Completed"
    SUSPENDED = "Suspended"
    INVALID = "Invalid"
    FAILED = "Failed"


@dataclasses.dataclass(frozen=True)
class Event:
    """A Kubernetes Event to post on the plan."""

    type: str  # Normal | Warning
    reason: str
    message: str


@dataclasses.dataclass(frozen=True)
class PlanStatus:
    """What the operator keeps in ``status`` (derived fields are computed in :meth:`to_dict`)."""

    phase: Phase = Phase.PENDING
    observed_generation: int | None = None
    message: str = ""
    executors: tuple[Executor, ...] = ()
    #: Hash of the planning inputs the executors were planned from.
    plan_fingerprint: str | None = None
    #: How many executors were ever planned for this plan: the next one is numbered after it.
    executors_planned: int = 0
    conditions: tuple[dict[str, Any], ...] = ()

    def executor(self, name: str) -> Executor | None:
        return next((e for e in self.executors if e.name == name), None)

    def with_executor(self, updated: Executor) -> PlanStatus:
        return dataclasses.replace(
            self, executors=tuple(updated if e.name == updated.name else e for e in self.executors)
        )

    def pending(self) -> list[Executor]:
        return [e for e in self.executors if e.state is ExecutorState.PENDING]

    def summary(self) -> dict[str, int]:
        counts = {state.value.lower(): 0 for state in ExecutorState}
        for executor in self.executors:
            counts[executor.state.value.lower()] += 1
        return counts

    def to_dict(self) -> dict[str, Any]:
        pending_times = [e.scheduled_time for e in self.executors if e.state is ExecutorState.PENDING]
        start_times = [e.start_time for e in self.executors if e.start_time is not None]
        status: dict[str, Any] = {
            "phase": self.phase.value,
            "observedGeneration": self.observed_generation,
            "conditions": list(self.conditions),
            "message": self.message,
            "nextAttackTime": rfc3339(min(pending_times)) if pending_times else None,
            "lastAttackTime": rfc3339(max(start_times)) if start_times else None,
            "summary": self.summary(),
            "executors": [e.to_status() for e in self.executors],
            "planFingerprint": self.plan_fingerprint,
            "executorsPlanned": self.executors_planned,
        }
        return status

    @classmethod
    def from_dict(cls, status: Mapping[str, Any] | None) -> PlanStatus:
        """Read a stored status; entries that cannot be read are dropped (status is ours alone)."""
        if not isinstance(status, Mapping):
            return cls()
        executors = []
        for entry in status.get("executors") or []:
            try:
                executors.append(Executor.from_status(entry))
            except (KeyError, TypeError, ValueError, AttributeError):
                continue
        try:
            phase = Phase(status.get("phase", Phase.PENDING.value))
        except ValueError:
            phase = Phase.PENDING
        generation = status.get("observedGeneration")
        planned = status.get("executorsPlanned")
        return cls(
            phase=phase,
            observed_generation=generation if isinstance(generation, int) else None,
            message=str(status.get("message") or ""),
            executors=tuple(executors),
            plan_fingerprint=status.get("planFingerprint") or None,
            executors_planned=planned if isinstance(planned, int) else _highest_index(executors),
            conditions=tuple(dict(c) for c in status.get("conditions") or [] if isinstance(c, Mapping)),
        )


@dataclasses.dataclass(frozen=True)
class Reconciliation:
    """The outcome of :func:`reconcile`: the status to write and the scheduler's work."""

    status: PlanStatus
    #: Pending executors that must have a job (scheduling is idempotent per executor name).
    schedule: tuple[Executor, ...]
    #: Executors whose jobs must be removed (cancelled, missed, suspended).
    unschedule: tuple[str, ...]
    events: tuple[Event, ...] = ()


def planning_fingerprint(spec: Mapping[str, Any]) -> str:
    """A hash of what the executors are planned from: planner, attack and time zone."""
    inputs = {"planner": spec.get("planner"), "attack": spec.get("attack"), "timeZone": spec.get("timeZone")}
    return hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode()).hexdigest()[:16]


def reconcile(
    *,
    name: str,
    generation: int | None,
    spec: Mapping[str, Any],
    status: PlanStatus,
    registry: PluginRegistry,
    now: dt.datetime,
    resumed: bool = False,
) -> Reconciliation:
    """Bring a plan's status in line with its spec at ``now``.

    ``resumed`` is true the first time this operator process sees the plan: nothing of it is
    scheduled in memory yet, so executors recorded as Running were cut off by a stop.
    """
    events: list[Event] = []
    executors = list(status.executors)
    unschedule: list[str] = []

    def change(index: int, state: ExecutorState, message: str) -> None:
        executors[index] = executors[index].transition(state, now, message)
        if state is not ExecutorState.RUNNING:
            unschedule.append(executors[index].name)

    if resumed:
        events.extend(_interrupt_running(executors, change))

    issues = validate_spec(spec, registry, plan_name=name, now=now, plan_check=False)
    if issues:
        # Invalid anyway: list the planner's value errors too (planning below would stop at one).
        issues = validate_spec(spec, registry, plan_name=name, now=now)
        return _invalid(
            status,
            executors=executors,
            unschedule=unschedule,
            events=events,
            issues=issues,
            generation=generation,
            now=now,
        )

    parsed = PlanSpec.from_dict(spec)
    fingerprint = planning_fingerprint(spec)
    planned = status.executors_planned
    planner = registry.get("planner", parsed.planner["ref"])
    assert planner is not None  # validated
    if fingerprint != status.plan_fingerprint:
        for index, executor in enumerate(executors):
            if executor.state is ExecutorState.PENDING:
                change(
                    index,
                    ExecutorState.CANCELLED,
                    f"the plan changed (generation {generation}); planned again",
                )
        try:
            new = compute_executors(
                planner.cls,
                parsed.planner,
                parsed.attack,
                plan_name=name,
                timezone=parsed.timezone,
                now=now,
                first_index=planned + 1,
            )
        except PlanningError as exc:
            path = "spec.planner" + (f".{exc.field}" if exc.field else "")
            return _invalid(
                status,
                executors=executors,
                unschedule=unschedule,
                events=events,
                issues=[ValidationIssue(path, exc.reason)],
                generation=generation,
                now=now,
            )
        executors.extend(_executor_of(e, parsed) for e in new)
        planned += len(new)
        events.append(
            Event("Normal", "Planned", f"planned {len(new)} executor{'s' if len(new) != 1 else ''}")
        )

    _miss_late(executors, parsed, now, change, why=_why_late(parsed, status, resumed=resumed))
    if planner.cls.recurring and not parsed.suspend:
        try:
            topped_up = _plan_ahead(
                name, planner_cls=planner.cls, spec=parsed, executors=executors, planned=planned, now=now
            )
        except PlanningError as exc:
            topped_up = []
            events.append(Event("Warning", "PlanningFailed", truncate(str(exc))))
        executors.extend(topped_up)
        planned += len(topped_up)

    executors = _trim_history(executors, parsed.history_limit)
    pending = [e for e in executors if e.state is ExecutorState.PENDING]
    if parsed.suspend:
        unschedule.extend(e.name for e in pending)
        schedule: list[Executor] = []
    else:
        schedule = pending
    new_status = dataclasses.replace(
        status,
        observed_generation=generation,
        message="",
        executors=tuple(executors),
        plan_fingerprint=fingerprint,
        executors_planned=planned,
    )
    new_status = with_phase(new_status, parsed, now)
    return Reconciliation(new_status, tuple(schedule), tuple(dict.fromkeys(unschedule)), tuple(events))


def start_executor(
    status: PlanStatus, name: str, spec: PlanSpec, now: dt.datetime
) -> tuple[PlanStatus, Executor | None]:
    """Pending -> Running at fire time, or Missed if too late. Returns the executor to run, if any.

    An executor that is not Pending (already run, cancelled, missed) is never started: this is
    the at-most-once guard, whatever the scheduler does.
    """
    executor = status.executor(name)
    if executor is None or executor.state is not ExecutorState.PENDING:
        return status, None
    deadline = spec.starting_deadline_seconds
    if deadline is not None and executor.late_by(now) > dt.timedelta(seconds=deadline):
        missed = executor.transition(
            ExecutorState.MISSED, now, f"not started within startingDeadlineSeconds ({deadline}s) of its time"
        )
        return with_phase(status.with_executor(missed), spec, now), None
    running = dataclasses.replace(executor.transition(ExecutorState.RUNNING, now), dry_run=spec.dry_run)
    return with_phase(status.with_executor(running), spec, now), running


def finish_executor(
    status: PlanStatus, name: str, outcome: AttackOutcome, spec: PlanSpec, now: dt.datetime
) -> PlanStatus:
    """Running -> Succeeded or Failed with the attack's message."""
    executor = status.executor(name)
    if executor is None or executor.state is not ExecutorState.RUNNING:
        return status
    state = ExecutorState.SUCCEEDED if outcome.succeeded else ExecutorState.FAILED
    updated = status.with_executor(executor.transition(state, now, outcome.message))
    trimmed = dataclasses.replace(
        updated, executors=tuple(_trim_history(list(updated.executors), spec.history_limit))
    )
    return with_phase(trimmed, spec, now)


def with_phase(status: PlanStatus, spec: PlanSpec, now: dt.datetime) -> PlanStatus:
    """``status`` with its phase and Ready condition derived from its executors and spec."""
    states = {e.state for e in status.executors}
    if spec.suspend:
        phase = Phase.SUSPENDED
    elif ExecutorState.RUNNING in states:
        phase = Phase.RUNNING
    elif ExecutorState.PENDING in states:
        phase = Phase.SCHEDULED
    else:
        phase = Phase.COMPLETED
    reason = {
        Phase.SCHEDULED: "Scheduled",
        Phase.RUNNING: "AttackRunning",
        Phase.COMPLETED: "Completed",
        Phase.SUSPENDED: "Suspended",
    }[phase]
    message = {
        Phase.SCHEDULED: "executors are scheduled",
        Phase.RUNNING: "an attack is running",
        Phase.COMPLETED: "no executors are left to run",
        Phase.SUSPENDED: "suspended: nothing fires until spec.suspend is false",
    }[phase]
    return dataclasses.replace(
        status, phase=phase, conditions=_ready_condition(status.conditions, "True", reason, message, now)
    )


# -- helpers -----------------------------------------------------------------------------------


def _invalid(
    status: PlanStatus,
    *,
    executors: list[Executor],
    unschedule: list[str],
    events: list[Event],
    issues: list[ValidationIssue],
    generation: int | None,
    now: dt.datetime,
) -> Reconciliation:
    for index, executor in enumerate(executors):
        if executor.state is ExecutorState.PENDING:
            executors[index] = executor.transition(ExecutorState.CANCELLED, now, "the plan is invalid")
            unschedule.append(executor.name)
    message = truncate("; ".join(str(issue) for issue in issues), MAX_STATUS_MESSAGE)
    events.append(Event("Warning", "InvalidSpec", message))
    new_status = dataclasses.replace(
        status,
        phase=Phase.INVALID,
        observed_generation=generation,
        message=message,
        executors=tuple(executors),
        plan_fingerprint=None,  # planned afresh once the spec is fixed
        conditions=_ready_condition(status.conditions, "False", "InvalidSpec", message, now),
    )
    return Reconciliation(new_status, (), tuple(dict.fromkeys(unschedule)), tuple(events))


def _interrupt_running(executors: list[Executor], change: Any) -> list[Event]:
    """Executors Running when the operator stopped: Interrupted, never run again (at most once)."""
    events = []
    for index, executor in enumerate(executors):
        if executor.state is ExecutorState.RUNNING:
            change(
                index, ExecutorState.INTERRUPTED, "the operator stopped while this attack ran; not run again"
            )
            events.append(
                Event("Warning", "AttackInterrupted", f"{executor.name}: interrupted by an operator restart")
            )
    return events


def _why_late(spec: PlanSpec, status: PlanStatus, *, resumed: bool) -> str:
    if spec.suspend or status.phase is Phase.SUSPENDED:
        return "the plan was suspended"
    if resumed:
        return "the operator was not running"
    return "it was not started in time"


def _miss_late(executors: list[Executor], spec: PlanSpec, now: dt.datetime, change: Any, *, why: str) -> None:
    deadline = spec.starting_deadline_seconds
    if deadline is None:
        return
    for index, executor in enumerate(executors):
        if executor.state is ExecutorState.PENDING and executor.late_by(now) > dt.timedelta(seconds=deadline):
            change(
                index,
                ExecutorState.MISSED,
                f"not started within startingDeadlineSeconds ({deadline}s): {why}",
            )


def _plan_ahead(
    name: str, *, planner_cls: Any, spec: PlanSpec, executors: list[Executor], planned: int, now: dt.datetime
) -> list[Executor]:
    """For recurring planners: plan after the last executor until as many are pending as it plans."""
    pending = sum(1 for e in executors if e.state is ExecutorState.PENDING)
    after = max([now, *(e.scheduled_time for e in executors)])
    upcoming = compute_executors(
        planner_cls,
        spec.planner,
        spec.attack,
        plan_name=name,
        timezone=spec.timezone,
        now=now,
        after=after,
        first_index=planned + 1,
    )
    wanted = max(0, len(upcoming) - pending)
    return [_executor_of(e, spec) for e in upcoming[:wanted]]


def _executor_of(planned: PlannedExecutor, spec: PlanSpec) -> Executor:
    """A new Pending executor; it keeps the planner's attack config only where that differs."""
    own_config = None if planned.attack_config == spec.attack else planned.attack_config
    return Executor(planned.name, planned.scheduled_time, dry_run=spec.dry_run, attack_config=own_config)


def _trim_history(executors: list[Executor], limit: int) -> list[Executor]:
    """Keep every unfinished executor and the ``limit`` most recently finished ones, in order."""
    finished = [e for e in executors if e.state.finished]
    if len(finished) <= limit:
        return executors
    newest = sorted(finished, key=lambda e: (e.completion_time or e.scheduled_time, e.scheduled_time))
    dropped = {e.name for e in newest[: len(finished) - limit]}
    return [e for e in executors if e.name not in dropped]


def _ready_condition(
    conditions: tuple[dict[str, Any], ...], status: str, reason: str, message: str, now: dt.datetime
) -> tuple[dict[str, Any], ...]:
    previous = next((c for c in conditions if c.get("type") == "Ready"), None)
    changed = previous is None or previous.get("status") != status
    ready = {
        "type": "Ready",
        "status": status,
        "reason": reason,
        "message": truncate(message, MAX_STATUS_MESSAGE),
        "lastTransitionTime": rfc3339(now) if changed else previous.get("lastTransitionTime", rfc3339(now)),  # type: ignore[union-attr]
    }
    return (*(c for c in conditions if c.get("type") != "Ready"), ready)


def _highest_index(executors: list[Executor]) -> int:
    indexes = [int(e.name.rpartition("-")[2]) for e in executors if e.name.rpartition("-")[2].isdigit()]
    return max(indexes, default=0)
