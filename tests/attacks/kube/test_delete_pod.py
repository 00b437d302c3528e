"""DeletePod against kmock's Kubernetes emulator over HTTP, through the official client."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import kmock
import pytest
import yaml

from chaosmonkey.attacks import AttackError
from chaosmonkey.attacks import delete_pod as delete_pod_module
from chaosmonkey.attacks.delete_pod import (
    kubernetes_api_client,
    parse_duration,
    parse_label_selector,
    set_api_client_factory,
)
from tests.attacks.kube.conftest import MakeAttack
from tests.support.kube import PDB_REFUSAL, KubeEmulator


def seed_bystanders(kube: KubeEmulator) -> set[str]:
    """Pods matching app=web that must never be touched; returns their names in chaos."""
    kube.add_pod("other", "web-elsewhere", labels={"app": "web"})
    kube.add_pod("chaos", "web-pending", labels={"app": "web"}, phase="Pending")
    kube.add_pod("chaos", "web-done", labels={"app": "web"}, phase="Succeeded")
    kube.add_pod("chaos", "web-young", labels={"app": "web"}, age_seconds=30)
    kube.add_pod("chaos", "web-going", labels={"app": "web"}, deleting=True)
    kube.add_pod("chaos", "api-1", labels={"app": "api"})
    return {"web-pending", "web-done", "web-young", "web-going", "api-1"}


# -- what is chosen --------------------------------------------------------------------------------


def test_only_running_old_enough_matching_pods_of_the_plans_namespace_are_evicted(
    kube: KubeEmulator, make_attack: MakeAttack
) -> None:
    bystanders = seed_bystanders(kube)
    for name in ("web-1", "web-2"):
        kube.add_pod("chaos", name, labels={"app": "web"})

    result = make_attack(labelSelector="app=web", minAge="5m", percent=100).run()

    assert sorted(result["evicted"]) == ["chaos/web-1", "chaos/web-2"]
    assert sorted(kube.evictions) == [("chaos", "web-1"), ("chaos", "web-2")]
    assert kube.pod_names("chaos") == bystanders
    assert kube.pod_names("other") == {"web-elsewhere"}
    assert result["message"].startswith("evicted chaos/web-")


def test_count_picks_that_many(kube: KubeEmulator, make_attack: MakeAttack) -> None:
    for index in range(5):
        kube.add_pod("chaos", f"web-{index}", labels={"app": "web"})

    result = make_attack(labelSelector="app=web", count=2).run()

    assert len(result["evicted"]) == 2
    assert len(kube.pod_names("chaos")) == 3


def test_percent_is_rounded_up(kube: KubeEmulator, make_attack: MakeAttack) -> None:
    for index in range(3):
        kube.add_pod("chaos", f"web-{index}", labels={"app": "web"})

    result = make_attack(labelSelector="app=web", percent=50).run()

    assert len(result["evicted"]) == 2  # ceil(1.5)


def test_the_default_is_one_pod(kube: KubeEmulator, make_attack: MakeAttack) -> None:
    for index in range(3):
        kube.add_pod("chaos", f"web-{index}", labels={"app": "web"})

    assert len(make_attack(labelSelector="app=web").run()["evicted"]) == 1


def test_set_based_selectors_and_field_selectors_are_honoured(
    kube: KubeEmulator, make_attack: MakeAttack
) -> None:
    # kmock ignores selectors in list requests: DeletePod checks the answer itself too.
    kube.add_pod("chaos", "web-1", labels={"app": "web"}, node_name="node-2")
    kube.add_pod("chaos", "api-1", labels={"app": "api"}, node_name="node-2")
    kube.add_pod("chaos", "web-canary", labels={"app": "web", "canary": "true"}, node_name="node-2")
    kube.add_pod("chaos", "web-2", labels={"app": "web"}, node_name="node-1")
    kube.add_pod("chaos", "db-1", labels={"app": "db"}, node_name="node-2")

    result = make_attack(
        labelSelector="app in (web, api),!canary", fieldSelector="spec.nodeName=node-2", percent=100
    ).run()

    assert sorted(result["evicted"]) == ["chaos/api-1", "chaos/web-1"]
    listing = next(r for r in kube.emulator if r.method == kmock.method.GET and r.url.path.endswith("/pods"))
    assert listing.params["labelSelector"] == "app in (web, api),!canary"
    assert listing.params["fieldSelector"] == "spec.nodeName=node-2"


def test_no_candidate_fails_and_touches_nothing(kube: KubeEmulator, make_attack: MakeAttack) -> None:
    bystanders = seed_bystanders(kube)

    with pytest.raises(
        AttackError, match=r"no running pod matched labelSelector 'app=web' in namespace chaos"
    ):
        make_attack(labelSelector="app=web", minAge=300).run()

    assert kube.pod_names("chaos") == bystanders
    assert kube.writes() == []


# -- evictions and deletions -----------------------------------------------------------------------


def test_a_refused_eviction_is_reported_and_not_forced(kube: KubeEmulator, make_attack: MakeAttack) -> None:
    kube.add_pod("chaos", "web-1", labels={"app": "web"})
    kube.add_pod("chaos", "web-2", labels={"app": "web"})
    kube.refuse_evictions("chaos", "web-2")

    result = make_attack(labelSelector="app=web", percent=100).run()

    assert result["evicted"] == ["chaos/web-1"]
    assert result["refused"] == [{"pod": "chaos/web-2", "reason": f"429 Too Many Requests: {PDB_REFUSAL}"}]
    assert "eviction refused for chaos/web-2" in result["message"]
    assert kube.pod_names("chaos") == {"web-2"}
    assert not any(write.startswith("DELETE") for write in kube.writes())


def test_all_evictions_refused_is_a_failure(kube: KubeEmulator, make_attack: MakeAttack) -> None:
    kube.add_pod("chaos", "web-1", labels={"app": "web"})
    kube.refuse_evictions("chaos", "web-1")

    with pytest.raises(AttackError, match=r"eviction refused for chaos/web-1 \(429 .*disruption budget"):
        make_attack(labelSelector="app=web").run()

    assert kube.pod_names("chaos") == {"web-1"}
    assert kube.events() == []


def test_delete_mode_deletes_outright(kube: KubeEmulator, make_attack: MakeAttack) -> None:
    kube.add_pod("chaos", "web-1", labels={"app": "web"})
    kube.refuse_evictions("chaos", "web-1")  # a budget does not stop a plain delete

    result = make_attack(labelSelector="app=web", mode="delete", gracePeriodSeconds=0).run()

    assert result == {"message": "deleted chaos/web-1", "deleted": ["chaos/web-1"]}
    assert kube.pod_names("chaos") == set()
    assert kube.evictions == []
    deletion = next(r for r in kube.emulator if r.method == kmock.method.DELETE)
    assert deletion.url.path == "/api/v1/namespaces/chaos/pods/web-1"
    assert deletion.data["gracePeriodSeconds"] == 0


def test_the_grace_period_goes_with_the_eviction(kube: KubeEmulator, make_attack: MakeAttack) -> None:
    kube.add_pod("chaos", "web-1", labels={"app": "web"})

    make_attack(labelSelector="app=web", gracePeriodSeconds=5).run()

    eviction = next(r for r in kube.emulator if r.url.path.endswith("/eviction"))
    assert eviction.data["kind"] == "Eviction"
    assert eviction.data["metadata"] == {"name": "web-1", "namespace": "chaos"}
    assert eviction.data["deleteOptions"]["gracePeriodSeconds"] == 5


# -- namespaces ------------------------------------------------------------------------------------


def test_another_namespace_needs_to_be_allowed(kube: KubeEmulator, make_attack: MakeAttack) -> None:
    kube.add_pod("other", "web-1", labels={"app": "web"})

    with pytest.raises(AttackError, match="namespace other is not allowed for a plan in namespace chaos"):
        make_attack(labelSelector="app=web", namespace="other").run()
    assert kube.pod_names("other") == {"web-1"}
    assert list(kube.emulator) == []  # refused before any request

    result = make_attack(
        labelSelector="app=web", namespace="other", allowed_namespaces=frozenset({"other"})
    ).run()
    assert result["evicted"] == ["other/web-1"]


# -- events ----------------------------------------------------------------------------------------


def test_an_event_is_posted_on_the_deployment(kube: KubeEmulator, make_attack: MakeAttack) -> None:
    kube.add_pod("chaos", "web-1", labels={"app": "web"}, owner=kube.add_deployment("chaos", "web"))

    make_attack(labelSelector="app=web").run()

    (event,) = kube.events("chaos")
    assert event["involvedObject"]["kind"] == "Deployment"
    assert event["involvedObject"]["name"] == "web"
    assert event["involvedObject"]["namespace"] == "chaos"
    assert event["reason"] == "ChaosPodEvicted"
    assert event["type"] == "Warning"
    assert event["source"] == {"component": "chaosmonkey-operator"}
    assert "evicted pod web-1" in event["message"] and "chaos/plan" in event["message"]


@pytest.mark.parametrize("readable", [True, False])
def test_without_a_readable_deployment_the_event_goes_to_the_direct_owner(
    kube: KubeEmulator, make_attack: MakeAttack, readable: bool
) -> None:
    owner = kube.add_replica_set("chaos", "batch-rs")
    if not readable:
        owner = dict(owner, name="vanished-rs")
    kube.add_pod("chaos", "web-1", labels={"app": "web"}, owner=owner)

    make_attack(labelSelector="app=web", mode="delete").run()

    (event,) = kube.events("chaos")
    assert event["involvedObject"]["kind"] == "ReplicaSet"
    assert event["involvedObject"]["name"] == owner["name"]
    assert event["reason"] == "ChaosPodDeleted"


def test_a_bare_pod_gets_the_event_itself(kube: KubeEmulator, make_attack: MakeAttack) -> None:
    pod = kube.add_pod("chaos", "web-1", labels={"app": "web"})

    make_attack(labelSelector="app=web").run()

    (event,) = kube.events("chaos")
    assert event["involvedObject"]["kind"] == "Pod"
    assert event["involvedObject"]["name"] == "web-1"
    assert event["involvedObject"]["uid"] == pod["metadata"]["uid"]


def test_a_failed_event_is_logged_not_fatal(
    kube: KubeEmulator, make_attack: MakeAttack, caplog: pytest.LogCaptureFixture
) -> None:
    kube.add_pod("chaos", "web-1", labels={"app": "web"})
    kube.emulator[kmock.method.POST, re.compile(r"/api/v1/namespaces/[^/]+/events")] << 403

    with caplog.at_level(logging.WARNING, logger="chaosmonkey"):
        result = make_attack(labelSelector="app=web").run()

    assert result["evicted"] == ["chaos/web-1"]
    assert "could not post an event about pod chaos/web-1: 403" in caplog.text


# -- dry run ---------------------------------------------------------------------------------------


def test_a_dry_run_lists_the_victims_and_changes_nothing(kube: KubeEmulator, make_attack: MakeAttack) -> None:
    bystanders = seed_bystanders(kube)
    kube.add_pod("chaos", "web-1", labels={"app": "web"})
    kube.add_pod("chaos", "web-2", labels={"app": "web"})

    result = make_attack(labelSelector="app=web", minAge="5m", percent=100, dry_run=True).run()

    assert sorted(result["pods"]) == ["chaos/web-1", "chaos/web-2"]
    assert result["message"].startswith("dry run: would evict chaos/web-")
    assert kube.writes() == []
    assert kube.pod_names("chaos") == bystanders | {"web-1", "web-2"}


# -- parsing and the client ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "seconds"),
    [(0, 0), (90, 90), ("90", 90), ("45s", 45), ("5m", 300), ("1h30m", 5400), ("2d", 172800)],
)
def test_durations(value: int | str, seconds: float) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize("selector", ["=web", "app in web", "a b c", ",", "app==(x)", "app=a b"])
def test_invalid_label_selectors_are_refused(selector: str) -> None:
    with pytest.raises(AttackError, match="labelSelector"):
        parse_label_selector(selector)


def test_label_selector_semantics() -> None:
    def matches(selector: str, labels: dict[str, str]) -> bool:
        pod = {"metadata": {"labels": labels}}
        return all(requirement(pod) for requirement in parse_label_selector(selector))

    assert matches("app=web,tier!=db", {"app": "web"})
    assert matches("app=", {"app": ""})  # an empty value is a value
    assert matches("app==web,tier notin (db, cache)", {"app": "web", "tier": "front"})
    assert not matches("app=web,tier notin (db, cache)", {"app": "web", "tier": "db"})
    assert matches("example.com/team,!canary", {"example.com/team": "a"})
    assert not matches("example.com/team", {"team": "a"})


def test_the_default_client_comes_from_the_kubeconfig(
    kube: KubeEmulator, make_attack: MakeAttack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "kmock", "cluster": {"server": kube.url}}],
                "users": [{"name": "tester", "user": {"token": "t"}}],
                "contexts": [{"name": "kmock", "context": {"cluster": "kmock", "user": "tester"}}],
                "current-context": "kmock",
            }
        )
    )
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setattr(delete_pod_module, "_default_api_client", None)
    set_api_client_factory(None)
    kube.add_pod("chaos", "web-1", labels={"app": "web"})

    assert kubernetes_api_client() is kubernetes_api_client()  # built once
    assert make_attack(labelSelector="app=web").run()["evicted"] == ["chaos/web-1"]
