"""Lifecycle rules end to end: suspend, bursts, restarts, recurring history, EC2 against moto."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.http_target import HTTPTarget
from tests.support.moto_ec2 import MotoEC2, moto_ec2, use_moto_environment
from tests.support.operator import Cluster, OperatorThread, in_seconds

from .test_e2e import api_request_spec, finished

BURST_PLANNER = textwrap.dedent("""
    import datetime
    from chaosmonkey.planners import Planner

    class Burst(Planner):
        ref = "burst:Burst"
        schema = {"type": "object", "properties": {"args": {"type": "object",
                  "properties": {"at": {"type": "string"}, "times": {"type": "integer"}}}}}
        example = {"ref": "burst:Burst", "args": {"at": "2030-01-01T00:00:00Z", "times": 10}}

        def plan(self, planner_config, attack_config):
            for number in range(planner_config["args"]["times"]):
                self._add_job(planner_config["args"]["at"], f"burst {number}", attack_config)
""")


TICKER_PLANNER = textwrap.dedent("""
    import datetime
    from chaosmonkey.planners import Planner

    class Ticker(Planner):
        ref = "ticker:Ticker"
        recurring = True
        schema = {"type": "object"}
        example = {"ref": "ticker:Ticker", "args": {}}

        def plan(self, planner_config, attack_config):
            # Recurring, every second: the operator asks again as executors are consumed.
            for ahead in (1, 2):
                self._add_job(self.after + datetime.timedelta(seconds=ahead), "tick", attack_config)
""")


@pytest.fixture
def ticker_planner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "ticker"
    folder.mkdir()
    (folder / "ticker.py").write_text(TICKER_PLANNER)
    monkeypatch.setenv("CHAOSMONKEY_PLANNERS_PATH", str(folder))


@pytest.fixture
def burst_planner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A plugin folder with a planner that puts N executors in the same second."""
    folder = tmp_path / "planners"
    folder.mkdir()
    (folder / "burst.py").write_text(BURST_PLANNER)
    monkeypatch.setenv("CHAOSMONKEY_PLANNERS_PATH", str(folder))


def test_suspend_then_resume(cluster: Cluster, operator: OperatorThread, target: HTTPTarget) -> None:
    cluster.create_plan("nap", api_request_spec(target, in_seconds(3), suspend=True))
    status = cluster.wait_for_status("nap", lambda s: s.get("phase") == "Suspended")
    assert status["executors"][0]["state"] == "Pending"
    cluster.patch_spec("nap", {"suspend": False})
    status = cluster.wait_for_status("nap", finished)
    assert [e["state"] for e in status["executors"]] == ["Succeeded"], "resuming keeps the planned executor"
    assert len(target.requests) == 1


def test_ten_executors_due_in_the_same_second_all_end_succeeded(
    burst_planner: None, cluster: Cluster, operator: OperatorThread, target: HTTPTarget
) -> None:
    spec = api_request_spec(target, "unused")
    spec["planner"] = {"ref": "burst:Burst", "args": {"at": in_seconds(2), "times": 10}}
    cluster.create_plan("burst", spec)
    status = cluster.wait_for_status("burst", finished)
    assert sorted(e["name"] for e in status["executors"]) == sorted(f"burst-{n}" for n in range(1, 11))
    assert {e["state"] for e in status["executors"]} == {"Succeeded"}
    assert status["summary"]["succeeded"] == 10
    assert len(target.requests) == 10


def test_a_recurring_plan_keeps_planning_and_stays_within_its_history_limit(
    ticker_planner: None, cluster: Cluster, operator: OperatorThread, target: HTTPTarget
) -> None:
    spec = api_request_spec(target, "unused", historyLimit=2)
    spec["planner"] = {"ref": "ticker:Ticker", "args": {}}
    cluster.create_plan("ticking", spec)
    target.wait_for_requests(5, timeout=15)
    status = cluster.wait_for_status("ticking", lambda s: s["summary"]["succeeded"] == 2)
    states = [e["state"] for e in status["executors"]]
    assert states.count("Succeeded") == 2, "finished executors are trimmed to historyLimit"
    assert 1 <= states.count("Pending") <= 2, "and the planner keeps planning ahead"
    assert status["executorsPlanned"] >= 5
    assert status["phase"] in {"Scheduled", "Running"}
    cluster.delete_plan("ticking")


def test_restart_fires_every_executor_exactly_once(cluster: Cluster, target: HTTPTarget) -> None:
    first = OperatorThread(cluster.kubeconfig).start()
    cluster.create_plan("survivor", api_request_spec(target, in_seconds(4)))
    cluster.wait_for_status("survivor", lambda s: s.get("phase") == "Scheduled")
    first.stop()
    second = OperatorThread(cluster.kubeconfig).start()
    try:
        status = cluster.wait_for_status("survivor", finished)
    finally:
        second.stop()
    assert [e["state"] for e in status["executors"]] == ["Succeeded"]
    assert len(target.requests) == 1


