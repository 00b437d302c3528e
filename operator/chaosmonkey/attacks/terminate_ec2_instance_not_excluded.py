"""TerminateEC2InstanceNotExcluded: TerminateEC2Instance that never touches excluded instances."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from chaosmonkey.attacks.attack import Attack
from chaosmonkey.attacks.terminate_ec2_instance import TerminateEC2Instance, ec2_attack_schema


class TerminateEC2InstanceNotExcluded(TerminateEC2Instance):
    """Like :class:`TerminateEC2Instance`, skipping instances that match ``args.excluded``.

    An instance matching EVERY key/value of ``excluded`` is never chosen. Keys may be written as
    the original engine documented and compared them: ``tag:Domain``, a bare tag name
    (``Domain``), or a DescribeInstances filter name (``availability-zone``, ``instance-type``,
    ``subnet-id``, ``vpc-id``, ``private-ip-address``...); a value may be a string or a list of
    acceptable strings. The old ref ``terminate_ec2_instance:TerminateEC2InstanceNotExcluded``
    names this class too.
    """

    ref: ClassVar[str] = "terminate_ec2_instance_not_excluded:TerminateEC2InstanceNotExcluded"
    schema: ClassVar[dict[str, Any]] = ec2_attack_schema(
        ("region", "filters", "excluded", "count", "percent"),
        "Which running instances may be terminated, which never, and how many.",
    )
    example: ClassVar[dict[str, Any]] = {
        "ref": "terminate_ec2_instance_not_excluded:TerminateEC2InstanceNotExcluded",
        "args": {
            "region": "eu-west-1",
            "filters": {"tag:Chaos": "true"},
            "excluded": {"Domain": "payments", "availability-zone": ["eu-west-1a", "eu-west-1b"]},
            "count": 1,
        },
    }

    def __init__(self, attack_config: dict[str, Any]) -> None:
        super().__init__(attack_config)

    @staticmethod
    def to_dict() -> dict[str, Any]:
        return Attack._to_dict(
            TerminateEC2InstanceNotExcluded.ref,
            TerminateEC2InstanceNotExcluded.schema,
            TerminateEC2InstanceNotExcluded.example,
        )

    def _excluded(self, args: Mapping[str, Any]) -> Mapping[str, str | Sequence[str]] | None:
        excluded: Mapping[str, str | Sequence[str]] | None = args.get("excluded") or None
        return excluded
