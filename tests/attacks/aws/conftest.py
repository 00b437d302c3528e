"""Fixtures for the EC2 attacks: moto's EC2 API and metadata service on loopback, clean AWS env."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from chaosmonkey.attacks import Attack, AttackContext
from chaosmonkey.registry import PluginRegistry, load_registry
from tests.support.moto_ec2 import MotoEC2, moto_ec2, use_moto_environment

REGION = "eu-west-1"
#: Planted credentials: tests check that these values never reach errors, results or logs.
PLANTED_ACCESS_KEY_ID = "AKIAPLANTEDKEYID7777"
PLANTED_SECRET_ACCESS_KEY = "planted/Secret+Access+Key/0123456789abcdef"
PLANTED_SESSION_TOKEN = "PlantedSessionToken//FwoGZXIvYXdzEJr"


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoEC2]:
    """One pair of servers for the session (moto takes about a second to start)."""
    with moto_ec2() as servers:
        yield servers


@pytest.fixture
def aws(moto_server: MotoEC2, monkeypatch: pytest.MonkeyPatch) -> MotoEC2:
    """Empty EC2 state, and an environment pointing the attacks at moto with planted keys."""
    moto_server.reset()
    use_moto_environment(
        moto_server,
        monkeypatch,
        access_key_id=PLANTED_ACCESS_KEY_ID,
        secret_access_key=PLANTED_SECRET_ACCESS_KEY,
    )
    return moto_server


@pytest.fixture(scope="session")
def registry() -> PluginRegistry:
    return load_registry()


@pytest.fixture
def make_attack(registry: PluginRegistry) -> Any:
    """Build an attack through the registry, as the operator does: ``make_attack(ref, config)``."""

    def make(ref: str, config: dict[str, Any], *, dry_run: bool = False) -> Attack:
        info = registry.get("attack", ref)
        assert info is not None, registry.problems_for("attack", ref)
        attack: Attack = info.cls(config)
        attack.context = AttackContext(plan_name="plan", namespace="chaos", dry_run=dry_run)
        return attack

    return make
