"""examples/delete-pod.yaml is a valid ChaosPlan, and its attack runs as written."""

from __future__ import annotations

from pathlib import Path

import yaml

from chaosmonkey.attacks import AttackContext
from chaosmonkey.attacks.delete_pod import DeletePod
from chaosmonkey.registry import PluginRegistry
from chaosmonkey.validation import validate_manifest
from tests.support.kube import KubeEmulator

EXAMPLE = Path(__file__).parents[3] / "examples" / "delete-pod.yaml"


def test_the_example_is_a_valid_chaosplan(registry: PluginRegistry) -> None:
    assert validate_manifest(yaml.safe_load(EXAMPLE.read_text()), registry) == []


def test_the_examples_attack_runs_as_written(kube: KubeEmulator, registry: PluginRegistry) -> None:
    manifest = yaml.safe_load(EXAMPLE.read_text())
    owner = kube.add_deployment("chaos", "web")
    kube.add_pod("chaos", "web-old", labels={"app": "web"}, owner=owner, age_seconds=3600)
    kube.add_pod("chaos", "web-new", labels={"app": "web"}, owner=owner, age_seconds=60)
    info = registry.get("attack", manifest["spec"]["attack"]["ref"])
    assert info is not None
    attack: DeletePod = info.cls(manifest["spec"]["attack"])
    attack.context = AttackContext(plan_name="delete-pod", namespace=manifest["metadata"]["namespace"])

    result = attack.run()

    assert result["evicted"] == ["chaos/web-old"]
    assert kube.pod_names("chaos") == {"web-new"}
    assert [event["reason"] for event in kube.events("chaos")] == ["ChaosPodEvicted"]
