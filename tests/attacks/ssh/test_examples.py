"""examples/run-script.yaml is a valid ChaosPlan that holds no secret material."""

from __future__ import annotations

from pathlib import Path

import yaml

from chaosmonkey.registry import PluginRegistry
from chaosmonkey.validation import validate_manifest

EXAMPLE = Path(__file__).parents[3] / "examples" / "run-script.yaml"


def test_the_example_is_a_valid_chaosplan(registry: PluginRegistry) -> None:
    assert validate_manifest(yaml.safe_load(EXAMPLE.read_text()), registry) == []


def test_the_example_refers_to_secrets_only(registry: PluginRegistry) -> None:
    ssh = yaml.safe_load(EXAMPLE.read_text())["spec"]["attack"]["args"]["ssh"]

    assert set(ssh) == {"secretRef", "knownHostsSecretRef"}
    assert "PRIVATE KEY" not in EXAMPLE.read_text()
