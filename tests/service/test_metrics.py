"""Metrics, read back through Prometheus' own text parser."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from chaosmonkey.metrics import Metrics
from chaosmonkey.scheduling import PlanKey

PLAN = PlanKey("chaos", "plan-a", "uid-a")
OTHER = PlanKey("chaos", "plan-b", "uid-b")
REF = "terminate_ec2_instance:TerminateEC2Instance"


def samples(metrics: Metrics) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of the exposition: (name, labels) -> value."""
    text = metrics.render().decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(metrics: Metrics, name: str, **labels: str) -> float:
    return samples(metrics)[(name, frozenset(labels.items()))]


def summary(**counts: int) -> dict[str, int]:
    states = ("pending", "running", "succeeded", "failed", "missed", "cancelled", "interrupted")
    return {state: counts.get(state, 0) for state in states}


def test_attacks_are_counted_by_plugin_and_result_with_their_duration() -> None:
    metrics = Metrics()
    metrics.attack_finished(REF, "succeeded", 1.5)
    metrics.attack_finished(REF, "succeeded", 0.2)
    metrics.attack_finished(REF, "failed", 3.0)
    metrics.attack_finished(REF, "missed", 0.0)

    assert value(metrics, "chaosmonkey_attacks_total", attack=REF, result="succeeded") == 2
    assert value(metrics, "chaosmonkey_attacks_total", attack=REF, result="failed") == 1
    assert value(metrics, "chaosmonkey_attacks_total", attack=REF, result="missed") == 1
    # Missed attacks never ran: three durations, not four.
    assert value(metrics, "chaosmonkey_attack_duration_seconds_count", attack=REF) == 3
    assert value(metrics, "chaosmonkey_attack_duration_seconds_sum", attack=REF) == pytest.approx(4.7)
    assert value(metrics, "chaosmonkey_attack_duration_seconds_bucket", attack=REF, le="0.25") == 1


def test_unknown_results_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown attack result"):
        Metrics().attack_finished(REF, "exploded", 1.0)


def test_firing_lateness_lands_in_millisecond_to_minute_buckets() -> None:
    metrics = Metrics()
    for lateness in (0.0005, 0.003, 0.2, 45.0, -0.01):
        metrics.fired(lateness)
    assert value(metrics, "chaosmonkey_firing_lateness_seconds_count") == 5
    assert value(metrics, "chaosmonkey_firing_lateness_seconds_bucket", le="0.001") == 2  # early counts as 0
    assert value(metrics, "chaosmonkey_firing_lateness_seconds_bucket", le="0.005") == 3
    assert value(metrics, "chaosmonkey_firing_lateness_seconds_bucket", le="30.0") == 4
    assert value(metrics, "chaosmonkey_firing_lateness_seconds_bucket", le="60.0") == 5


def test_gauges_are_totals_across_plans_and_follow_each_plans_latest_status() -> None:
    metrics = Metrics()
    assert value(metrics, "chaosmonkey_plans", phase="Scheduled") == 0
    assert value(metrics, "chaosmonkey_executors", state="pending") == 0

    metrics.plan_status(PLAN, "Scheduled", summary(pending=3))
    metrics.plan_status(OTHER, "Scheduled", summary(pending=2, succeeded=1))
    assert value(metrics, "chaosmonkey_plans", phase="Scheduled") == 2
    assert value(metrics, "chaosmonkey_executors", state="pending") == 5
    assert value(metrics, "chaosmonkey_executors", state="succeeded") == 1

    # A new status of the same plan replaces its old contribution.
    metrics.plan_status(PLAN, "Running", summary(pending=2, running=1))
    assert value(metrics, "chaosmonkey_plans", phase="Scheduled") == 1
    assert value(metrics, "chaosmonkey_plans", phase="Running") == 1
    assert value(metrics, "chaosmonkey_executors", state="pending") == 4
    assert value(metrics, "chaosmonkey_executors", state="running") == 1

    metrics.plan_deleted(PLAN)
    metrics.plan_deleted(PLAN)  # twice is harmless
    assert value(metrics, "chaosmonkey_plans", phase="Running") == 0
    assert value(metrics, "chaosmonkey_executors", state="pending") == 2
    assert value(metrics, "chaosmonkey_executors", state="running") == 0


def test_each_instance_has_its_own_registry() -> None:
    first, second = Metrics(), Metrics()
    first.attack_finished(REF, "dry_run", 0.1)
    assert value(first, "chaosmonkey_attacks_total", attack=REF, result="dry_run") == 1
    assert ("chaosmonkey_attacks_total", frozenset({("attack", REF), ("result", "dry_run")})) not in samples(
        second
    )
