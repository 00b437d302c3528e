"""Fixtures for RunScript: one real OpenSSH server on loopback for the session."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import pytest

from chaosmonkey.attacks import AttackContext
from chaosmonkey.attacks.run_script import RunScript
from chaosmonkey.registry import PluginRegistry, load_registry
from tests.support.sshd import SSHServer, running_sshd


@pytest.fixture(scope="session")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SSHServer]:
    with running_sshd(tmp_path_factory.mktemp("sshd")) as server:
        yield server


@pytest.fixture(scope="session")
def registry() -> PluginRegistry:
    return load_registry()


class SecretReader:
    """A stand-in for the operator's Secret reader: a dict of Secrets, recording every read."""

    def __init__(self, secrets: dict[str, dict[str, bytes]]) -> None:
        self.secrets = secrets
        self.reads: list[tuple[str, str]] = []

    def __call__(self, name: str, key: str) -> bytes:
        self.reads.append((name, key))
        return self.secrets[name][key]


class MakeAttack(Protocol):
    def __call__(
        self,
        script: dict[str, Any],
        *,
        ssh: dict[str, Any] | None = None,
        dry_run: bool = False,
        read_secret: SecretReader | None = None,
        **args: Any,
    ) -> RunScript: ...


def pem_base64(server: SSHServer) -> str:
    return base64.b64encode(server.private_key_pem.encode()).decode()


@pytest.fixture
def make_attack(sshd: SSHServer, registry: PluginRegistry) -> MakeAttack:
    """A RunScript on the test server (pem key, verified host key unless ``ssh`` says otherwise),
    built through the registry as the operator builds it."""

    def make(
        script: dict[str, Any],
        *,
        ssh: dict[str, Any] | None = None,
        dry_run: bool = False,
        read_secret: SecretReader | None = None,
        **args: Any,
    ) -> RunScript:
        info = registry.get("attack", "run_script:RunScript")
        assert info is not None, registry.problems_for("attack", "run_script:RunScript")
        config_args: dict[str, Any] = {
            "hosts": [sshd.address],
            "user": sshd.user,
            "script": script,
            "ssh": ssh if ssh is not None else {"pem": pem_base64(sshd), "knownHosts": sshd.known_hosts_line},
            "timeout": 20,
            **args,
        }
        attack: RunScript = info.cls({"ref": "run_script:RunScript", "args": config_args})
        attack.context = AttackContext(
            plan_name="plan", namespace="chaos", dry_run=dry_run, read_secret=read_secret
        )
        return attack

    return make


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    """A directory the remote script (same machine, same user) writes into."""
    tmp_path.chmod(0o777)
    return tmp_path
