"""The README's first command: `chaosmonkey sandbox` runs the operator with no cluster."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import yaml
from kubernetes import client, config

from tests.support.http_target import HTTPTarget
from tests.support.operator import free_port, in_seconds, wait_for


def test_the_sandbox_runs_a_plan_and_stops_cleanly(tmp_path: Path, target: HTTPTarget) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "chaosmonkey.io/v1alpha1",
                "kind": "ChaosPlan",
                "metadata": {"name": "first-steps", "namespace": "chaos"},
                "spec": {
                    "planner": {"ref": "exact_planner:ExactPlanner", "args": {"date": in_seconds(4)}},
                    "attack": {"ref": "api_request:ApiRequest", "args": {"endpoint": f"{target.url}/hello"}},
                },
            }
        )
    )
    kubeconfig = tmp_path / "sandbox.kubeconfig"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "chaosmonkey",
            "sandbox",
            "--kubeconfig",
            str(kubeconfig),
            "--apply",
            str(plan),
            "--health-port",
            str(free_port()),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first_line = process.stdout.readline()
        assert first_line.startswith("ready http://127.0.0.1:"), first_line + (
            process.stderr.read() if process.poll() else ""
        )
        api = client.CustomObjectsApi(config.new_client_from_config(str(kubeconfig)))

        def completed() -> dict | None:
            status = (
                api.get_namespaced_custom_object(
                    "chaosmonkey.io", "v1alpha1", "chaos", "chaosplans", "first-steps"
                ).get("status")
                or {}
            )
            return status if status.get("phase") == "Completed" else None

        status = wait_for(completed, timeout=30, what="the sandbox to run the plan")
        assert status["executors"][0]["state"] == "Succeeded"
        assert [r.path for r in target.requests] == ["/hello"]
    finally:
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=30)
    assert code == 0
