"""Pytest helpers: ``sandbox_apiserver`` fixture and a kubernetes-client factory.

Reuse from another test folder with ``from chaosmonkey.sandbox.apiserver.testing import
sandbox_apiserver`` in its conftest.py (the fixture is defined here, so importing registers it).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .server import APIServer, ServerThread


def kube_client(url: str) -> Any:
    """A ``kubernetes.client.ApiClient`` for the server at ``url`` (no auth)."""
    import kubernetes  # noqa: PLC0415  # only the tests need the kubernetes client

    configuration = kubernetes.client.Configuration()
    configuration.host = url
    return kubernetes.client.ApiClient(configuration)


@pytest.fixture
def sandbox_apiserver(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServerThread]:
    """A running server in a background thread; ``.server`` is the :class:`APIServer`, ``.url`` its URL.

    Parametrise indirectly with a dict of ``APIServer`` keyword arguments (e.g. ``crds_dir``).
    A kubeconfig is written to ``tmp_path / "kubeconfig"``.
    """
    options: dict[str, Any] = getattr(request, "param", None) or {}
    runner = ServerThread(APIServer(**options))
    runner.start()
    runner.server.write_kubeconfig(tmp_path / "kubeconfig")
    try:
        yield runner
    finally:
        runner.stop()
