"""Running one attack: plugin in, outcome (succeeded or failed, with a short message) out.

Shared by ``chaosmonkey attack`` and the operator's executors. Synchronous: the operator runs it
in a worker thread with its own timeout.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from chaosmonkey.attacks.attack import Attack, AttackContext, AttackError

log = logging.getLogger(__name__)

#: Executor messages are kept short: they live in the plan's status, which must stay small.
MAX_MESSAGE_LENGTH = 1024


@dataclass(frozen=True)
class AttackOutcome:
    succeeded: bool
    message: str
    dry_run: bool = False


def format_result(result: Any) -> str:
    """An attack's return value as a one-message string, truncated to MAX_MESSAGE_LENGTH."""
    if result is None:
        text = "attack completed"
    elif isinstance(result, str):
        text = result.strip() or "attack completed"
    else:
        try:
            text = json.dumps(result, separators=(",", ":"), default=str)
        except (TypeError, ValueError):
            text = repr(result)
    return truncate(text)


def truncate(text: str, limit: int = MAX_MESSAGE_LENGTH) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def run_attack(
    attack_cls: type[Attack], attack_config: dict[str, Any], context: AttackContext
) -> AttackOutcome:
    """Build the attack, give it its context and run it; never raises for the attack's errors."""
    ref = getattr(attack_cls, "ref", attack_cls.__name__)
    if context.dry_run and not attack_cls.supports_dry_run:
        return AttackOutcome(
            succeeded=True,
            message=f"dry run: would run {ref}; it has no dry-run mode, so nothing was run",
            dry_run=True,
        )
    try:
        attack = attack_cls(attack_config)
        attack.context = context
        result = attack.run()
    except AttackError as exc:
        return AttackOutcome(
            succeeded=False, message=truncate(str(exc) or type(exc).__name__), dry_run=context.dry_run
        )
    except Exception as exc:
        # The plugin's own message, not a traceback: it goes to status and events.
        log.debug("attack %s raised", ref, exc_info=True)
        return AttackOutcome(
            succeeded=False, message=truncate(f"{type(exc).__name__}: {exc}"), dry_run=context.dry_run
        )
    return AttackOutcome(succeeded=True, message=format_result(result), dry_run=context.dry_run)
