"""Fixtures: one embedded API server and one Helm worker (helm-sdkpy, HELM_DRIVER=memory) per module."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from chaosmonkey.sandbox.apiserver import APIServer, ServerThread
from chaosmonkey.sandbox.apiserver.testing import kube_client
from tests.support.helm import HelmWorker, helm_worker

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "chart"


class ChartHelm(HelmWorker):
    """The shared Helm worker, with a way to render the chart for a set of values."""

    def __init__(self, kubeconfig: Path, home: Path, **defaults: Any) -> None:
        super().__init__(kubeconfig, home, **defaults)
        self._names = itertools.count(1)

    def render(
        self, values: dict[str, Any] | None = None, namespace: str = "chaos-system"
    ) -> list[dict[str, Any]]:
        """The chart's manifests for these values: installed as a fresh release, read, uninstalled."""
        release = f"r{next(self._names)}"
        installed = self.ok("install", release=release, namespace=namespace, values=values or {})
        self.ok("uninstall", release=release, namespace=namespace)
        return manifests(installed["manifest"])


def manifests(text: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


def find(objects: list[dict[str, Any]], kind: str, name: str | None = None) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]


@pytest.fixture(scope="module")
def runner() -> Iterator[ServerThread]:
    with ServerThread(APIServer(crds_dir=None, auto_create_namespaces=True)) as running:
        yield running


@pytest.fixture(scope="module")
def client(runner: ServerThread) -> Iterator[Any]:
    api_client = kube_client(runner.url)
    yield api_client
    api_client.close()


@pytest.fixture(scope="module")
def helm(runner: ServerThread, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChartHelm]:
    home = tmp_path_factory.mktemp("helm")
    kubeconfig = runner.server.write_kubeconfig(home / "kubeconfig")
    # take_ownership: the CRDs are kept on uninstall (resource-policy keep), so the next release adopts them.
    with helm_worker(
        kubeconfig, home, worker_class=ChartHelm, chart=str(CHART), take_ownership=True
    ) as worker:
        assert isinstance(worker, ChartHelm)
        yield worker


@pytest.fixture(scope="module")
def values_yaml() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((CHART / "values.yaml").read_text())
    return loaded