def test_restart_interrupts_running_and_misses_late_executors(cluster: Cluster, target: HTTPTarget) -> None:
    # The stored state of an operator that died while plan "cut" ran an attack, and long before
    # plan "late" was due: written as the operator writes it, before a new operator starts.
    cluster.create_plan("cut", api_request_spec(target, in_seconds(3600)))
    cluster.create_plan("late", api_request_spec(target, in_seconds(-300), startingDeadlineSeconds=60))
    first = OperatorThread(cluster.kubeconfig).start()
    cut = cluster.wait_for_status("cut", lambda s: s.get("phase") == "Scheduled")
    first.stop()
    running = dict(cut["executors"][0], state="Running", startTime=in_seconds(-5))
    cluster.patch_status("cut", {"executors": [running], "summary": None})
    cluster.patch_status("late", {"executors": [], "planFingerprint": None})
    second = OperatorThread(cluster.kubeconfig).start()
    try:
        cut = cluster.wait_for_status("cut", lambda s: s["executors"][0]["state"] != "Running")
        late = cluster.wait_for_status("late", lambda s: any(e["state"] == "Missed" for e in s["executors"]))
    finally:
        second.stop()
    assert cut["executors"][0]["state"] == "Interrupted"
    assert cut["executors"][0]["message"] == "the operator stopped while this attack ran; not run again"
    [missed] = [e for e in late["executors"] if e["state"] == "Missed"]
    assert missed["message"].startswith("not started within startingDeadlineSeconds (60s)")
    assert target.requests == [], "neither the interrupted nor the missed attack ran"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[MotoEC2]:
    with moto_ec2() as servers:
        use_moto_environment(
            servers,
            monkeypatch,
            access_key_id="AKIAEXAMPLEOPERATOR1",
            secret_access_key="operator/example/secret",
        )
        yield servers


def test_an_ec2_plan_terminates_exactly_one_matching_instance(
    aws: MotoEC2, cluster: Cluster, operator: OperatorThread
) -> None:
    victims = aws.create_instances("eu-west-1", count=3, tags={"Chaos": "true"})
    bystanders = aws.create_instances("eu-west-1", count=2, tags={"Chaos": "false"})
    spec: dict[str, Any] = {
        "planner": {"ref": "exact_planner:ExactPlanner", "args": {"date": in_seconds(1)}},
        "attack": {
            "ref": "terminate_ec2_instance:TerminateEC2Instance",
            "args": {"region": "eu-west-1", "filters": {"tag:Chaos": "true"}},
        },
    }
    cluster.create_plan("kill-one", spec)
    [executor] = cluster.wait_for_status("kill-one", finished, timeout=30)["executors"]
    assert executor["state"] == "Succeeded", executor["message"]
    states = aws.instance_states("eu-west-1")
    terminated = [i for i, state in states.items() if state in {"shutting-down", "terminated"}]
    assert len(terminated) == 1
    assert terminated[0] in victims
    assert terminated[0] in executor["message"]
    assert all(states[i] == "running" for i in bystanders)


FANOUT_PLANNER = textwrap.dedent("""
    from chaosmonkey.planners import Planner

    class Fanout(Planner):
        ref = "fanout:Fanout"
        schema = {"type": "object"}
        example = {"ref": "fanout:Fanout", "args": {"at": "2030-01-01T00:00:00Z", "paths": ["/a"]}}

        def plan(self, planner_config, attack_config):
            # As the seed guide allows: each job gets its own attack config.
            for path in planner_config["args"]["paths"]:
                config = dict(attack_config, args=dict(attack_config["args"]))
                config["args"]["endpoint"] = attack_config["args"]["endpoint"] + path
                self._add_job(planner_config["args"]["at"], path, config)
""")


def test_each_run_uses_the_attack_config_its_planner_gave_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cluster: Cluster, target: HTTPTarget
) -> None:
    folder = tmp_path / "fanout"
    folder.mkdir()
    (folder / "fanout.py").write_text(FANOUT_PLANNER)
    monkeypatch.setenv("CHAOSMONKEY_PLANNERS_PATH", str(folder))
    operator = OperatorThread(cluster.kubeconfig).start()
    try:
        spec = api_request_spec(target, "unused", path="")
        spec["planner"] = {"ref": "fanout:Fanout", "args": {"at": in_seconds(2), "paths": ["/one", "/two"]}}
        cluster.create_plan("fanout", spec)
        status = cluster.wait_for_status("fanout", finished)
    finally:
        operator.stop()
    assert {e["state"] for e in status["executors"]} == {"Succeeded"}
    assert sorted(e["attack"]["args"]["endpoint"] for e in status["executors"]) == [
        f"{target.url}/one",
        f"{target.url}/two",
    ]
    assert sorted(r.path for r in target.requests) == ["/one", "/two"]
