"""Fixtures for ApiRequest: a recording HTTP server on loopback, attacks built via the registry."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from chaosmonkey.attacks import Attack, AttackContext
from chaosmonkey.registry import PluginRegistry, load_registry
from tests.support.http_target import HTTPTarget, http_target


@pytest.fixture(scope="session")
def http_server() -> Iterator[HTTPTarget]:
    with http_target() as server:
        yield server


@pytest.fixture
def target(http_server: HTTPTarget) -> HTTPTarget:
    """The server, with no recorded requests, answering 200."""
    http_server.reset()
    return http_server


@pytest.fixture(scope="session")
def registry() -> PluginRegistry:
    return load_registry()


@pytest.fixture
def make_attack(registry: PluginRegistry) -> Callable[..., Attack]:
    """Build an attack through the registry, as the operator does."""

    def make(
        config: dict[str, Any],
        *,
        dry_run: bool = False,
        read_secret: Callable[[str, str], bytes] | None = None,
    ) -> Attack:
        info = registry.get("attack", config["ref"])
        assert info is not None, registry.problems_for("attack", config["ref"])
        attack: Attack = info.cls(config)
        attack.context = AttackContext(
            plan_name="plan", namespace="chaos", dry_run=dry_run, read_secret=read_secret
        )
        return attack

    return make
