"""Fixtures for the plugin core: registries built from the built-ins and from plugin folders."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from chaosmonkey.registry import PluginRegistry, load_registry

SEED_PLUGINS = Path(__file__).parent / "seed_plugins"


@pytest.fixture(autouse=True)
def _no_plugin_paths_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CHAOSMONKEY_PLANNERS_PATH", raising=False)
    monkeypatch.delenv("CHAOSMONKEY_ATTACKS_PATH", raising=False)


@pytest.fixture(scope="session")
def registry() -> PluginRegistry:
    return load_registry(planner_folders=[], attack_folders=[], entry_points=False)


@pytest.fixture(scope="session")
def seed_registry() -> PluginRegistry:
    """Built-ins plus the seed guide's MyPlanner and MyAttack, loaded from plugin folders."""
    return load_registry(
        planner_folders=[SEED_PLUGINS / "planners"],
        attack_folders=[SEED_PLUGINS / "attacks"],
        entry_points=False,
    )


@pytest.fixture
def now() -> dt.datetime:
    return dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)
