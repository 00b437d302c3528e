"""Two replicas, one Lease: exactly one leads, and every attack fires once across a handover."""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any

from kubernetes import client

from chaosmonkey.settings import OperatorSettings
from tests.support.http_target import HTTPTarget
from tests.support.operator import Cluster, OperatorThread, free_port, in_seconds, wait_for

from .test_e2e import api_request_spec, finished


def replica(cluster: Cluster) -> OperatorThread:
    # Short Lease timings keep the test fast; the protocol is the same at the defaults.
    settings = OperatorSettings(
        leader_election=True,
        health_address="127.0.0.1",
        health_port=free_port(),
        lease_duration_seconds=3.0,
        lease_renew_deadline_seconds=2.0,
        lease_retry_period_seconds=0.5,
    )
    return OperatorThread(cluster.kubeconfig, settings).start()


def leading(operator: OperatorThread) -> bool:
    url = f"http://127.0.0.1:{operator.settings.health_port}/healthz"
    with urllib.request.urlopen(url, timeout=2) as answer:
        health: dict[str, Any] = json.load(answer)
    return bool(health["leading"])


def test_one_leader_and_every_attack_fires_once_across_a_handover(
    cluster: Cluster, target: HTTPTarget
) -> None:
    first, second = replica(cluster), replica(cluster)
    stopped: list[OperatorThread] = []
    try:
        leader = wait_for(lambda: next((r for r in (first, second) if leading(r)), None), what="a leader")
        standby = second if leader is first else first
        assert not leading(standby), "only one replica leads"
        # Slow answers: the leader is stopped while an attack is in flight, whose result must be
        # stored before the Lease is handed over (else the next leader rightly says Interrupted).
        target.respond(200, delay=0.5)
        for number in range(6):  # due one after another, across the handover
            cluster.create_plan(
                f"wave-{number}", api_request_spec(target, in_seconds(2 + number), path=f"/wave-{number}")
            )
        target.wait_for_requests(2, timeout=15)
        leader.stop()  # the leader goes away mid-schedule; it releases the Lease as it stops
        stopped.append(leader)
        wait_for(lambda: leading(standby), timeout=10, what="the standby to take over")
        for number in range(6):
            status = cluster.wait_for_status(f"wave-{number}", finished, timeout=20)
            assert [e["state"] for e in status["executors"]] == ["Succeeded"], status
    finally:
        for operator in (first, second):
            if operator not in stopped:
                operator.stop()
    paths = sorted(request.path for request in target.requests)
    assert paths == [f"/wave-{number}" for number in range(6)], "every attack fired exactly once"
    lease = client.CoordinationV1Api(cluster.api_client).read_namespaced_lease(
        "chaosmonkey-operator", "default"
    )
    assert lease.spec.lease_transitions >= 1, "the Lease changed hands"


def test_a_leader_that_cannot_renew_stops_before_anyone_else_leads(
    cluster: Cluster, target: HTTPTarget
) -> None:
    first, second = replica(cluster), replica(cluster)
    try:
        leader = wait_for(lambda: next((r for r in (first, second) if leading(r)), None), what="a leader")
        for number in range(4):
            cluster.create_plan(
                f"tide-{number}", api_request_spec(target, in_seconds(3 + 2 * number), path=f"/tide-{number}")
            )
        # The API refuses every Lease update (an API outage for leases, or a partition).
        cluster.server.faults.add(
            method="PUT", path_regex=r".*/leases/chaosmonkey-operator$", status=500, times=None
        )
        both_leading = []
        lost_at = time.monotonic()

        def leader_stepped_down() -> bool:
            states = (leading(first), leading(second))
            both_leading.append(all(states))
            return not any(states)

        wait_for(
            leader_stepped_down,
            timeout=leader.settings.lease_renew_deadline_seconds + 3,
            interval=0.05,
            what="the leader to step down",
        )
        assert time.monotonic() - lost_at < leader.settings.lease_duration_seconds + 1
        cluster.server.faults.clear()

        def someone_leads() -> bool:
            states = (leading(first), leading(second))
            both_leading.append(all(states))
            return any(states)

        wait_for(someone_leads, timeout=10, interval=0.05, what="a new leader")
        for number in range(4):
            status = cluster.wait_for_status(f"tide-{number}", finished, timeout=30)
            assert [e["state"] for e in status["executors"]] == ["Succeeded"], status
        assert not any(both_leading), "two replicas never lead at once"
    finally:
        first.stop()
        second.stop()
    paths = sorted(request.path for request in target.requests)
    assert paths == [f"/tide-{number}" for number in range(4)], "every attack fired exactly once"
