"""The sandbox API server fixtures; other test folders import them the same way."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes
import pytest

from chaosmonkey.sandbox.apiserver import APIServer, ServerThread
from chaosmonkey.sandbox.apiserver.testing import kube_client, sandbox_apiserver

__all__ = ["sandbox_apiserver"]

CRDS_DIR = Path(__file__).parent / "crds"


@pytest.fixture
def runner() -> Iterator[ServerThread]:
    """A server with the test ``widgets.example.com`` CRD loaded."""
    with ServerThread(APIServer(crds_dir=CRDS_DIR, history_size=50)) as running:
        yield running


@pytest.fixture
def server(runner: ServerThread) -> APIServer:
    return runner.server


@pytest.fixture
def client(runner: ServerThread) -> Iterator[Any]:
    api_client = kube_client(runner.url)
    yield api_client
    api_client.close()


@pytest.fixture
def core(client: Any) -> Any:
    return kubernetes.client.CoreV1Api(client)


@pytest.fixture
def custom(client: Any) -> Any:
    return kubernetes.client.CustomObjectsApi(client)
