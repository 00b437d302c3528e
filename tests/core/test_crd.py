"""The ChaosPlan CRD agrees with the code: every status field declared, same defaults and bounds."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import yaml

from chaosmonkey.execution import AttackOutcome
from chaosmonkey.lifecycle import PlanStatus, finish_executor, reconcile, start_executor
from chaosmonkey.registry import PluginRegistry
from chaosmonkey.validation import (
    DEFAULT_HISTORY_LIMIT,
    DEFAULT_STARTING_DEADLINE_SECONDS,
    DEFAULT_TIME_ZONE,
    MAX_HISTORY_LIMIT,
    SPEC_SCHEMA,
    PlanSpec,
)

CRD = yaml.safe_load((Path(__file__).resolve().parents[2] / "crds" / "chaosplan.yaml").read_text())
VERSION = CRD["spec"]["versions"][0]
SCHEMA = VERSION["schema"]["openAPIV3Schema"]
SPEC = SCHEMA["properties"]["spec"]["properties"]
STATUS = SCHEMA["properties"]["status"]["properties"]


def test_identity_and_presentation() -> None:
    names = CRD["spec"]["names"]
    assert (CRD["spec"]["group"], VERSION["name"], names["kind"], CRD["spec"]["scope"]) == (
        "chaosmonkey.io",
        "v1alpha1",
        "ChaosPlan",
        "Namespaced",
    )
    assert names["shortNames"] == ["cplan"]
    assert names["categories"] == ["chaos"]
    assert VERSION["subresources"] == {"status": {}}
    assert [c["name"] for c in VERSION["additionalPrinterColumns"]] == [
        "Planner",
        "Attack",
        "Phase",
        "Next Attack",
        "Succeeded",
        "Failed",
        "Age",
    ]


def test_spec_fields_match_the_validator() -> None:
    assert set(SPEC) == set(SPEC_SCHEMA["properties"])
    # No CRD default for timeZone: the operator applies its configurable default zone.
    assert "default" not in SPEC["timeZone"]
    assert (
        PlanSpec.from_dict({"planner": {"ref": "x"}, "attack": {"ref": "y"}}).time_zone == DEFAULT_TIME_ZONE
    )
    assert SPEC["startingDeadlineSeconds"]["default"] == DEFAULT_STARTING_DEADLINE_SECONDS
    assert SPEC["historyLimit"]["default"] == DEFAULT_HISTORY_LIMIT
    assert SPEC["historyLimit"]["maximum"] == MAX_HISTORY_LIMIT
    defaults = {key: value["default"] for key, value in SPEC.items() if "default" in value}
    parsed = PlanSpec.from_dict({"planner": {"ref": "x"}, "attack": {"ref": "y"}})
    assert defaults == {
        "suspend": parsed.suspend,
        "dryRun": parsed.dry_run,
        "startingDeadlineSeconds": parsed.starting_deadline_seconds,
        "historyLimit": parsed.history_limit,
    }
    for plugin in ("planner", "attack"):
        assert SPEC[plugin]["x-kubernetes-preserve-unknown-fields"] is True
        assert SPEC[plugin]["required"] == ["ref"]


def declared_keys(value: Any, schema: dict[str, Any], path: str = "status") -> list[str]:
    """Paths in ``value`` that the structural schema does not declare (an API server prunes them)."""
    missing = []
    if isinstance(value, dict) and schema.get("type") == "object":
        properties = schema.get("properties", {})
        for key, item in value.items():
            if key not in properties:
                missing.append(f"{path}.{key}")
            else:
                missing += declared_keys(item, properties[key], f"{path}.{key}")
    elif isinstance(value, list) and schema.get("type") == "array":
        for index, item in enumerate(value):
            missing += declared_keys(item, schema["items"], f"{path}[{index}]")
    return missing


def test_every_status_field_the_operator_writes_is_declared(registry: PluginRegistry) -> None:
    spec = {
        "planner": {"ref": "cron_planner:CronPlanner", "args": {"cron": "0 * * * *"}},
        "attack": {"ref": "api_request:ApiRequest", "args": {"endpoint": "http://svc/"}},
    }
    now = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
    status = reconcile(
        name="p", generation=1, spec=spec, status=PlanStatus(), registry=registry, now=now
    ).status
    parsed = PlanSpec.from_dict(spec)
    status, _ = start_executor(status, "p-1", parsed, now + dt.timedelta(hours=1))
    status = finish_executor(status, "p-1", AttackOutcome(True, "ok"), parsed, now + dt.timedelta(hours=1))
    written = status.to_dict()
    assert written["executors"][0]["completionTime"]
    assert declared_keys(written, SCHEMA["properties"]["status"]) == []
    assert set(STATUS["summary"]["properties"]) == set(written["summary"])


def test_the_packaged_copy_for_the_sandbox_is_identical() -> None:
    root = Path(__file__).resolve().parents[2]
    assert (root / "operator/chaosmonkey/sandbox/crds/chaosplan.yaml").read_bytes() == (
        root / "crds/chaosplan.yaml"
    ).read_bytes(), "copy crds/chaosplan.yaml to operator/chaosmonkey/sandbox/crds/"
