"""The seed guide's plugin API: its MyPlanner and MyAttack load, validate, plan and run."""

from __future__ import annotations

import datetime as dt
import re
import textwrap
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from chaosmonkey.attacks import Attack, AttackContext
from chaosmonkey.execution import format_result, run_attack
from chaosmonkey.planners import Planner
from chaosmonkey.planning import PlanningError, compute_executors
from chaosmonkey.registry import PluginRegistry
from chaosmonkey.validation import validate_spec

from .conftest import SEED_PLUGINS

SEED_DOC = Path(__file__).resolve().parents[3] / "shared" / "seed-extending.rst"


def seed_doc_blocks() -> list[str]:
    text = SEED_DOC.read_text(encoding="utf-8")
    return [
        textwrap.dedent(block).strip() + "\n" for block in re.findall(r"::\n\n((?:(?:    .*)?\n)+)", text)
    ]


@pytest.mark.skipif(not SEED_DOC.exists(), reason="shared/seed-extending.rst is not beside this checkout")
def test_seed_plugins_are_the_guide_examples_verbatim() -> None:
    blocks = seed_doc_blocks()
    attack = (SEED_PLUGINS / "attacks" / "my_attack.py").read_text()
    planner = (SEED_PLUGINS / "planners" / "my_planner.py").read_text()
    assert attack in blocks
    # The guide leaves out how attack_date is computed: that one line is all we add.
    added = '            attack_date = planner_config["args"]["date"]\n'
    assert planner.count(added) == 1
    assert planner.replace(added, "") in blocks


def test_seed_my_planner_loads_validates_and_plans(seed_registry: PluginRegistry) -> None:
    info = seed_registry.get("planner", "my_planner:MyPlanner")
    assert info is not None
    assert info.source.startswith("folder ") and info.source.endswith("my_planner.py")
    assert info.cls.to_dict() == {"ref": info.ref, "schema": info.schema, "example": info.example}
    spec = {
        "planner": info.example,
        "attack": {"ref": "my_attack:MyAttack", "name": "attack1"},
        "timeZone": "Europe/Madrid",
    }
    assert validate_spec(spec, seed_registry) == []
    executors = compute_executors(
        info.cls, spec["planner"], spec["attack"], plan_name="seed", timezone=ZoneInfo("Europe/Madrid")
    )
    # "2016-06-21T15:30" is a wall time in the plan's zone (CEST, UTC+2).
    assert [(e.name, e.scheduled_time, e.job_name) for e in executors] == [
        ("seed-1", dt.datetime(2016, 6, 21, 13, 30, tzinfo=dt.UTC), "Job Name")
    ]
    assert executors[0].attack_config == {"ref": "my_attack:MyAttack", "name": "attack1"}


def test_seed_my_attack_loads_validates_and_runs(seed_registry: PluginRegistry) -> None:
    info = seed_registry.get("attack", "my_attack:MyAttack")
    assert info is not None
    assert list(info.validator().iter_errors(info.example)) == []
    attack = info.cls(info.example)
    assert isinstance(attack, Attack)
    assert attack.attack_config == info.example
    outcome = run_attack(info.cls, info.example, AttackContext(plan_name="p", namespace="chaos"))
    assert outcome.succeeded
    assert outcome.message == "attack completed"  # MyAttack.run returns None


class _Clock(Planner):
    ref = "clock:Clock"
    schema: dict = {"type": "object"}
    example: dict = {"ref": "clock:Clock"}

    def plan(self, planner_config: dict, attack_config: dict) -> None:
        self._add_job(dt.datetime(2026, 3, 29, 2, 30), "naive in a DST gap", attack_config)
        self._add_job(dt.datetime(2026, 3, 28, 10, 0, tzinfo=dt.UTC), "aware", attack_config)
        self._add_job("2026-03-30T09:00", "string", attack_config)
        attack_config["mutated"] = True  # must not leak into the caller's spec


