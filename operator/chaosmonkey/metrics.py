"""The operator's Prometheus metrics, on a registry of its own (tests may build several).

* ``chaosmonkey_attacks_total{attack, result}``: attacks by outcome (succeeded, failed, missed,
  interrupted, dry_run).
* ``chaosmonkey_executors{state}`` and ``chaosmonkey_plans{phase}``: totals across all plans.
  Each plan's last summary and phase are kept, so a plan's new status replaces its old
  contribution (gauges never drift by counting a plan twice), and a deleted plan's is removed.
* ``chaosmonkey_firing_lateness_seconds``: how late executors fired after their scheduled time.
* ``chaosmonkey_attack_duration_seconds{attack}``: how long attacks ran.

Label values are bounded: ``attack`` takes plugin refs (the loaded plugins), ``result``,
``state`` and ``phase`` fixed sets; per-plan data never becomes a label.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from chaosmonkey.executors import ExecutorState
from chaosmonkey.lifecycle import Phase
from chaosmonkey.scheduling import PlanKey

ATTACK_RESULTS = frozenset({"succeeded", "failed", "missed", "interrupted", "dry_run"})

#: 1 ms (a job fired at once) ... 60 s (well past the default startingDeadlineSeconds).
LATENESS_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
#: An HTTP request takes milliseconds, a script or an instance termination minutes.
DURATION_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        self.attacks = Counter(
            "chaosmonkey_attacks",
            "Attacks by plugin and result.",
            ["attack", "result"],
            registry=self.registry,
        )
        self.executors = Gauge(
            "chaosmonkey_executors", "Executors of all plans, by state.", ["state"], registry=self.registry
        )
        self.plans = Gauge("chaosmonkey_plans", "ChaosPlans by phase.", ["phase"], registry=self.registry)
        self.firing_lateness = Histogram(
            "chaosmonkey_firing_lateness_seconds",
            "How long after its scheduled time an executor fired.",
            buckets=LATENESS_BUCKETS,
            registry=self.registry,
        )
        self.attack_duration = Histogram(
            "chaosmonkey_attack_duration_seconds",
            "How long attacks ran, by plugin.",
            ["attack"],
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        self._plan_phases: dict[PlanKey, str] = {}
        self._plan_summaries: dict[PlanKey, Mapping[str, int]] = {}
        self._executor_totals: Tally[str] = Tally({state.value.lower(): 0 for state in ExecutorState})
        self._phase_totals: Tally[str] = Tally({phase.value: 0 for phase in Phase})
        self._publish_totals()

    def attack_finished(self, ref: str, result: str, duration: float) -> None:
        """One attack ended with ``result`` after ``duration`` seconds (0 for one never run)."""
        if result not in ATTACK_RESULTS:
            raise ValueError(f"unknown attack result {result!r}; one of {sorted(ATTACK_RESULTS)}")
        self.attacks.labels(attack=ref, result=result).inc()
        if result not in {"missed", "interrupted"}:  # those never ran: no duration to tell
            self.attack_duration.labels(attack=ref).observe(max(0.0, duration))

    def fired(self, lateness_seconds: float) -> None:
        """An executor fired ``lateness_seconds`` after its scheduled time (early counts as 0)."""
        self.firing_lateness.observe(max(0.0, lateness_seconds))

    def plan_status(self, plan: PlanKey, phase: str, summary: Mapping[str, int]) -> None:
        """``plan`` is now in ``phase`` with these executor counts (``PlanStatus.summary()``)."""
        self._forget_plan(plan)
        self._plan_phases[plan] = phase
        self._plan_summaries[plan] = dict(summary)
        self._phase_totals[phase] += 1
        self._executor_totals.update(summary)
        self._publish_totals()

    def plan_deleted(self, plan: PlanKey) -> None:
        self._forget_plan(plan)
        self._publish_totals()

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)

    def _forget_plan(self, plan: PlanKey) -> None:
        phase = self._plan_phases.pop(plan, None)
        if phase is not None:
            self._phase_totals[phase] -= 1
        summary = self._plan_summaries.pop(plan, None)
        if summary is not None:
            self._executor_totals.subtract(summary)

    def _publish_totals(self) -> None:
        for state, count in self._executor_totals.items():
            self.executors.labels(state=state).set(count)
        for phase, count in self._phase_totals.items():
            self.plans.labels(phase=phase).set(count)
