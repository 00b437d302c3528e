"""Fixtures for DeletePod: kmock's Kubernetes emulator on loopback, wired in as its client."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

import pytest

from chaosmonkey.attacks import AttackContext
from chaosmonkey.attacks.delete_pod import DeletePod, set_api_client_factory
from chaosmonkey.registry import PluginRegistry, load_registry
from tests.support.kube import KubeEmulator, kube_emulator


@pytest.fixture
def kube() -> Iterator[KubeEmulator]:
    """A fresh emulator; DeletePod's client factory points at it for the test."""
    with kube_emulator() as emulator:
        set_api_client_factory(emulator.api_client)
        try:
            yield emulator
        finally:
            set_api_client_factory(None)


@pytest.fixture(scope="session")
def registry() -> PluginRegistry:
    return load_registry()


class MakeAttack(Protocol):
    def __call__(
        self, *, dry_run: bool = False, allowed_namespaces: frozenset[str] = frozenset(), **args: Any
    ) -> DeletePod: ...


@pytest.fixture
def make_attack(registry: PluginRegistry) -> MakeAttack:
    """A DeletePod of plan chaos/plan built through the registry, as the operator builds it."""

    def make(
        *, dry_run: bool = False, allowed_namespaces: frozenset[str] = frozenset(), **args: Any
    ) -> DeletePod:
        info = registry.get("attack", "delete_pod:DeletePod")
        assert info is not None, registry.problems_for("attack", "delete_pod:DeletePod")
        attack: DeletePod = info.cls({"ref": "delete_pod:DeletePod", "args": args})
        attack.context = AttackContext(
            plan_name="plan",
            namespace="chaos",
            executor_name="plan-1",
            dry_run=dry_run,
            allowed_namespaces=allowed_namespaces,
        )
        return attack

    return make
