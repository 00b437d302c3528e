"""TerminateEC2Instance through the registry, against moto's EC2 API with libcloud's real driver."""

from __future__ import annotations

import re
from typing import Any

import pytest

from chaosmonkey.attacks import AttackError
from chaosmonkey.registry import PluginRegistry
from tests.attacks.aws.conftest import REGION
from tests.support.moto_ec2 import MotoEC2

REF = "terminate_ec2_instance:TerminateEC2Instance"


def config(filters: dict[str, Any], **args: Any) -> dict[str, Any]:
    return {"ref": REF, "args": {"region": REGION, "filters": filters, **args}}


def terminated(aws: MotoEC2, ids: list[str]) -> set[str]:
    return {iid for iid, state in aws.instance_states(REGION, ids).items() if state == "terminated"}


def test_terminates_one_matching_instance_and_names_it(aws: MotoEC2, make_attack: Any) -> None:
    targets = aws.create_instances(REGION, count=3, tags={"Chaos": "true"})
    others = aws.create_instances(REGION, count=2, tags={"Chaos": "false"})

    result = make_attack(REF, config({"tag:Chaos": "true"})).run()

    gone = terminated(aws, targets + others)
    assert len(gone) == 1
    assert gone <= set(targets)
    (victim,) = gone
    private_ip = aws.describe(REGION, [victim])[victim]["PrivateIpAddress"]
    assert result == f"terminated {victim} ({private_ip})"


@pytest.mark.parametrize(
    ("selection", "expected"),
    [
        ({"count": 2}, 2),
        ({"count": 10}, 4),
        ({"percent": 50}, 2),
        ({"percent": 10}, 1),
        ({"percent": 100}, 4),
    ],
)
def test_count_and_percent_choose_that_many(
    aws: MotoEC2, make_attack: Any, selection: dict[str, Any], expected: int
) -> None:
    targets = aws.create_instances(REGION, count=4, tags={"Chaos": "true"})
    others = aws.create_instances(REGION, count=2, tags={"Chaos": "no"})

    result = make_attack(REF, config({"tag:Chaos": "true"}, **selection)).run()

    gone = terminated(aws, targets + others)
    assert len(gone) == expected
    assert gone <= set(targets)
    assert sorted(re.findall(r"i-[0-9a-f]+", result)) == sorted(gone)


def test_only_running_instances_are_candidates(aws: MotoEC2, make_attack: Any) -> None:
    running = aws.create_instances(REGION, count=2, tags={"Chaos": "true"})
    stopped = aws.create_instances(REGION, count=2, tags={"Chaos": "true"})
    aws.stop_instances(REGION, stopped)

    make_attack(REF, config({"tag:Chaos": "true"}, count=4)).run()

    states = aws.instance_states(REGION, running + stopped)
    assert {states[i] for i in running} == {"terminated"}
    assert {states[i] for i in stopped} == {"stopped"}


def test_a_state_filter_replaces_the_running_default(aws: MotoEC2, make_attack: Any) -> None:
    running = aws.create_instances(REGION, count=1, tags={"Chaos": "true"})
    stopped = aws.create_instances(REGION, count=1, tags={"Chaos": "true"})
    aws.stop_instances(REGION, stopped)

    make_attack(REF, config({"tag:Chaos": "true", "instance-state-name": "stopped"})).run()

    assert aws.instance_states(REGION, running + stopped) == {running[0]: "running", stopped[0]: "terminated"}


def test_filter_values_may_be_lists_meaning_any_of(aws: MotoEC2, make_attack: Any) -> None:
    staging = aws.create_instances(REGION, tags={"Env": "staging"})
    preprod = aws.create_instances(REGION, tags={"Env": "preprod"})
    prod = aws.create_instances(REGION, tags={"Env": "prod"})

    make_attack(REF, config({"tag:Env": ["staging", "preprod"]}, percent=100)).run()

    assert terminated(aws, staging + preprod + prod) == set(staging + preprod)


def test_several_filters_must_all_match(aws: MotoEC2, make_attack: Any) -> None:
    small = aws.create_instances(REGION, count=2, tags={"Chaos": "true"}, instance_type="t3.micro")
    large = aws.create_instances(REGION, count=2, tags={"Chaos": "true"}, instance_type="m5.large")

    make_attack(REF, config({"tag:Chaos": "true", "instance-type": "m5.large"}, percent=100)).run()

    assert terminated(aws, small + large) == set(large)


def test_dry_run_lists_the_choice_and_terminates_nothing(aws: MotoEC2, make_attack: Any) -> None:
    targets = aws.create_instances(REGION, count=3, tags={"Chaos": "true"})

    result = make_attack(REF, config({"tag:Chaos": "true"}, count=2), dry_run=True).run()

    assert result.startswith("dry run: would terminate ")
    named = re.findall(r"i-[0-9a-f]+", result)
    assert len(named) == 2
    assert set(named) <= set(targets)
    assert set(aws.instance_states(REGION, targets).values()) == {"running"}
    assert not [r for r in aws.ec2_requests if r.action == "TerminateInstances"]


def test_no_match_fails_and_touches_nothing(aws: MotoEC2, make_attack: Any) -> None:
    others = aws.create_instances(REGION, count=2, tags={"Chaos": "false"})

    with pytest.raises(AttackError) as failure:
        make_attack(REF, config({"tag:Chaos": "true"})).run()

    assert str(failure.value) == "no instance matched filters {'tag:Chaos': 'true'} in eu-west-1"
    assert set(aws.instance_states(REGION, others).values()) == {"running"}
    assert not [r for r in aws.ec2_requests if r.action == "TerminateInstances"]


def test_instances_of_other_regions_are_not_candidates(aws: MotoEC2, make_attack: Any) -> None:
    elsewhere = aws.create_instances("us-east-1", tags={"Chaos": "true"})

    with pytest.raises(AttackError, match="no instance matched"):
        make_attack(REF, config({"tag:Chaos": "true"})).run()

    assert aws.instance_states("us-east-1", elsewhere) == {elsewhere[0]: "running"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"region": REGION}, "'filters' is a required property"),
        ({"region": REGION, "filters": {}}, "should be non-empty"),
        ({"region": REGION, "filters": {"tag:A": "b"}, "count": 1, "percent": 5}, "args"),
        ({"region": REGION, "filters": {"tag:A": 1}}, "args/filters/tag:A"),
        ({"region": REGION, "filters": {"tag:A": "b"}, "excluded": {"x": "y"}}, "excluded"),
    ],
)
def test_invalid_configs_fail_before_touching_ec2(
    aws: MotoEC2, make_attack: Any, args: dict[str, Any], message: str
) -> None:
    with pytest.raises(AttackError, match=f"invalid {REF} config") as failure:
        make_attack(REF, {"ref": REF, "args": args}).run()
    assert message in str(failure.value)
    assert aws.ec2_requests == []


def test_the_registry_loads_it_and_its_example_validates(registry: PluginRegistry) -> None:
    info = registry.get("attack", REF)
    assert info is not None
    assert [p for p in registry.problems if p.ref == REF or p.module == "terminate_ec2_instance"] == []
    assert list(info.validator().iter_errors(info.example)) == []
    assert info.cls.to_dict() == {"ref": REF, "schema": info.schema, "example": info.example}
    assert info.cls.supports_dry_run
