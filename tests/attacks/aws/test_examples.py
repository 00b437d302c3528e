"""The EC2 example manifests validate as whole ChaosPlans, and their attacks run against moto."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from chaosmonkey.registry import PluginRegistry
from chaosmonkey.validation import validate_manifest
from tests.support.moto_ec2 import MotoEC2

EXAMPLES = Path(__file__).parents[3] / "examples"


@pytest.mark.parametrize("name", ["terminate-ec2-instance.yaml", "terminate-ec2-instance-not-excluded.yaml"])
def test_the_example_is_a_valid_chaosplan(registry: PluginRegistry, name: str) -> None:
    manifest = yaml.safe_load((EXAMPLES / name).read_text())
    assert validate_manifest(manifest, registry) == []


@pytest.mark.parametrize("name", ["terminate-ec2-instance.yaml", "terminate-ec2-instance-not-excluded.yaml"])
def test_the_examples_attack_runs_as_written(aws: MotoEC2, make_attack: Any, name: str) -> None:
    attack = yaml.safe_load((EXAMPLES / name).read_text())["spec"]["attack"]
    region = attack["args"]["region"]
    victims = aws.create_instances(
        region, count=4, tags={"Chaos": "true", "Environment": "staging"}, availability_zone="eu-west-1b"
    )
    spared = aws.create_instances(
        region, tags={"Chaos": "true", "Domain": "payments"}, availability_zone="eu-west-1a"
    )

    result = make_attack(attack["ref"], attack).run()

    states = aws.instance_states(region, victims + spared)
    gone = {iid for iid, state in states.items() if state == "terminated"}
    assert result.startswith("terminated ")
    assert len(gone) == 1
    assert gone <= set(victims)
