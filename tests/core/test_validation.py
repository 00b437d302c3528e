"""ChaosPlan validation: every error, each at its JSON path, for specs and whole manifests."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from chaosmonkey.registry import PluginRegistry
from chaosmonkey.validation import PlanSpec, validate_manifest, validate_spec

EXACT = {"ref": "exact_planner:ExactPlanner", "args": {"date": "2026-12-01T10:00"}}
SIMPLE = {
    "ref": "simple_planner:SimplePlanner",
    "args": {"min_time": "10:00", "max_time": "18:00", "times": 2},
}
MY_ATTACK = {"ref": "my_attack:MyAttack", "name": "attack1"}


def messages(spec: Any, registry: PluginRegistry) -> list[str]:
    return [str(issue) for issue in validate_spec(spec, registry)]


def test_a_valid_spec_has_no_issues_and_gets_defaults(seed_registry: PluginRegistry) -> None:
    spec = {"planner": SIMPLE, "attack": MY_ATTACK}
    assert validate_spec(spec, seed_registry) == []
    parsed = PlanSpec.from_dict(spec)
    assert (parsed.suspend, parsed.dry_run, parsed.time_zone) == (False, False, "UTC")
    assert (parsed.starting_deadline_seconds, parsed.history_limit) == (60, 100)


def test_every_error_is_listed_with_its_path(seed_registry: PluginRegistry) -> None:
    spec = {
        "planner": {
            "ref": "simple_planner:SimplePlanner",
            "args": {"min_time": "25:00", "times": 0, "extra": 1},
        },
        "attack": {"ref": "my_attack:MyAttack", "name": 7},
        "suspend": "yes",
        "timeZone": "Mars/Olympus_Mons",
        "startingDeadlineSeconds": -1,
        "historyLimit": 10**9,
        "dryrun": True,
    }
    assert messages(spec, seed_registry) == [
        "spec.attack.name: 7 is not of type 'string'",
        "spec.dryrun: unknown field",
        "spec.historyLimit: 1000000000 is greater than the maximum of 1000",
        "spec.planner.args.extra: unknown field",
        "spec.planner.args.max_time: 'max_time' is a required property",
        "spec.planner.args.min_time: '25:00' does not match '^([01]?\\\\d|2[0-3]):[0-5]\\\\d(:[0-5]\\\\d)?$'",
        "spec.planner.args.times: 0 is less than the minimum of 1",
        "spec.startingDeadlineSeconds: -1 is less than the minimum of 0",
        "spec.suspend: 'yes' is not of type 'boolean'",
        "spec.timeZone: unknown time zone 'Mars/Olympus_Mons' (expected an IANA name such as 'Europe/Madrid')",
    ]


def test_the_issue_example_reads_as_written(registry: PluginRegistry) -> None:
    spec = {
        "planner": EXACT,
        "attack": {
            "ref": "terminate_ec2_instance:TerminateEC2Instance",
            "args": {"filters": {"tag:Chaos": "true"}},
        },
    }
    assert "spec.attack.args.region: 'region' is a required property" in messages(spec, registry)


@pytest.mark.parametrize(
    ("planner", "expected"),
    [
        (
            {"ref": "exact_planner:ExactPlanner", "args": {"date": "2026-13-45T99:00"}},
            "spec.planner.args.date: invalid date '2026-13-45T99:00': use ISO 8601, e.g. \"2026-06-21T15:30\" or "
            '"2026-06-21T15:30:00+02:00"',
        ),
        (
            {"ref": "cron_planner:CronPlanner", "args": {"cron": "0 25 * * *"}},
            "spec.planner.args.cron: '0 25 * * *' is not a valid cron expression: Error validating expression '25': "
            "the last value (25) is higher than the maximum value (23)",
        ),
        (
            {"ref": "cron_planner:CronPlanner", "args": {"cron": "0 0 30 2 *"}},
            "spec.planner.args.cron: '0 0 30 2 *' never fires",
        ),
        (
            {
                "ref": "simple_planner:SimplePlanner",
                "args": {"min_time": "10:00", "max_time": "10:00", "times": 1},
            },
            "spec.planner.args.max_time: must differ from min_time (the window would be empty)",
        ),
        (
            {
                "ref": "mtbf_planner:MTBFPlanner",
                "args": {"mtbf": "1h", "hours": {"start": "17:00", "end": "09:00"}},
            },
            "spec.planner.args.hours.end: must be after hours.start (or 00:00 for midnight)",
        ),
        (
            {"ref": "mtbf_planner:MTBFPlanner", "args": {"mtbf": "0s"}},
            "spec.planner.args.mtbf: must be at least one second",
        ),
    ],
)
def test_values_the_schema_cannot_judge_are_checked_by_planning(
    planner: dict, expected: str, seed_registry: PluginRegistry
) -> None:
    assert messages({"planner": planner, "attack": MY_ATTACK}, seed_registry) == [expected]


def test_unknown_and_broken_plugins_are_named(
    seed_registry: PluginRegistry, registry: PluginRegistry
) -> None:
    spec = {"planner": {"ref": "nope:Nope"}, "attack": {"ref": "my_attack:MyAttack"}}
    [planner_issue, attack_issue] = messages(spec, registry)
    assert planner_issue.startswith("spec.attack.ref: unknown attack 'my_attack:MyAttack'; known: ")
    assert attack_issue.startswith(
        "spec.planner.ref: unknown planner 'nope:Nope'; known: cron_planner:CronPlanner"
    )


def test_a_plan_using_a_plugin_that_failed_to_load_says_why(tmp_path: Any) -> None:
    from chaosmonkey.registry import load_registry

    (tmp_path / "flaky.py").write_text("import not_installed_sdk\n")
    registry = load_registry(planner_folders=[], attack_folders=[tmp_path], entry_points=False)
    spec = {"planner": EXACT, "attack": {"ref": "flaky:Flaky"}}
    assert messages(spec, registry) == [
        "spec.attack.ref: attack 'flaky:Flaky' could not be loaded: ModuleNotFoundError: No module named "
        f"'not_installed_sdk' (folder {tmp_path / 'flaky.py'})"
    ]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (None, ["spec: must be an object, got null"]),
        ([], ["spec: must be an object, got array"]),
        (
            {},
            [
                "spec.attack: 'attack' is a required property",
                "spec.planner: 'planner' is a required property",
            ],
        ),
        (
            {"planner": "simple", "attack": {"name": "x"}},
            [
                "spec.attack.ref: 'ref' is a required property",
                "spec.planner: 'simple' is not of type 'object'",
            ],
        ),
    ],
)
def test_malformed_specs(spec: Any, expected: list[str], registry: PluginRegistry) -> None:
    assert messages(spec, registry) == expected


def test_manifest_checks(seed_registry: PluginRegistry) -> None:
    document = {
        "apiVersion": "chaosmonkey.io/v1",
        "kind": "ChaosPlan",
        "metadata": {"name": "Kill_All"},
        "spec": {"planner": EXACT, "attack": MY_ATTACK},
    }
    assert [str(i) for i in validate_manifest(document, seed_registry)] == [
        "apiVersion: must be 'chaosmonkey.io/v1alpha1', got 'chaosmonkey.io/v1'",
        "metadata.name: 'Kill_All' must be a DNS subdomain: lower-case letters, digits, '-' and '.'",
    ]
    document["apiVersion"] = "chaosmonkey.io/v1alpha1"
    document["metadata"] = {"generateName": "kill-"}
    assert validate_manifest(document, seed_registry, now=dt.datetime(2026, 1, 1, tzinfo=dt.UTC)) == []
    assert [str(i) for i in validate_manifest({"kind": "ChaosPlan"}, seed_registry)] == [
        "apiVersion: must be 'chaosmonkey.io/v1alpha1', got None",
        "metadata: must be an object with a name",
        "spec: is required",
    ]
