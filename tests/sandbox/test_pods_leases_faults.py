"""Semantics 7-9: evictions and PodDisruptionBudgets, leader election on Leases, fault injection."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import kubernetes
import requests
from kubernetes.leaderelection import electionconfig, leaderelection
from kubernetes.leaderelection.resourcelock.leaselock import LeaseLock

from chaosmonkey.sandbox.apiserver import APIServer, ServerThread

from .helpers import GROUP, PLURAL, VERSION, api_error, wait_for, widget


def _pod(name: str, phase: str = "Running") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": "i"}]}, "status": {"phase": phase}}


def _eviction(name: str) -> dict[str, Any]:
    return {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name, "namespace": "default"}}


def _setup(client: Any, core: Any, budget: dict[str, int]) -> None:
    policy = kubernetes.client.PolicyV1Api(client)
    policy.create_namespaced_pod_disruption_budget("default", {
        "metadata": {"name": "web"}, "spec": {"selector": {"matchLabels": {"app": "web"}}, **budget}})
    for name in ("a", "b", "c"):
        core.create_namespaced_pod("default", _pod(name))
    core.create_namespaced_pod("default", _pod("pending", phase="Pending"))


def _refused(core: Any, name: str) -> None:
    status, body = api_error(lambda: core.create_namespaced_pod_eviction(name, "default", _eviction(name)))
    assert status == 429 and body["reason"] == "TooManyRequests"
    assert body["message"] == "Cannot evict pod as it would violate the pod's disruption budget."
    assert body["details"]["causes"][0]["reason"] == "DisruptionBudget"


def test_eviction_respects_min_available(client: Any, core: Any) -> None:
    _setup(client, core, {"minAvailable": 2})
    core.create_namespaced_pod_eviction("pending", "default", _eviction("pending"))  # not Running: allowed
    core.create_namespaced_pod_eviction("a", "default", _eviction("a"))
    _refused(core, "b")
    assert {pod.metadata.name for pod in core.list_namespaced_pod("default").items} == {"b", "c"}


def test_eviction_respects_max_unavailable(client: Any, core: Any) -> None:
    _setup(client, core, {"maxUnavailable": 1})  # the Pending pod already is the one unavailable
    _refused(core, "a")
    core.create_namespaced_pod_eviction("pending", "default", _eviction("pending"))
    core.create_namespaced_pod_eviction("a", "default", _eviction("a"))
    assert {pod.metadata.name for pod in core.list_namespaced_pod("default").items} == {"b", "c"}


def test_namespaces_can_be_auto_created() -> None:
    with ServerThread(APIServer(auto_create_namespaces=True)) as runner:
        response = requests.post(f"{runner.url}/api/v1/namespaces/fresh/configmaps",
                                 json={"metadata": {"name": "c"}}, timeout=5)
        assert response.status_code == 201
        assert requests.get(f"{runner.url}/api/v1/namespaces/fresh", timeout=5).status_code == 200


class _StoppableLeaseLock(LeaseLock):  # type: ignore[misc]
    """A LeaseLock that stops talking to the server once the test is over."""

    def __init__(self, name: str, namespace: str, identity: str, api_client: Any,
                 stopped: threading.Event) -> None:
        super().__init__(name, namespace, identity)
        self.api_instance = kubernetes.client.CoordinationV1Api(api_client)
        self.stopped = stopped

    def get(self, name: str, namespace: str) -> Any:
        if self.stopped.is_set():
            return False, kubernetes.client.ApiException(status=500, reason="test over")
        return super().get(name, namespace)


def test_leader_election_on_leases_has_one_leader(runner: ServerThread, client: Any) -> None:
    leaders: list[str] = []
    stopped = threading.Event()
    for identity in ("candidate-1", "candidate-2"):
        lock = _StoppableLeaseLock("election", "default", identity, client, stopped)
        config = electionconfig.Config(lock, lease_duration=17, renew_deadline=15, retry_period=1,
                                       onstarted_leading=lambda who=identity: leaders.append(who),
                                       onstopped_leading=lambda: None)
        threading.Thread(target=leaderelection.LeaderElection(config).run, daemon=True).start()
    try:
        wait_for(lambda: leaders)
        pattern = "/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/{name}"
        # Both candidates keep reading the lease; by a few retries each the follower has had its chances.
        wait_for(lambda: runner.server.requests.count("GET", pattern) >= 6, timeout=15)
        lease = kubernetes.client.CoordinationV1Api(client).read_namespaced_lease("election", "default")
        assert leaders == [lease.spec.holder_identity]
    finally:
        stopped.set()


def test_fault_injection_errors_and_delays(runner: ServerThread, custom: Any) -> None:
    custom.create_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, widget("w"))
    url = f"{runner.url}/apis/{GROUP}/{VERSION}/namespaces/default/{PLURAL}/w/status"
    runner.server.faults.add(method="PATCH", path_regex=r".*/status$", status=503, times=2, retry_after=1)
    headers = {"Content-Type": "application/merge-patch+json"}
    answers = [requests.patch(url, json={"status": {"phase": "x"}}, headers=headers, timeout=5) for _ in range(3)]
    assert [answer.status_code for answer in answers] == [503, 503, 200]
    assert answers[0].headers["Retry-After"] == "1" and answers[0].json()["kind"] == "Status"
    pattern = "/apis/example.com/v1/namespaces/{namespace}/widgets/{name}/status"
    assert runner.server.requests.count("PATCH", pattern) == 3
    runner.server.faults.add(method="GET", status=None, delay=0.2)
    started = time.monotonic()
    assert requests.get(url, timeout=5).status_code == 200
    assert time.monotonic() - started >= 0.2


def test_drop_watches_and_compacted_history(runner: ServerThread, custom: Any) -> None:
    created = custom.create_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, widget("w"))
    url = f"{runner.url}/apis/{GROUP}/{VERSION}/namespaces/default/{PLURAL}"
    started = time.monotonic()
    with requests.get(url, params={"watch": "true", "timeoutSeconds": "30"}, stream=True, timeout=10) as response:
        lines = response.iter_lines()
        assert json.loads(next(lines))["type"] == "ADDED"
        runner.server.drop_watches()
        assert [line for line in lines if line] == []
    assert time.monotonic() - started < 10
    custom.patch_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "w", {"spec": {"replicas": 2}})
    runner.server.compact_history()
    with requests.get(url, params={"watch": "true", "resourceVersion": created["metadata"]["resourceVersion"]},
                      stream=True, timeout=10) as response:
        event = json.loads(next(response.iter_lines()))
    assert event["type"] == "ERROR" and event["object"]["code"] == 410
