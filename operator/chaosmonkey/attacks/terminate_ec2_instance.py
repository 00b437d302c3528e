"""TerminateEC2Instance: terminate running EC2 instances chosen at random among those matching filters."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from chaosmonkey.attacks._ec2 import EC2_TARGET_ARGS_PROPERTIES, EC2Selection, select_ec2_targets
from chaosmonkey.attacks._selection import SELECTION_EXCLUSIVE
from chaosmonkey.attacks.attack import Attack, AttackError

log = logging.getLogger(__name__)


def ec2_attack_schema(arg_names: Sequence[str], description: str) -> dict[str, Any]:
    """The JSON Schema of an EC2 attack config whose args are ``arg_names`` of
    :data:`EC2_TARGET_ARGS_PROPERTIES`."""
    properties = {name: EC2_TARGET_ARGS_PROPERTIES[name] for name in arg_names}
    # Filters are required and non-empty: without them every running instance of the region
    # would be a target, which is never what a chaos plan means.
    properties["filters"] = dict(properties["filters"], minProperties=1)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {
            "ref": {"type": "string", "description": "The attack's ref."},
            "args": {
                "type": "object",
                "description": description,
                "properties": properties,
                "required": ["region", "filters"],
                "additionalProperties": False,
                **SELECTION_EXCLUSIVE,
            },
        },
        "required": ["ref", "args"],
    }


class TerminateEC2Instance(Attack):
    """Terminate ``count`` (default 1) or ``percent`` of the running instances matching ``filters``.

    Instances are chosen at random among the running ones in ``args.region`` matching the
    DescribeInstances ``filters``; ``instance-state-name: running`` is added unless the filters
    name a state. Credentials and endpoint come from :class:`chaosmonkey.drivers.EC2DriverFactory`
    (the standard AWS variables or ``AWS_IAM_ROLE``). In a dry run nothing is terminated: the
    result lists what would have been.
    """

    ref: ClassVar[str] = "terminate_ec2_instance:TerminateEC2Instance"
    schema: ClassVar[dict[str, Any]] = ec2_attack_schema(
        ("region", "filters", "count", "percent"),
        "Which running instances may be terminated, and how many.",
    )
    example: ClassVar[dict[str, Any]] = {
        "ref": "terminate_ec2_instance:TerminateEC2Instance",
        "args": {
            "region": "eu-west-1",
            "filters": {"tag:Chaos": "true", "tag:Environment": ["staging", "preprod"]},
            "count": 1,
        },
    }
    supports_dry_run: ClassVar[bool] = True

    def __init__(self, attack_config: dict[str, Any]) -> None:
        super().__init__(attack_config)

    def run(self) -> str:
        args = self.checked_args()
        selection = select_ec2_targets(
            args["region"],
            args["filters"],
            excluded=self._excluded(args),
            count=args.get("count"),
            percent=args.get("percent"),
        )
        described = ", ".join(target.describe() for target in selection.targets)
        if self.dry_run:
            log.info("dry run: would terminate %s", described)
            return f"dry run: would terminate {described}"
        return self._terminate(selection)

    @staticmethod
    def to_dict() -> dict[str, Any]:
        return Attack._to_dict(
            TerminateEC2Instance.ref, TerminateEC2Instance.schema, TerminateEC2Instance.example
        )

    # -- for subclasses ----------------------------------------------------------------------

    def _excluded(self, args: Mapping[str, Any]) -> Mapping[str, str | Sequence[str]] | None:
        """Exclusions to honour; none here (TerminateEC2InstanceNotExcluded reads ``excluded``)."""
        return None

    # -- internals ---------------------------------------------------------------------------

    def _terminate(self, selection: EC2Selection) -> str:
        terminated: list[str] = []
        failed: list[str] = []
        for target in selection.targets:
            try:
                accepted = selection.driver.destroy_node(target.node)
            except Exception as exc:  # noqa: BLE001 - report every instance, then fail
                reason = selection.factory.redact(f"{type(exc).__name__}: {exc}")
                failed.append(f"{target.describe()}: {reason}")
                continue
            if accepted:
                terminated.append(target.describe())
                log.info("terminated %s", target.describe())
            else:
                failed.append(f"{target.describe()}: EC2 did not accept the termination")
        if failed:
            done = f"terminated {', '.join(terminated)}; " if terminated else ""
            raise AttackError(f"{done}could not terminate {'; '.join(failed)}")
        return f"terminated {', '.join(terminated)}"
