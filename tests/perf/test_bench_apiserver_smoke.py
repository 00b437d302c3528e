"""Runs the API server benchmark at a tiny size: it must work; no timing is asserted."""

from __future__ import annotations

import json

import pytest

from tests.perf import bench_apiserver


def test_benchmark_runs_at_a_tiny_size(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench_apiserver.main(["--sizes", "5", "--writes", "10", "--client-writes", "3"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    row = summary["results"][0]
    assert row["store_size"] == 5 and row["events_delivered"] == 20
    assert row["raw_creates_per_s"] > 0 and row["client_status_patches_per_s"] > 0
