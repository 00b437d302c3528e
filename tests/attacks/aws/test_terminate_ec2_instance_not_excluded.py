"""TerminateEC2InstanceNotExcluded: exclusions as bare tags, ``tag:`` filters and filter names."""

from __future__ import annotations

from typing import Any

import pytest

from chaosmonkey.attacks import AttackError
from chaosmonkey.attacks.terminate_ec2_instance_not_excluded import TerminateEC2InstanceNotExcluded
from chaosmonkey.registry import PluginRegistry
from tests.attacks.aws.conftest import REGION
from tests.support.moto_ec2 import MotoEC2

REF = "terminate_ec2_instance_not_excluded:TerminateEC2InstanceNotExcluded"
OLD_REF = "terminate_ec2_instance:TerminateEC2InstanceNotExcluded"


def config(excluded: dict[str, Any], *, filters: dict[str, Any] | None = None, **args: Any) -> dict[str, Any]:
    filters = filters or {"tag:Chaos": "true"}
    return {"ref": REF, "args": {"region": REGION, "filters": filters, "excluded": excluded, **args}}


def terminated(aws: MotoEC2, ids: list[str]) -> set[str]:
    return {iid for iid, state in aws.instance_states(REGION, ids).items() if state == "terminated"}


@pytest.mark.parametrize("key", ["Domain", "tag:Domain"])
def test_excluded_tags_in_both_spellings_are_spared(aws: MotoEC2, make_attack: Any, key: str) -> None:
    payments = aws.create_instances(REGION, count=2, tags={"Chaos": "true", "Domain": "payments"})
    search = aws.create_instances(REGION, count=2, tags={"Chaos": "true", "Domain": "search"})

    make_attack(REF, config({key: "payments"}, percent=100)).run()

    assert terminated(aws, payments + search) == set(search)


def test_excluded_filter_names_such_as_availability_zone(aws: MotoEC2, make_attack: Any) -> None:
    zone_a = aws.create_instances(REGION, count=2, tags={"Chaos": "true"}, availability_zone="eu-west-1a")
    zone_b = aws.create_instances(REGION, count=2, tags={"Chaos": "true"}, availability_zone="eu-west-1b")

    make_attack(REF, config({"availability-zone": "eu-west-1a"}, percent=100)).run()

    assert terminated(aws, zone_a + zone_b) == set(zone_b)


@pytest.mark.parametrize("filter_name", ["instance-type", "subnet-id", "vpc-id", "private-ip-address"])
def test_other_filter_names_exclude_by_instance_attribute(
    aws: MotoEC2, make_attack: Any, filter_name: str
) -> None:
    spared = aws.create_instances(REGION, tags={"Chaos": "true"}, instance_type="m5.large")
    victims = aws.create_instances(
        REGION, count=2, tags={"Chaos": "true"}, instance_type="t3.micro", availability_zone="eu-west-1b"
    )
    description = aws.describe(REGION, spared)[spared[0]]
    value = {
        "instance-type": description["InstanceType"],
        "subnet-id": description["SubnetId"],
        "vpc-id": description["VpcId"],
        "private-ip-address": description["PrivateIpAddress"],
    }[filter_name]
    if filter_name == "vpc-id":
        # All instances share the default VPC: excluding it spares everyone, so the attack fails.
        with pytest.raises(AttackError, match="are excluded by"):
            make_attack(REF, config({filter_name: value}, percent=100)).run()
        assert terminated(aws, spared + victims) == set()
        return

    make_attack(REF, config({filter_name: value}, percent=100)).run()

    assert terminated(aws, spared + victims) == set(victims)


def test_an_instance_is_excluded_only_when_every_key_matches(aws: MotoEC2, make_attack: Any) -> None:
    payments_a = aws.create_instances(
        REGION, tags={"Chaos": "true", "Domain": "payments"}, availability_zone="eu-west-1a"
    )
    payments_b = aws.create_instances(
        REGION, tags={"Chaos": "true", "Domain": "payments"}, availability_zone="eu-west-1b"
    )
    search_a = aws.create_instances(
        REGION, tags={"Chaos": "true", "Domain": "search"}, availability_zone="eu-west-1a"
    )

    make_attack(REF, config({"Domain": "payments", "availability-zone": "eu-west-1a"}, percent=100)).run()

    assert terminated(aws, payments_a + payments_b + search_a) == set(payments_b + search_a)


def test_list_values_are_acceptable_alternatives(aws: MotoEC2, make_attack: Any) -> None:
    payments = aws.create_instances(REGION, tags={"Chaos": "true", "Domain": "payments"})
    billing = aws.create_instances(REGION, tags={"Chaos": "true", "Domain": "billing"})
    search = aws.create_instances(REGION, tags={"Chaos": "true", "Domain": "search"})

    make_attack(REF, config({"tag:Domain": ["payments", "billing"]}, percent=100)).run()

    assert terminated(aws, payments + billing + search) == set(search)


def test_when_everything_matching_is_excluded_it_fails_and_says_why(aws: MotoEC2, make_attack: Any) -> None:
    payments = aws.create_instances(REGION, count=2, tags={"Chaos": "true", "Domain": "payments"})

    with pytest.raises(AttackError) as failure:
        make_attack(REF, config({"Domain": "payments"})).run()

    assert str(failure.value) == (
        "no instance matched filters {'tag:Chaos': 'true'} in eu-west-1 "
        "(all 2 matching instance(s) are excluded by {'Domain': 'payments'})"
    )
    assert set(aws.instance_states(REGION, payments).values()) == {"running"}


def test_count_and_dry_run_work_as_in_terminate_ec2_instance(aws: MotoEC2, make_attack: Any) -> None:
    spared = aws.create_instances(REGION, count=2, tags={"Chaos": "true", "Domain": "payments"})
    victims = aws.create_instances(REGION, count=3, tags={"Chaos": "true", "Domain": "search"})

    preview = make_attack(REF, config({"Domain": "payments"}, count=2), dry_run=True).run()
    assert preview.startswith("dry run: would terminate ")
    assert terminated(aws, spared + victims) == set()

    make_attack(REF, config({"Domain": "payments"}, count=2)).run()
    gone = terminated(aws, spared + victims)
    assert len(gone) == 2
    assert gone <= set(victims)


def test_the_original_engines_ref_is_an_alias(registry: PluginRegistry, make_attack: Any) -> None:
    assert registry.get("attack", OLD_REF) is registry.get("attack", REF)
    assert isinstance(make_attack(OLD_REF, config({"Domain": "x"})), TerminateEC2InstanceNotExcluded)


def test_the_registry_loads_it_and_its_example_validates(registry: PluginRegistry) -> None:
    info = registry.get("attack", REF)
    assert info is not None
    assert info.cls is TerminateEC2InstanceNotExcluded
    module = "terminate_ec2_instance_not_excluded"
    assert [p for p in registry.problems if p.ref == REF or p.module == module] == []
    assert list(info.validator().iter_errors(info.example)) == []
    expected = {"ref": REF, "schema": info.schema, "example": info.example}
    assert TerminateEC2InstanceNotExcluded.to_dict() == expected
