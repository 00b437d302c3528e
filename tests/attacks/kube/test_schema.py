"""DeletePod's schema and example, as the registry loads them."""

from __future__ import annotations

from typing import Any

import pytest

from chaosmonkey.registry import PluginRegistry

REF = "delete_pod:DeletePod"


def errors(registry: PluginRegistry, args: dict[str, Any]) -> list[str]:
    info = registry.get("attack", REF)
    assert info is not None
    return [error.message for error in info.validator().iter_errors({"ref": REF, "args": args})]


def test_the_registry_loads_delete_pod_and_its_example_validates(registry: PluginRegistry) -> None:
    info = registry.get("attack", REF)

    assert info is not None and info.source == "built-in"
    assert [p for p in registry.problems if p.module == "delete_pod"] == []
    assert [e.message for e in info.validator().iter_errors(info.example)] == []
    assert info.cls.to_dict() == {"ref": REF, "schema": info.schema, "example": info.example}
    assert info.cls.supports_dry_run is True


@pytest.mark.parametrize(
    "args",
    [
        {"labelSelector": "app=web"},
        {"labelSelector": "app=web", "minAge": 0, "mode": "delete", "gracePeriodSeconds": 0, "percent": 25},
        {
            "labelSelector": "app=web",
            "minAge": "1h30m",
            "namespace": "shop",
            "fieldSelector": "spec.nodeName=n",
        },
    ],
)
def test_valid_args(registry: PluginRegistry, args: dict[str, Any]) -> None:
    assert errors(registry, args) == []


@pytest.mark.parametrize(
    "args",
    [
        {},
        {"labelSelector": ""},
        {"labelSelector": "app=web", "count": 1, "percent": 10},
        {"labelSelector": "app=web", "mode": "kill"},
        {"labelSelector": "app=web", "minAge": "five minutes"},
        {"labelSelector": "app=web", "gracePeriodSeconds": -1},
        {"labelSelector": "app=web", "surprise": True},
    ],
)
def test_invalid_args(registry: PluginRegistry, args: dict[str, Any]) -> None:
    assert errors(registry, args) != []
