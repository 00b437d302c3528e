"""The operator end to end: real kopf, real HTTP, the embedded API server, a real attack target."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from tests.support.http_target import HTTPTarget
from tests.support.operator import Cluster, OperatorThread, in_seconds, wait_for


def api_request_spec(target: HTTPTarget, due: str, path: str = "/chaos", **extra: Any) -> dict[str, Any]:
    return {
        "planner": {"ref": "exact_planner:ExactPlanner", "args": {"date": due}},
        "attack": {
            "ref": "api_request:ApiRequest",
            "args": {"endpoint": f"{target.url}{path}", "method": "POST"},
        },
        **extra,
    }


def finished(status: dict[str, Any]) -> bool:
    return status.get("phase") == "Completed"


def test_an_attack_fires_once_on_time_and_succeeds(
    cluster: Cluster, operator: OperatorThread, target: HTTPTarget
) -> None:
    due = in_seconds(2)
    cluster.create_plan("ping", api_request_spec(target, due))
    scheduled = cluster.wait_for_status("ping", lambda s: s.get("phase") == "Scheduled")
    assert scheduled["nextAttackTime"] == due
    assert scheduled["executors"][0]["state"] == "Pending"
    status = cluster.wait_for_status("ping", finished)
    [executor] = status["executors"]
    assert executor["state"] == "Succeeded"
    assert executor["scheduledTime"] == due
    assert executor["message"].startswith('{"status":200,"latencyMs":')
    assert status["summary"]["succeeded"] == 1
    assert status["observedGeneration"] == 1
    [request] = target.requests
    assert (request.method, request.path) == ("POST", "/chaos")
    reasons = wait_for(
        lambda: (
            [r for _, r, _ in cluster.events_for("ping")] if len(cluster.events_for("ping")) >= 3 else None
        ),
        what="events",
    )
    assert reasons == ["Planned", "AttackStarted", "AttackSucceeded"]


def test_a_failing_attack_ends_failed_with_the_error(
    cluster: Cluster, operator: OperatorThread, target: HTTPTarget
) -> None:
    target.respond(503)
    cluster.create_plan("broken-target", api_request_spec(target, in_seconds(1)))
    status = cluster.wait_for_status("broken-target", finished)
    [executor] = status["executors"]
    assert executor["state"] == "Failed"
    assert "answered 503, expected 2xx" in executor["message"]
    assert status["summary"]["failed"] == 1
    wait_for(
        lambda: ("Warning", "AttackFailed") in [(t, r) for t, r, _ in cluster.events_for("broken-target")],
        what="AttackFailed event",
    )


def test_an_invalid_plan_is_reported_and_others_keep_working(
    cluster: Cluster, operator: OperatorThread, target: HTTPTarget
) -> None:
    cluster.create_plan(
        "bad",
        {
            "planner": {"ref": "exact_planner:ExactPlanner", "args": {"date": "someday"}},
            "attack": {"ref": "api_request:ApiRequest", "args": {"method": "POST"}},
        },
    )
    status = cluster.wait_for_status("bad", lambda s: s.get("phase") == "Invalid")
    assert status["message"] == (
        "spec.attack.args.endpoint: 'endpoint' is a required property; "
        "spec.planner.args.date: invalid date 'someday': use ISO 8601, e.g. \"2026-06-21T15:30\" or "
        '"2026-06-21T15:30:00+02:00"'
    )
    assert status["conditions"][0]["status"] == "False"
    wait_for(
        lambda: ("Warning", "InvalidSpec") in [(t, r) for t, r, _ in cluster.events_for("bad")],
        what="InvalidSpec event",
    )
    cluster.create_plan("good", api_request_spec(target, in_seconds(1)))
    assert cluster.wait_for_status("good", finished)["executors"][0]["state"] == "Succeeded"


def test_editing_the_spec_cancels_pending_executors_and_plans_again(
    cluster: Cluster, operator: OperatorThread, target: HTTPTarget
) -> None:
    cluster.create_plan("moved", api_request_spec(target, in_seconds(3600), path="/old"))
    cluster.wait_for_status("moved", lambda s: s.get("phase") == "Scheduled")
    cluster.patch_spec("moved", api_request_spec(target, in_seconds(1), path="/new"))
    status = cluster.wait_for_status("moved", finished)
    assert [(e["name"], e["state"]) for e in status["executors"]] == [
        ("moved-1", "Cancelled"),
        ("moved-2", "Succeeded"),
    ]
    assert status["observedGeneration"] == 2
    assert [r.path for r in target.requests] == ["/new"]


def test_a_plan_deleted_before_its_time_never_fires(
    cluster: Cluster, operator: OperatorThread, target: HTTPTarget
) -> None:
    due = in_seconds(2)
    cluster.create_plan("doomed", api_request_spec(target, due))
    cluster.wait_for_status("doomed", lambda s: s.get("phase") == "Scheduled")
    cluster.delete_plan("doomed")
    # A canary plan due a second later fires; by then the deleted one would have too.
    cluster.create_plan("canary", api_request_spec(target, in_seconds(3), path="/canary"))
    cluster.wait_for_status("canary", finished)
    assert [r.path for r in target.requests] == ["/canary"]


def test_dry_run_changes_nothing_and_says_what_it_would_do(
    cluster: Cluster, operator: OperatorThread, target: HTTPTarget
) -> None:
    cluster.create_plan("rehearsal", api_request_spec(target, in_seconds(1), dryRun=True))
    [executor] = cluster.wait_for_status("rehearsal", finished)["executors"]
    assert executor["state"] == "Succeeded"
    assert executor["dryRun"] is True
    assert executor["message"].startswith(f"dry run: would send POST {target.url}/chaos")
    assert target.requests == []


def test_catalog_configmap_and_metrics(
    cluster: Cluster, operator: OperatorThread, target: HTTPTarget
) -> None:
    configmap = wait_for(
        lambda: next(
            iter(
                cluster.core.list_namespaced_config_map(
                    "default", field_selector="metadata.name=chaosmonkey-catalog"
                ).items
            ),
            None,
        ),
        what="catalog ConfigMap",
    )
    catalog = json.loads(configmap.data["catalog.json"])
    assert {p["ref"] for p in catalog["planners"]} >= {
        "exact_planner:ExactPlanner",
        "cron_planner:CronPlanner",
    }
    assert "delete_pod:DeletePod" in {a["ref"] for a in catalog["attacks"]}
    assert catalog["problems"] == []
    cluster.create_plan("measured", api_request_spec(target, in_seconds(1)))
    cluster.wait_for_status("measured", finished)
    url = f"http://127.0.0.1:{operator.settings.health_port}"

    def metric_values() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        with urllib.request.urlopen(f"{url}/metrics", timeout=2) as answer:
            text = answer.read().decode()
        return {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
        }

    values = wait_for(
        lambda: (
            (v := metric_values())
            and v.get(
                ("chaosmonkey_attacks_total", (("attack", "api_request:ApiRequest"), ("result", "succeeded")))
            )
            and v
        ),
        what="the attack counted",
    )
    assert values[("chaosmonkey_plans", (("phase", "Completed"),))] == 1
    assert values[("chaosmonkey_firing_lateness_seconds_count", ())] == 1
    with urllib.request.urlopen(f"{url}/healthz", timeout=2) as answer:
        assert json.load(answer) == {"status": "ok", "leading": True}


def test_the_operator_never_touches_what_users_manage(
    cluster: Cluster, operator: OperatorThread, target: HTTPTarget
) -> None:
    # GitOps: after a whole lifecycle the stored spec, labels, annotations and finalizers are
    # exactly what was applied, so Argo CD or Flux see no drift.
    created = cluster.create_plan("gitops", api_request_spec(target, in_seconds(1)))
    cluster.custom.patch_namespaced_custom_object(
        "chaosmonkey.io",
        "v1alpha1",
        "default",
        "chaosplans",
        "gitops",
        {"metadata": {"labels": {"team": "sre"}, "annotations": {"argocd.argoproj.io/sync-wave": "1"}}},
    )
    cluster.wait_for_status("gitops", finished)
    stored = cluster.get_plan("gitops")
    assert stored is not None
    assert stored["spec"] == created["spec"]
    assert stored["metadata"]["generation"] == created["metadata"]["generation"]
    assert stored["metadata"].get("labels") == {"team": "sre"}
    assert stored["metadata"].get("annotations") == {"argocd.argoproj.io/sync-wave": "1"}
    assert not stored["metadata"].get("finalizers")
