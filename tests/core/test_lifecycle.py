"""The ChaosPlan lifecycle rules of design.md, on the pure functions the operator calls."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import pytest

from chaosmonkey.execution import AttackOutcome
from chaosmonkey.executors import Executor, ExecutorState, InvalidTransition
from chaosmonkey.lifecycle import (
    Phase,
    PlanStatus,
    Reconciliation,
    finish_executor,
    reconcile,
    start_executor,
)
from chaosmonkey.registry import PluginRegistry
from chaosmonkey.validation import PlanSpec

from .conftest import SEED_PLUGINS

T0 = dt.datetime(2026, 6, 1, 8, 0, tzinfo=dt.UTC)
ATTACK = {"ref": "my_attack:MyAttack", "name": "attack1"}


def exact_spec(*dates: str, **extra: Any) -> dict[str, Any]:
    # ExactPlanner plans one date; several dates come from several plans, so use a cron for more.
    return {
        "planner": {"ref": "exact_planner:ExactPlanner", "args": {"date": dates[0]}},
        "attack": ATTACK,
        **extra,
    }


def cron_spec(**extra: Any) -> dict[str, Any]:
    return {
        "planner": {"ref": "cron_planner:CronPlanner", "args": {"cron": "0 * * * *", "ahead": 3}},
        "attack": ATTACK,
        **extra,
    }


def run(
    spec: dict[str, Any],
    status: PlanStatus,
    registry: PluginRegistry,
    now: dt.datetime = T0,
    generation: int = 1,
    resumed: bool = False,
) -> Reconciliation:
    return reconcile(
        name="plan",
        generation=generation,
        spec=spec,
        status=status,
        registry=registry,
        now=now,
        resumed=resumed,
    )


def states(status: PlanStatus) -> list[tuple[str, str]]:
    return [(e.name, e.state.value) for e in status.executors]


def test_create_plans_and_schedules(seed_registry: PluginRegistry) -> None:
    result = run(cron_spec(), PlanStatus(), seed_registry)
    assert states(result.status) == [("plan-1", "Pending"), ("plan-2", "Pending"), ("plan-3", "Pending")]
    assert [e.scheduled_time.hour for e in result.schedule] == [9, 10, 11]
    assert result.unschedule == ()
    status = result.status.to_dict()
    assert status["phase"] == "Scheduled"
    assert status["observedGeneration"] == 1
    assert status["nextAttackTime"] == "2026-06-01T09:00:00Z"
    assert status["lastAttackTime"] is None
    assert status["summary"] == {
        "pending": 3,
        "running": 0,
        "succeeded": 0,
        "failed": 0,
        "missed": 0,
        "cancelled": 0,
        "interrupted": 0,
    }
    [ready] = status["conditions"]
    assert ready == {
        "type": "Ready",
        "status": "True",
        "reason": "Scheduled",
        "message": "executors are scheduled",
        "lastTransitionTime": "2026-06-01T08:00:00Z",
    }
    assert [(e.type, e.reason) for e in result.events] == [("Normal", "Planned")]


def test_invalid_spec_cancels_pending_and_says_where(seed_registry: PluginRegistry) -> None:
    scheduled = run(cron_spec(), PlanStatus(), seed_registry).status
    broken = cron_spec(timeZone="Mars/Base")
    broken["attack"] = {"ref": "my_attack:MyAttack", "name": 3}
    result = run(broken, scheduled, seed_registry, generation=2)
    assert result.status.phase is Phase.INVALID
    assert result.status.message == (
        "spec.attack.name: 3 is not of type 'string'; spec.timeZone: unknown time zone 'Mars/Base' "
        "(expected an IANA name such as 'Europe/Madrid')"
    )
    assert {state for _, state in states(result.status)} == {"Cancelled"}
    assert result.schedule == ()
    assert result.unschedule == ("plan-1", "plan-2", "plan-3")
    assert [(e.type, e.reason) for e in result.events] == [("Warning", "InvalidSpec")]
    ready = result.status.to_dict()["conditions"][0]
    assert (ready["status"], ready["reason"]) == ("False", "InvalidSpec")
    # Fixed again: planned afresh, numbering continues.
    fixed = run(cron_spec(), result.status, seed_registry, generation=3)
    assert [name for name, state in states(fixed.status) if state == "Pending"] == [
        "plan-4",
        "plan-5",
        "plan-6",
    ]


def test_spec_change_cancels_old_pending_and_plans_again(seed_registry: PluginRegistry) -> None:
    first = run(exact_spec("2026-06-01T12:00"), PlanStatus(), seed_registry).status
    second = run(exact_spec("2026-06-02T12:00"), first, seed_registry, generation=2)
    assert states(second.status) == [("plan-1", "Cancelled"), ("plan-2", "Pending")]
    assert second.status.executors[0].message == "the plan changed (generation 2); planned again"
    assert second.unschedule == ("plan-1",)
    assert [e.name for e in second.schedule] == ["plan-2"]


def test_unrelated_edits_keep_the_executors(seed_registry: PluginRegistry) -> None:
    first = run(cron_spec(), PlanStatus(), seed_registry).status
    again = run(
        cron_spec(historyLimit=5, dryRun=True, startingDeadlineSeconds=30), first, seed_registry, generation=2
    )
    assert states(again.status) == states(first)
    assert again.status.observed_generation == 2
    assert [(e.type, e.reason) for e in again.events] == []


def test_suspend_then_resume(seed_registry: PluginRegistry) -> None:
    scheduled = run(cron_spec(), PlanStatus(), seed_registry).status
    suspended = run(cron_spec(suspend=True), scheduled, seed_registry, generation=2)
    assert suspended.status.phase is Phase.SUSPENDED
    assert suspended.schedule == ()
    assert suspended.unschedule == ("plan-1", "plan-2", "plan-3")
    assert states(suspended.status) == states(scheduled), "suspending keeps the executors"
    # Resumed at 10:30: the 09:00 and 10:00 runs are past their 60 s deadline.
    resumed = run(
        cron_spec(), suspended.status, seed_registry, generation=3, now=T0 + dt.timedelta(hours=2, minutes=30)
    )
    assert states(resumed.status) == [
        ("plan-1", "Missed"),
        ("plan-2", "Missed"),
        ("plan-3", "Pending"),
        ("plan-4", "Pending"),
        ("plan-5", "Pending"),
    ]
    assert resumed.status.executors[0].message == (
        "not started within startingDeadlineSeconds (60s): the plan was suspended"
    )
    assert resumed.status.phase is Phase.SCHEDULED
    assert [e.name for e in resumed.schedule] == ["plan-3", "plan-4", "plan-5"]


def test_restart_interrupts_running_and_misses_late_executors(seed_registry: PluginRegistry) -> None:
    status = run(cron_spec(), PlanStatus(), seed_registry).status
    spec = PlanSpec.from_dict(cron_spec())
    status, running = start_executor(status, "plan-1", spec, T0 + dt.timedelta(hours=1, seconds=2))
    assert running is not None
    stored = PlanStatus.from_dict(copy.deepcopy(status.to_dict()))  # as written to and read from the API
    # The operator was down from 09:00:02 to 10:00:30: plan-2 (10:00) is 30 s late, within 60 s.
    resumed = run(
        cron_spec(), stored, seed_registry, now=T0 + dt.timedelta(hours=2, seconds=30), resumed=True
    )
    assert states(resumed.status)[:3] == [
        ("plan-1", "Interrupted"),
        ("plan-2", "Pending"),
        ("plan-3", "Pending"),
    ]
    assert resumed.status.executors[0].message == "the operator stopped while this attack ran; not run again"
    assert [(e.type, e.reason) for e in resumed.events] == [("Warning", "AttackInterrupted")]
    later = run(cron_spec(), stored, seed_registry, now=T0 + dt.timedelta(hours=2, minutes=5), resumed=True)
    assert states(later.status)[:3] == [
        ("plan-1", "Interrupted"),
        ("plan-2", "Missed"),
        ("plan-3", "Pending"),
    ]
    assert "the operator was not running" in later.status.executors[1].message


def test_fire_at_most_once_then_complete(seed_registry: PluginRegistry) -> None:
    spec_dict = exact_spec("2026-06-01T09:00", dryRun=True)
    spec = PlanSpec.from_dict(spec_dict)
    status = run(spec_dict, PlanStatus(), seed_registry).status
    fire = T0 + dt.timedelta(hours=1, seconds=1)
    status, executor = start_executor(status, "plan-1", spec, fire)
    assert executor is not None
    assert (executor.state, executor.dry_run, status.phase) == (ExecutorState.RUNNING, True, Phase.RUNNING)
    again, twice = start_executor(status, "plan-1", spec, fire)
    assert twice is None, "a Running executor is never started again"
    assert again == status
    done = finish_executor(
        status,
        "plan-1",
        AttackOutcome(True, "terminated i-1 (10.0.0.1)"),
        spec,
        fire + dt.timedelta(seconds=3),
    )
    as_dict = done.to_dict()
    assert as_dict["phase"] == "Completed"
    assert as_dict["executors"] == [
        {
            "name": "plan-1",
            "scheduledTime": "2026-06-01T09:00:00Z",
            "state": "Succeeded",
            "startTime": "2026-06-01T09:00:01Z",
            "completionTime": "2026-06-01T09:00:04Z",
            "message": "terminated i-1 (10.0.0.1)",
            "dryRun": True,
        }
    ]
    assert as_dict["lastAttackTime"] == "2026-06-01T09:00:01Z"
    assert start_executor(done, "plan-1", spec, fire)[1] is None, "a finished executor is never started again"


def test_firing_too_late_is_missed(seed_registry: PluginRegistry) -> None:
    spec_dict = exact_spec("2026-06-01T09:00", startingDeadlineSeconds=10)
    status = run(spec_dict, PlanStatus(), seed_registry).status
    status, executor = start_executor(
        status, "plan-1", PlanSpec.from_dict(spec_dict), T0 + dt.timedelta(hours=1, seconds=11)
    )
    assert executor is None
    assert states(status) == [("plan-1", "Missed")]
    assert status.phase is Phase.COMPLETED


def test_failed_attack(seed_registry: PluginRegistry) -> None:
    spec_dict = exact_spec("2026-06-01T09:00")
    spec = PlanSpec.from_dict(spec_dict)
    status, _ = start_executor(run(spec_dict, PlanStatus(), seed_registry).status, "plan-1", spec, T0)
    failed = finish_executor(status, "plan-1", AttackOutcome(False, "no instance matched filters"), spec, T0)
    assert states(failed) == [("plan-1", "Failed")]
    assert failed.executors[0].message == "no instance matched filters"


def test_recurring_plans_stay_ahead_and_within_history_limit(seed_registry: PluginRegistry) -> None:
    spec_dict = cron_spec(historyLimit=2)
    spec = PlanSpec.from_dict(spec_dict)
    status = run(spec_dict, PlanStatus(), seed_registry).status
    now = T0
    for hour in range(1, 7):
        now = T0 + dt.timedelta(hours=hour)
        status, executor = start_executor(status, f"plan-{hour}", spec, now)
        assert executor is not None
        status = finish_executor(status, f"plan-{hour}", AttackOutcome(True, "ok"), spec, now)
        status = run(spec_dict, status, seed_registry, now=now).status
    assert states(status) == [
        ("plan-5", "Succeeded"),
        ("plan-6", "Succeeded"),
        ("plan-7", "Pending"),
        ("plan-8", "Pending"),
        ("plan-9", "Pending"),
    ]
    assert status.executors_planned == 9


def test_status_round_trips_and_survives_tampering(seed_registry: PluginRegistry) -> None:
    status = run(cron_spec(), PlanStatus(), seed_registry).status
    as_dict = status.to_dict()
    assert PlanStatus.from_dict(as_dict) == status
    as_dict["executors"].append({"name": "bogus", "scheduledTime": "yesterday"})
    as_dict["executors"].append("not even an object")
    assert PlanStatus.from_dict(as_dict).executors == status.executors
    assert PlanStatus.from_dict(None) == PlanStatus()
    assert (
        PlanStatus.from_dict(
            {"phase": "Exploded", "executorsPlanned": "x", "executors": as_dict["executors"][:1]}
        ).executors_planned
        == 1
    )


@pytest.mark.parametrize(
    ("start", "target"),
    [
        (ExecutorState.SUCCEEDED, ExecutorState.RUNNING),
        (ExecutorState.PENDING, ExecutorState.SUCCEEDED),
        (ExecutorState.RUNNING, ExecutorState.CANCELLED),
        (ExecutorState.MISSED, ExecutorState.PENDING),
        (ExecutorState.INTERRUPTED, ExecutorState.RUNNING),
    ],
)
def test_the_state_machine_refuses_other_moves(start: ExecutorState, target: ExecutorState) -> None:
    with pytest.raises(InvalidTransition):
        Executor("e-1", T0, state=start).transition(target, T0)


def test_a_planner_may_give_each_run_its_own_attack_config(tmp_path: Any) -> None:
    from chaosmonkey.registry import load_registry

    (tmp_path / "fanout.py").write_text(
        "from chaosmonkey.planners import Planner\n"
        "class Fanout(Planner):\n"
        "    ref = 'fanout:Fanout'\n"
        "    schema = {'type': 'object'}\n"
        "    example = {'ref': 'fanout:Fanout'}\n"
        "    def plan(self, planner_config, attack_config):\n"
        "        self._add_job('2026-06-01T09:00:00Z', 'as planned', attack_config)\n"
        "        self._add_job('2026-06-01T09:00:01Z', 'own', dict(attack_config, name='other'))\n"
    )
    registry = load_registry(
        planner_folders=[tmp_path], attack_folders=[SEED_PLUGINS / "attacks"], entry_points=False
    )
    status = run({"planner": {"ref": "fanout:Fanout"}, "attack": ATTACK}, PlanStatus(), registry).status
    assert [e.attack_config for e in status.executors] == [
        None,
        {"ref": "my_attack:MyAttack", "name": "other"},
    ]
    written = status.to_dict()["executors"]
    assert "attack" not in written[0]
    assert written[1]["attack"] == {"ref": "my_attack:MyAttack", "name": "other"}
    assert PlanStatus.from_dict(status.to_dict()) == status
