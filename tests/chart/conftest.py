"""Fixtures: one embedded API server and one Helm worker (helm-sdkpy, HELM_DRIVER=memory) per module."""

from __future__ import annotations

import itertools
import json
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from chaosmonkey.sandbox.apiserver import APIServer, ServerThread
from chaosmonkey.sandbox.apiserver.testing import kube_client

from .helm_worker import ANSWER

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "chart"
WORKER = Path(__file__).with_name("helm_worker.py")
TIMEOUT = 30.0


class HelmWorker:
    """The helm-sdkpy worker subprocess; one JSON request and answer per line."""

    def __init__(self, kubeconfig: Path, home: Path) -> None:
        env = {
            **os.environ,
            "HELM_DRIVER": "memory",
            "HELM_CACHE_HOME": str(home / "cache"),
            "HELM_CONFIG_HOME": str(home / "config"),
            "HELM_DATA_HOME": str(home / "data"),
        }
        self.stderr_path = home / "worker.stderr"
        with self.stderr_path.open("wb") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, str(WORKER), str(kubeconfig)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                env=env,
                text=True,
            )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, name="chart-helm-worker", daemon=True).start()
        self._names = itertools.count(1)

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.startswith(ANSWER):
                self.lines.put(line[len(ANSWER) :])
        self.process.stdout.close()
        self.lines.put("")

    def call(self, action: str, **arguments: Any) -> dict[str, Any]:
        """One action's result, or ``{"error": ..., "type": ...}`` if Helm raised."""
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"action": action, "chart": str(CHART), **arguments}) + "\n")
        self.process.stdin.flush()
        try:
            line = self.lines.get(timeout=TIMEOUT)
        except queue.Empty:
            raise AssertionError(
                f"helm worker: no answer to {action} in {TIMEOUT} s{self._stderr()}"
            ) from None
        if not line:
            raise AssertionError(f"helm worker exited during {action}{self._stderr()}")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def ok(self, action: str, **arguments: Any) -> dict[str, Any]:
        answer = self.call(action, **arguments)
        assert "error" not in answer, f"helm {action} failed: {answer}{self._stderr()}"
        return answer

    def render(
        self, values: dict[str, Any] | None = None, namespace: str = "chaos-system"
    ) -> list[dict[str, Any]]:
        """The chart's manifests for these values: installed as a fresh release, read, uninstalled."""
        release = f"r{next(self._names)}"
        installed = self.ok("install", release=release, namespace=namespace, values=values or {})
        self.ok("uninstall", release=release, namespace=namespace)
        return manifests(installed["manifest"])

    def _stderr(self) -> str:
        text = self.stderr_path.read_text(encoding="utf-8", errors="replace")[-3000:]
        return f"\nworker stderr:\n{text}" if text else ""

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def manifests(text: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


def find(objects: list[dict[str, Any]], kind: str, name: str | None = None) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]


@pytest.fixture(scope="module")
def runner() -> Iterator[ServerThread]:
    with ServerThread(APIServer(crds_dir=None, auto_create_namespaces=True)) as running:
        yield running


@pytest.fixture(scope="module")
def client(runner: ServerThread) -> Iterator[Any]:
    api_client = kube_client(runner.url)
    yield api_client
    api_client.close()


@pytest.fixture(scope="module")
def helm(runner: ServerThread, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HelmWorker]:
    pytest.importorskip(
        "helm_sdkpy",
        reason="helm-sdkpy is not installed (on Python 3.11: pip install --ignore-requires-python helm-sdkpy)",
    )
    home = tmp_path_factory.mktemp("helm")
    kubeconfig = runner.server.write_kubeconfig(home / "kubeconfig")
    worker = HelmWorker(kubeconfig, home)
    ready = worker.call("ready")
    if "error" in ready:
        worker.close()
        pytest.skip(f"helm-sdkpy cannot run here: {ready['error']}")
    try:
        yield worker
    finally:
        worker.close()


@pytest.fixture(scope="module")
def values_yaml() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((CHART / "values.yaml").read_text())
    return loaded
