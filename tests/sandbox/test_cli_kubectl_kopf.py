"""The ``python -m`` entry point with kubectl, and a kopf operator running against the server unmodified."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import kopf.testing
import pytest

from chaosmonkey.sandbox.apiserver import ServerThread

from .conftest import CRDS_DIR
from .helpers import GROUP, PLURAL, VERSION, wait_for, widget

KUBECTL = shutil.which("kubectl", path=str(Path(sys.executable).parent)) or shutil.which("kubectl")


@pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed")
def test_module_entry_point_serves_kubectl(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    process = subprocess.Popen(
        [sys.executable, "-m", "chaosmonkey.sandbox.apiserver", "--port", "0", "--kubeconfig", str(kubeconfig),
         "--crds", str(CRDS_DIR)], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        ready = process.stdout.readline().split()
        assert ready[0] == "ready" and ready[1].startswith("http://127.0.0.1:")
        manifest = tmp_path / "widget.yaml"
        manifest.write_text(json.dumps({**widget("w1"), "metadata": {"name": "w1", "namespace": "default"}}))
        env = {**os.environ, "KUBECONFIG": str(kubeconfig)}

        def kubectl(*args: str) -> str:
            assert KUBECTL is not None
            return subprocess.run([KUBECTL, *args], env=env, check=True, capture_output=True, text=True,
                                  timeout=30).stdout

        assert "created" in kubectl("apply", "--validate=false", "-f", str(manifest))
        manifest.write_text(json.dumps({**widget("w1", size="large"),
                                        "metadata": {"name": "w1", "namespace": "default"}}))
        assert "configured" in kubectl("apply", "--validate=false", "-f", str(manifest))
        table = kubectl("get", "widgets").split()
        assert table[:3] == ["NAME", "SIZE", "AGE"] and table[3:5] == ["w1", "large"]  # printer columns
        fetched = json.loads(kubectl("get", "wd", "w1", "-o", "json"))
        assert fetched["spec"]["size"] == "large" and fetched["metadata"]["generation"] == 2
        assert "default" in kubectl("get", "namespaces")
        assert "deleted" in kubectl("delete", "widget", "w1")
    finally:
        process.send_signal(signal.SIGTERM)
        exit_code = process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()
    assert exit_code == 0


# The kubernetes client reads $KUBECONFIG once at import, so the operator logs in to the URL directly.
OPERATOR = textwrap.dedent("""
    import os
    import kopf

    @kopf.on.login()
    def login(**_):
        return kopf.ConnectionInfo(server=os.environ["SANDBOX_APISERVER_URL"])

    @kopf.on.startup()
    def configure(settings: kopf.OperatorSettings, **_):
        settings.watching.server_timeout = 5
        settings.posting.level = 0  # kopf.info() events only; log lines are not posted by default

    @kopf.on.create("example.com", "v1", "widgets")
    def created(body, spec, patch, **_):
        patch.status["phase"] = "Seen-" + spec["size"]
        kopf.info(body, reason="Seen", message="widget seen")
""")


def test_kopf_operator_patches_status(runner: ServerThread, custom: Any, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SANDBOX_APISERVER_URL", runner.url)
    operator = tmp_path / "operator.py"
    operator.write_text(OPERATOR)
    with kopf.testing.KopfRunner(["run", "-A", "--standalone", str(operator)], timeout=30) as kopf_runner:
        custom.create_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, widget("w"))
        got = wait_for(lambda: custom.get_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "w")
                       .get("status"), timeout=20)
        assert got == {"phase": "Seen-small"}
        # kopf posts its per-object events to core v1 in the background.
        wait_for(lambda: runner.server.requests.count("POST", "/api/v1/namespaces/{namespace}/events"))
    assert kopf_runner.exit_code == 0, kopf_runner.output
    status_pattern = "/apis/example.com/v1/namespaces/{namespace}/widgets/{name}/status"
    assert runner.server.requests.count("PATCH", status_pattern) >= 1
