"""The real Helm library (helm-sdkpy: Helm in a Go shared library) for tests, in a worker process.

Helm reads ``HELM_DRIVER`` from the environment the Go runtime copied when the process started, so
setting it from Python is too late: the Helm calls run in a worker subprocess started with
``HELM_DRIVER=memory`` (the embedded API server cannot decode the protobuf Secrets of Helm's default
storage). The memory driver keeps releases in that process, for the worker's life. The worker is
this module run as a script (``python -m tests.support.helm KUBECONFIG``); it reads one JSON request
per stdin line and answers one JSON line, prefixed so that Helm's own output cannot be mistaken.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
ANSWER = "HELM-WORKER "  # prefixes the worker's answers; Helm itself may print to stdout
TIMEOUT = 30.0
MISSING = "helm-sdkpy is not installed (on Python 3.11: pip install --ignore-requires-python helm-sdkpy)"


class HelmWorker:
    """The worker subprocess. ``defaults`` (chart, release, namespace...) go with every request."""

    def __init__(self, kubeconfig: Path, home: Path, **defaults: Any) -> None:
        env = {
            **os.environ,
            "HELM_DRIVER": "memory",
            "HELM_CACHE_HOME": str(home / "cache"),
            "HELM_CONFIG_HOME": str(home / "config"),
            "HELM_DATA_HOME": str(home / "data"),
        }
        self.defaults = defaults
        self.stderr_path = home / "helm-worker.stderr"
        with self.stderr_path.open("wb") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tests.support.helm", str(kubeconfig)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                env=env,
                cwd=ROOT,
                text=True,
            )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, name="helm-worker-reader", daemon=True).start()

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
        request = {**self.defaults, **arguments, "action": action}
        self.process.stdin.write(json.dumps(request, default=str) + "\n")
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
        """Run one action that must succeed."""
        answer = self.call(action, **arguments)
        assert "error" not in answer, f"helm {action} failed: {answer}{self._stderr()}"
        return answer

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


@contextmanager
def helm_worker(
    kubeconfig: Path, home: Path, *, worker_class: type[HelmWorker] = HelmWorker, **defaults: Any
) -> Iterator[HelmWorker]:
    """A started worker; the test is skipped when helm-sdkpy is missing or cannot run here."""
    pytest.importorskip("helm_sdkpy", reason=MISSING)
    worker = worker_class(kubeconfig, home, **defaults)
    try:
        ready = worker.call("ready")
        if "error" in ready:
            pytest.skip(f"helm-sdkpy cannot run here: {ready['error']}")
        yield worker
    finally:
        worker.close()


# -- the worker process ------------------------------------------------------------------------


def main(kubeconfig: str) -> None:  # pragma: no cover - runs in the subprocess
    helm_sdkpy = importlib.import_module("helm_sdkpy")  # untyped: its attributes are Any
    configs: dict[str, Any] = {}  # one Configuration per release namespace, for the worker's life
    for line in sys.stdin:
        request = json.loads(line)
        action = request.pop("action")
        try:
            namespace = request.get("namespace", "default")
            if namespace not in configs:
                configs[namespace] = helm_sdkpy.Configuration(namespace=namespace, kubeconfig=kubeconfig)
            result = asyncio.run(_run(helm_sdkpy, configs[namespace], action, request))
        except Exception as exc:  # reported to the test
            result = {"error": str(exc), "type": type(exc).__name__}
        print(ANSWER + json.dumps(result, default=str), flush=True)


async def _run(helm_sdkpy: Any, config: Any, action: str, request: dict[str, Any]) -> Any:
    # wait=False for install and upgrade: the embedded server runs no controllers, so a
    # Deployment never becomes ready. Uninstall may wait: that exercises client-go's watches.
    if action == "ready":
        return {"version": helm_sdkpy.get_version()}
    if action == "lint":
        return await helm_sdkpy.Lint(config).run(request["chart"])
    if action == "install":
        return await helm_sdkpy.Install(config).run(
            request["release"],
            request["chart"],
            values=request.get("values") or {},
            wait=False,
            timeout=20,
            take_ownership=request.get("take_ownership", False),
        )
    if action == "upgrade":
        return await helm_sdkpy.Upgrade(config).run(
            request["release"],
            request["chart"],
            values=request.get("values") or {},
            wait=False,
            timeout=20,
            server_side_apply=False,
        )
    if action == "uninstall":
        return await helm_sdkpy.Uninstall(config).run(
            request["release"], wait=request.get("wait", False), timeout=20
        )
    if action == "list":
        return {"releases": await helm_sdkpy.List(config).run(all=True) or []}
    raise ValueError(f"unknown action {action!r}")


if __name__ == "__main__":
    main(sys.argv[1])
