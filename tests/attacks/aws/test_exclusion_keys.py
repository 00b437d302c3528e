"""How exclusion keys in the three spellings become DescribeInstances filters."""

from __future__ import annotations

import pytest

from chaosmonkey.attacks._ec2 import exclusion_filters, instance_filters, is_filter_name


@pytest.mark.parametrize(
    ("key", "is_filter"),
    [
        ("tag:Domain", True),
        ("availability-zone", True),
        ("instance-type", True),
        ("subnet-id", True),
        ("vpc-id", True),
        ("private-ip-address", True),
        ("network-interface.subnet-id", True),
        ("Domain", False),
        ("team", False),
        ("Name", False),
    ],
)
def test_filter_names_and_bare_tags_are_told_apart(key: str, is_filter: bool) -> None:
    assert is_filter_name(key) is is_filter


def test_bare_tags_get_the_tag_prefix_and_values_are_kept() -> None:
    excluded = {"Domain": ["payments", "billing"], "tag:Team": "sre", "availability-zone": "eu-west-1a"}
    assert exclusion_filters(excluded) == {
        "tag:Domain": ["payments", "billing"],
        "tag:Team": "sre",
        "availability-zone": "eu-west-1a",
    }


def test_running_is_added_unless_a_state_filter_is_given() -> None:
    assert instance_filters({"tag:A": ("x", "y")}) == {"tag:A": ["x", "y"], "instance-state-name": "running"}
    assert instance_filters({"instance-state-code": "80"}) == {"instance-state-code": "80"}
