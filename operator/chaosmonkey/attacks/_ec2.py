"""Choosing running EC2 instances to attack; shared by the EC2 attacks and RunScript.

Instances are listed with libcloud's EC2 driver (from :class:`EC2DriverFactory`) using AWS
``DescribeInstances`` filters, so filter semantics (wildcards, several values meaning "any of")
are AWS's own. Exclusions are evaluated the same way: the instances matching every exclusion
are listed with one more filtered call and removed from the candidates.

Exclusion keys may be written three ways, all from the original engine's documentation/code:
``tag:Domain`` (an AWS tag filter), ``Domain`` (a bare tag name, as the original code compared
tags) and a ``DescribeInstances`` filter name such as ``availability-zone``. A bare key is taken
as a filter name when it is one (see :data:`EC2_FILTER_NAMES`), else as a tag name; write
``tag:<name>`` for a tag that happens to be named like a filter.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from chaosmonkey.attacks._selection import SELECTION_PROPERTIES, choose
from chaosmonkey.attacks.attack import AttackError
from chaosmonkey.drivers.ec2 import EC2DriverFactory
from chaosmonkey.drivers.errors import DriverError

log = logging.getLogger(__name__)

FilterValues = str | Sequence[str]
Filters = Mapping[str, FilterValues]

#: Filter names of EC2 DescribeInstances (bare exclusion keys with these names are filters).
EC2_FILTER_NAMES: frozenset[str] = frozenset(
    {
        "affinity", "architecture", "availability-zone", "availability-zone-id", "boot-mode",
        "capacity-reservation-id", "client-token", "current-instance-boot-mode", "dns-name",
        "ebs-optimized", "ena-support", "host-id", "hypervisor", "image-id", "instance-id",
        "instance-lifecycle", "instance-state-code", "instance-state-name", "instance-type",
        "instance.group-id", "instance.group-name", "ip-address", "ipv6-address", "kernel-id",
        "key-name", "launch-index", "launch-time", "monitoring-state", "outpost-arn", "owner-id",
        "placement-group-name", "placement-partition-number", "platform", "platform-details",
        "private-dns-name", "private-ip-address", "product-code", "product-code.type", "ramdisk-id",
        "reason", "requester-id", "reservation-id", "root-device-name", "root-device-type",
        "source-dest-check", "spot-instance-request-id", "state-reason-code", "state-reason-message",
        "subnet-id", "tag-key", "tag-value", "tenancy", "usage-operation",
        "usage-operation-update-time", "virtualization-type", "vpc-id",
    }
)  # fmt: skip
#: Families of dotted filter names (``network-interface.subnet-id``, ...).
EC2_FILTER_PREFIXES: tuple[str, ...] = (
    "block-device-mapping.",
    "enclave-options.",
    "hibernation-options.",
    "iam-instance-profile.",
    "maintenance-options.",
    "metadata-options.",
    "network-interface.",
    "network-performance-options.",
    "private-dns-name-options.",
)
_STATE_FILTERS = frozenset({"instance-state-name", "instance-state-code"})

_FILTER_VALUES_SCHEMA: dict[str, Any] = {
    "oneOf": [
        {"type": "string"},
        {"type": "array", "items": {"type": "string"}, "minItems": 1},
    ]
}

#: JSON Schema properties for the args of attacks that target EC2 instances.
EC2_TARGET_ARGS_PROPERTIES: dict[str, Any] = {
    "region": {
        "type": "string",
        "minLength": 1,
        "description": "AWS region of the instances, e.g. eu-west-1.",
    },
    "filters": {
        "type": "object",
        "description": (
            "EC2 DescribeInstances filters: filter name (e.g. 'tag:Chaos', 'instance-type', "
            "'availability-zone') to a value or a list of acceptable values; '*' and '?' are "
            "wildcards. Only running instances are considered unless a state filter is given."
        ),
        "additionalProperties": _FILTER_VALUES_SCHEMA,
    },
    "excluded": {
        "type": "object",
        "description": (
            "Instances matching every key/value here are never chosen. Keys are tag names "
            "('Domain' or 'tag:Domain') or DescribeInstances filter names ('availability-zone', "
            "'instance-type', 'subnet-id', 'vpc-id', 'private-ip-address', ...); values a string "
            "or a list of acceptable strings."
        ),
        "additionalProperties": _FILTER_VALUES_SCHEMA,
    },
    **SELECTION_PROPERTIES,
}


@dataclass(frozen=True)
class EC2Target:
    """A chosen running instance; ``node`` is the libcloud ``Node`` (for ``destroy_node``...)."""

    instance_id: str
    private_ip: str | None
    public_ip: str | None
    name: str | None
    node: Any

    def describe(self) -> str:
        """``i-0abc (10.0.1.12)``: the id and the private IP (else the public one), for messages."""
        address = self.private_ip or self.public_ip
        return f"{self.instance_id} ({address})" if address else self.instance_id


@dataclass(frozen=True)
class EC2Selection:
    """Chosen targets, and the driver and factory that found them (to act on the targets)."""

    targets: list[EC2Target]
    driver: Any
    factory: EC2DriverFactory


def find_ec2_targets(
    region: str,
    filters: Mapping[str, str | Sequence[str]],
    *,
    excluded: Mapping[str, str | Sequence[str]] | None = None,
    count: int | None = None,
    percent: float | None = None,
) -> list[EC2Target]:
    """Running instances in ``region`` matching ``filters`` and not ``excluded``, chosen at random.

    ``count`` (default 1) or ``percent`` of the matching instances are chosen. Raises
    :class:`AttackError` when no instance matches; errors never contain credentials.
    """
    return select_ec2_targets(region, filters, excluded=excluded, count=count, percent=percent).targets


def select_ec2_targets(
    region: str,
    filters: Mapping[str, str | Sequence[str]],
    *,
    excluded: Mapping[str, str | Sequence[str]] | None = None,
    count: int | None = None,
    percent: float | None = None,
    rng: random.Random | None = None,
) -> EC2Selection:
    """:func:`find_ec2_targets`, also returning the driver (the attacks reuse its connection)."""
    try:
        factory = EC2DriverFactory(region)
        driver = factory.get_driver()
    except DriverError as exc:
        raise AttackError(str(exc)) from None
    describe_filters = instance_filters(filters)
    try:
        matching = driver.list_nodes(ex_filters=describe_filters)
        excluded_ids: set[str] = set()
        if excluded:
            excluded_filters = instance_filters(exclusion_filters(excluded))
            excluded_ids = {node.id for node in driver.list_nodes(ex_filters=excluded_filters)}
    except Exception as exc:  # noqa: BLE001 - any provider error becomes the attack's failure
        raise AttackError(
            f"cannot list EC2 instances in {region}: {factory.redact(_describe(exc))}"
        ) from None
    candidates = [node for node in matching if node.id not in excluded_ids]
    if not candidates:
        reason = ""
        if matching:
            reason = f" (all {len(matching)} matching instance(s) are excluded by {dict(excluded or {})})"
        raise AttackError(f"no instance matched filters {_plain(filters)} in {region}{reason}")
    chosen = choose(candidates, count=count, percent=percent, rng=rng)
    log.info(
        "chose %d of %d running instance(s) matching %s in %s",
        len(chosen),
        len(candidates),
        _plain(filters),
        region,
    )
    return EC2Selection(targets=[_to_target(node) for node in chosen], driver=driver, factory=factory)


def instance_filters(filters: Filters) -> dict[str, str | list[str]]:
    """``filters`` as libcloud takes them, plus ``instance-state-name: running`` unless a state
    filter is given."""
    result: dict[str, str | list[str]] = {
        name: value if isinstance(value, str) else list(value) for name, value in filters.items()
    }
    if not _STATE_FILTERS & result.keys():
        result["instance-state-name"] = "running"
    return result


def is_filter_name(key: str) -> bool:
    """Whether an exclusion key names a DescribeInstances filter rather than a bare tag."""
    return key.startswith("tag:") or key in EC2_FILTER_NAMES or key.startswith(EC2_FILTER_PREFIXES)


def exclusion_filters(excluded: Filters) -> dict[str, FilterValues]:
    """Exclusion keys in all three spellings as DescribeInstances filters (bare tags get ``tag:``)."""
    return {key if is_filter_name(key) else f"tag:{key}": value for key, value in excluded.items()}


def _to_target(node: Any) -> EC2Target:
    tags = node.extra.get("tags") or {}
    return EC2Target(
        instance_id=node.id,
        private_ip=node.private_ips[0] if node.private_ips else None,
        public_ip=node.public_ips[0] if node.public_ips else None,
        name=tags.get("Name"),
        node=node,
    )


def _plain(filters: Filters) -> dict[str, str | list[str]]:
    # Tuples and other sequences print as lists, as the user wrote them in YAML.
    return {name: value if isinstance(value, str) else list(value) for name, value in filters.items()}


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
