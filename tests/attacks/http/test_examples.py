"""The ApiRequest example manifest validates as a whole ChaosPlan."""

from __future__ import annotations

from pathlib import Path

import yaml

from chaosmonkey.registry import PluginRegistry
from chaosmonkey.validation import validate_manifest

EXAMPLE = Path(__file__).parents[3] / "examples" / "api-request.yaml"


def test_the_example_is_a_valid_chaosplan(registry: PluginRegistry) -> None:
    assert validate_manifest(yaml.safe_load(EXAMPLE.read_text()), registry) == []
