"""The attack plugin interface, as the Chaos Monkey Engine's plugin guide describes it.

An attack is built with its config (``Attack(attack_config)``) and performs the attack in
``run()``. ``run`` may return a short result (a string or a small dict) that becomes the
executor's message; an exception means the attack failed, with the exception's message.

Besides the seed's API, an attack may read ``self.context`` (an :class:`AttackContext`, set by
whoever runs it before ``run``): the plan's namespace and name, and whether this is a dry run.
Attacks that can say what they would do without doing it set ``supports_dry_run = True`` and
check ``self.dry_run``; the runner never calls ``run()`` of any other attack in a dry run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import jsonschema


class AttackError(Exception):
    """An attack that could not do its job, with a message fit for the plan's status."""


@dataclass(frozen=True)
class AttackContext:
    """Where and how an attack runs; set by the runner (operator or CLI) before ``run()``."""

    plan_name: str = ""
    namespace: str = "default"
    executor_name: str = ""
    dry_run: bool = False
    #: Namespaces besides the plan's own that attacks may touch (operator configuration).
    allowed_namespaces: frozenset[str] = frozenset()
    #: Reads ``key`` of Secret ``name`` in the plan's namespace; None where no cluster is at hand.
    read_secret: Callable[[str, str], bytes] | None = field(default=None, compare=False)


class Attack:
    """Base class of every attack plugin.

    Subclasses define the class attributes ``ref`` (``"module:Class"``), ``schema`` (a JSON
    Schema for the whole attack config) and ``example``, and the methods ``run`` and the
    static ``to_dict``.
    """

    ref: ClassVar[str]
    schema: ClassVar[dict[str, Any]]
    example: ClassVar[dict[str, Any]]

    #: True when ``run()`` honours ``self.dry_run`` (reports what it would do, changes nothing).
    supports_dry_run: ClassVar[bool] = False

    def __init__(self, attack_config: dict[str, Any]) -> None:
        self.attack_config = attack_config
        self.context = AttackContext()

    @property
    def dry_run(self) -> bool:
        return self.context.dry_run

    def check_config(self) -> None:
        """Check the whole config against ``schema``; AttackError naming the first bad field.

        The operator validates plans before scheduling them; attacks that destroy things check
        again so that a direct caller (CLI, a test, another plugin) cannot act on a malformed config.
        """
        validator_cls = jsonschema.validators.validator_for(self.schema)
        error = jsonschema.exceptions.best_match(validator_cls(self.schema).iter_errors(self.attack_config))
        if error is not None:
            where = "/".join(str(part) for part in error.absolute_path) or "(root)"
            raise AttackError(f"invalid {self.ref} config at {where}: {self._describe_schema_error(error)}")

    def checked_args(self) -> dict[str, Any]:
        """``attack_config["args"]`` once the whole config passed :meth:`check_config`."""
        self.check_config()
        args: dict[str, Any] = self.attack_config["args"]
        return args

    def _describe_schema_error(self, error: jsonschema.ValidationError) -> str:
        """How a schema error reads in the failure message (attacks redact secrets here)."""
        return error.message

    def run(self) -> str | dict[str, Any] | None:
        """Perform the attack described by ``self.attack_config``."""
        raise NotImplementedError(f"{type(self).__name__} does not implement run()")

    @staticmethod
    def to_dict() -> dict[str, Any]:
        raise NotImplementedError("attacks implement to_dict() with Attack._to_dict(...)")

    @staticmethod
    def _to_dict(ref: str, schema: dict[str, Any], example: dict[str, Any]) -> dict[str, Any]:
        return {"ref": ref, "schema": schema, "example": example}
