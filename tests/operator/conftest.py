"""End-to-end fixtures: the embedded API server with our CRD, the real operator, an HTTP target."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.http_target import HTTPTarget, http_target
from tests.support.operator import Cluster, OperatorThread


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    running = Cluster(tmp_path).start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def operator(cluster: Cluster) -> Iterator[OperatorThread]:
    replica = OperatorThread(cluster.kubeconfig).start()
    try:
        yield replica
    finally:
        replica.stop()


@pytest.fixture
def target() -> Iterator[HTTPTarget]:
    with http_target() as running:
        yield running
