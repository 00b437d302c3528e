"""RunScript's schema and example, as the registry loads them."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from chaosmonkey.registry import PluginRegistry

REF = "run_script:RunScript"


def errors(registry: PluginRegistry, config: dict[str, Any]) -> list[str]:
    info = registry.get("attack", REF)
    assert info is not None
    return [error.message for error in info.validator().iter_errors(config)]


def test_the_registry_loads_run_script_and_its_example_validates(registry: PluginRegistry) -> None:
    info = registry.get("attack", REF)

    assert info is not None and info.source == "built-in"
    assert [p for p in registry.problems if p.module == "run_script"] == []
    assert errors(registry, info.example) == []
    assert info.cls.to_dict() == {"ref": REF, "schema": info.schema, "example": info.example}
    assert info.cls.supports_dry_run is True


def hosts_config(**changes: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "hosts": ["10.0.0.1", "web-2:2222", "[fd00::1]:22"],
        "script": {"inline": "uptime"},
        "ssh": {"secretRef": {"name": "s", "key": "k"}, "knownHosts": "10.0.0.1 ssh-ed25519 AAAA"},
    }
    args.update(changes)
    return {"ref": REF, "args": args}


def test_explicit_hosts_validate(registry: PluginRegistry) -> None:
    assert errors(registry, hosts_config()) == []
    assert errors(registry, hosts_config(count=1, user="ec2-user", port=2200, timeout=5)) == []


@pytest.mark.parametrize(
    "changes",
    [
        {"region": "eu-west-1", "filters": {"tag:Chaos": "true"}},  # hosts and EC2 targets at once
        {"address": "public"},  # an EC2-only arg with hosts
        {"count": 1, "percent": 50},
        {"script": {"inline": "x", "bundled": "burn_cpu"}},
        {"script": {"bundled": "rm_rf"}},
        {"script": {}},
        {"ssh": {"pem": "QUFB", "secretRef": {"name": "s", "key": "k"}, "knownHosts": "x"}},
        {"ssh": {"secretRef": {"name": "s", "key": "k"}}},  # no host key verification chosen
        {"ssh": {"secretRef": {"name": "s", "key": "k"}, "insecureIgnoreHostKeys": False}},
        {"timeout": 0},
        {"surprise": True},
    ],
)
def test_invalid_configs_are_rejected(registry: PluginRegistry, changes: dict[str, Any]) -> None:
    assert errors(registry, hosts_config(**changes)) != []


def test_ec2_targets_need_region_and_filters(registry: PluginRegistry) -> None:
    info = registry.get("attack", REF)
    assert info is not None
    example = copy.deepcopy(info.example)
    del example["args"]["filters"]

    assert errors(registry, example) != []
