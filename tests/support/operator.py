"""The real operator and the embedded API server, for end-to-end tests.

``OperatorThread`` runs :func:`chaosmonkey.app.run_operator` (kopf and all) on its own event loop
in a background thread, against a kubeconfig; ``Cluster`` wraps the embedded API server with the
project's CRD and a few helpers to create, read and wait for ChaosPlans with the official client.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from chaosmonkey.app import run_operator
from chaosmonkey.sandbox.apiserver.server import APIServer, ServerThread
from chaosmonkey.settings import OperatorSettings

ROOT = Path(__file__).resolve().parents[2]
GROUP, VERSION, PLURAL = "chaosmonkey.io", "v1alpha1", "chaosplans"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(
    condition: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05, what: str = ""
) -> Any:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or condition}")
        time.sleep(interval)


def in_seconds(seconds: float) -> str:
    """An RFC 3339 UTC instant ``seconds`` from now, whole seconds (for ExactPlanner dates)."""
    moment = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds)
    return moment.replace(microsecond=0).isoformat().replace("+00:00", "Z")


class Cluster:
    """The embedded API server with the ChaosPlan CRD, and a kubeconfig for it."""

    def __init__(self, directory: Path) -> None:
        self.thread = ServerThread(APIServer(crds_dir=ROOT / "crds", auto_create_namespaces=True))
        self.kubeconfig = directory / "kubeconfig"

    def start(self) -> Cluster:
        self.thread.start()
        self.thread.server.write_kubeconfig(self.kubeconfig)
        configuration = client.Configuration()
        configuration.host = self.thread.url
        self.api_client = client.ApiClient(configuration)
        self.custom = client.CustomObjectsApi(self.api_client)
        self.core = client.CoreV1Api(self.api_client)
        return self

    def stop(self) -> None:
        self.api_client.close()
        self.thread.stop()

    @property
    def server(self) -> APIServer:
        return self.thread.server

    # -- ChaosPlans ----------------------------------------------------------------------------

    def create_plan(self, name: str, spec: dict[str, Any], namespace: str = "default") -> dict[str, Any]:
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "ChaosPlan",
            "metadata": {"name": name, "namespace": namespace},
            "spec": spec,
        }
        created: dict[str, Any] = self.custom.create_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, body
        )
        return created

    def get_plan(self, name: str, namespace: str = "default") -> dict[str, Any] | None:
        try:
            plan: dict[str, Any] = self.custom.get_namespaced_custom_object(
                GROUP, VERSION, namespace, PLURAL, name
            )
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return plan

    def patch_spec(self, name: str, spec: dict[str, Any], namespace: str = "default") -> dict[str, Any]:
        patched: dict[str, Any] = self.custom.patch_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, name, {"spec": spec}
        )
        return patched

    def patch_status(self, name: str, status: dict[str, Any], namespace: str = "default") -> None:
        self.custom.patch_namespaced_custom_object_status(
            GROUP, VERSION, namespace, PLURAL, name, {"status": status}
        )

    def delete_plan(self, name: str, namespace: str = "default") -> None:
        self.custom.delete_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)

    def wait_for_status(
        self,
        name: str,
        condition: Callable[[dict[str, Any]], bool],
        timeout: float = 15.0,
        namespace: str = "default",
    ) -> dict[str, Any]:
        """The plan's status once ``condition(status)`` holds."""

        def check() -> dict[str, Any] | None:
            plan = self.get_plan(name, namespace)
            status = (plan or {}).get("status") or {}
            return status if status and condition(status) else None

        result: dict[str, Any] = wait_for(check, timeout, what=f"status of {namespace}/{name}")
        return result

    def events_for(self, name: str, namespace: str = "default") -> list[tuple[str, str, str]]:
        """(type, reason, message) of the Events about a plan, oldest first."""
        events = self.core.list_namespaced_event(namespace).items
        return [
            (e.type, e.reason, e.message)
            for e in events
            if e.involved_object is not None
            and e.involved_object.name == name
            and e.involved_object.kind == "ChaosPlan"
        ]


@dataclasses.dataclass
class OperatorThread:
    """One operator replica (the real ``chaosmonkey run`` code path) in a background thread."""

    kubeconfig: Path
    settings: OperatorSettings = dataclasses.field(
        default_factory=lambda: OperatorSettings(
            leader_election=False, health_address="127.0.0.1", health_port=free_port()
        )
    )

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="chaosmonkey-operator", daemon=True)

    def _main(self) -> None:
        try:
            asyncio.run(
                run_operator(
                    self.settings,
                    kubeconfig=str(self.kubeconfig),
                    stop_flag=self._stop,
                    ready_flag=self._ready,
                )
            )
        except BaseException as exc:  # reported by stop()
            self._error = exc
            self._ready.set()

    def start(self, timeout: float = 20.0) -> OperatorThread:
        self._thread.start()
        if not self._ready.wait(timeout):
            raise AssertionError("the operator did not become ready")
        if self._error is not None:
            raise AssertionError(f"the operator failed to start: {self._error!r}")
        return self

    def stop(self, timeout: float = 20.0) -> None:
        self._stop.set()
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise AssertionError("the operator did not stop")
        if self._error is not None:
            raise AssertionError(f"the operator failed: {self._error!r}")