def test_planning_normalises_dates_sorts_and_names_executors() -> None:
    attack = {"ref": "a:A"}
    executors = compute_executors(
        _Clock,
        {"ref": "clock:Clock"},
        attack,
        plan_name="p",
        timezone=ZoneInfo("Europe/Madrid"),
        first_index=7,
    )
    assert [(e.name, e.job_name) for e in executors] == [
        ("p-7", "aware"),
        ("p-8", "naive in a DST gap"),
        ("p-9", "string"),
    ]
    # 02:30 does not exist on 2026-03-29 in Madrid: it resolves to the jump, 03:00 CEST = 01:00Z.
    assert executors[1].scheduled_time == dt.datetime(2026, 3, 29, 1, 0, tzinfo=dt.UTC)
    assert executors[2].scheduled_time == dt.datetime(2026, 3, 30, 7, 0, tzinfo=dt.UTC)
    assert all(e.scheduled_time.tzinfo is dt.UTC for e in executors)
    assert attack == {"ref": "a:A"}


class _Broken(Planner):
    ref = "broken:Broken"
    schema: dict = {"type": "object"}
    example: dict = {"ref": "broken:Broken"}

    def plan(self, planner_config: dict, attack_config: dict) -> None:
        raise KeyError("args")


class _Flood(Planner):
    ref = "flood:Flood"
    schema: dict = {"type": "object"}
    example: dict = {"ref": "flood:Flood"}

    def plan(self, planner_config: dict, attack_config: dict) -> None:
        start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        for minute in range(10_000):
            self._add_job(start + dt.timedelta(minutes=minute), "flood", attack_config)


class _BadDate(Planner):
    ref = "bad:BadDate"
    schema: dict = {"type": "object"}
    example: dict = {"ref": "bad:BadDate"}

    def plan(self, planner_config: dict, attack_config: dict) -> None:
        self._add_job("next tuesday", "bad", attack_config)


@pytest.mark.parametrize(
    ("planner", "expected"),
    [
        (_Broken, "planner _Broken failed: KeyError: 'args'"),
        (_Flood, "planner _Flood asked for 10000 executors; at most 500 are allowed"),
        (_BadDate, "planner _BadDate gave an unusable date 'next tuesday'"),
    ],
)
def test_planner_failures_become_planning_errors(planner: type[Planner], expected: str) -> None:
    with pytest.raises(PlanningError) as caught:
        compute_executors(planner, {"ref": planner.ref}, {}, plan_name="p", timezone=dt.UTC)
    assert str(caught.value) == expected


def test_add_job_rejects_what_is_not_a_date() -> None:
    planner = Planner("p")
    with pytest.raises(TypeError, match="datetime or ISO 8601 string"):
        planner._add_job(12345, "n", {})  # type: ignore[arg-type]


class _Returns(Attack):
    ref = "returns:Returns"
    schema: dict = {"type": "object"}
    example: dict = {"ref": "returns:Returns"}
    supports_dry_run = True

    def run(self) -> str | dict | None:
        if self.attack_config.get("fail"):
            raise RuntimeError("target refused")
        if self.dry_run:
            return "dry run: would hit " + self.context.namespace
        return self.attack_config.get("result")


class _NoDryRun(Attack):
    ref = "nodry:NoDryRun"
    schema: dict = {"type": "object"}
    example: dict = {"ref": "nodry:NoDryRun"}

    def run(self) -> str:
        raise AssertionError("must not run in a dry run")


def test_attack_results_become_messages() -> None:
    context = AttackContext(namespace="chaos")
    ok = run_attack(_Returns, {"result": {"terminated": "i-1"}}, context)
    assert (ok.succeeded, ok.message) == (True, '{"terminated":"i-1"}')
    text = run_attack(_Returns, {"result": "  killed pod web-1 \n"}, context)
    assert (text.succeeded, text.message) == (True, "killed pod web-1")
    failed = run_attack(_Returns, {"fail": True}, context)
    assert (failed.succeeded, failed.message) == (False, "RuntimeError: target refused")
    assert len(format_result("x" * 5000)) == 1024


def test_dry_run_never_calls_run_of_an_attack_without_dry_run_support() -> None:
    outcome = run_attack(_NoDryRun, {}, AttackContext(dry_run=True))
    assert outcome.succeeded and outcome.dry_run
    assert "nothing was run" in outcome.message
    supported = run_attack(_Returns, {}, AttackContext(dry_run=True, namespace="chaos"))
    assert supported.message == "dry run: would hit chaos"
