"""Executors (scheduled attack runs) and the one state machine they follow.

    Pending ──> Running ──> Succeeded | Failed
       │           └──────> Interrupted   (the operator stopped while it ran; never re-run)
       └──────> Missed | Cancelled        (too late to start / plan changed or deleted)

Every state change goes through :meth:`Executor.transition`, which refuses any other move: a
finished executor can never be started again, which is what keeps destructive attacks at most
once.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from enum import StrEnum
from typing import Any

from chaosmonkey.execution import truncate
from chaosmonkey.timeutil import UTC, rfc3339


class ExecutorState(StrEnum):
    PENDING = "Pending"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    MISSED = "Missed"
    CANCELLED = "Cancelled"
    INTERRUPTED = "Interrupted"

    @property
    def finished(self) -> bool:
        return self not in {ExecutorState.PENDING, ExecutorState.RUNNING}


ALLOWED_TRANSITIONS: dict[ExecutorState, frozenset[ExecutorState]] = {
    ExecutorState.PENDING: frozenset({ExecutorState.RUNNING, ExecutorState.MISSED, ExecutorState.CANCELLED}),
    ExecutorState.RUNNING: frozenset(
        {ExecutorState.SUCCEEDED, ExecutorState.FAILED, ExecutorState.INTERRUPTED}
    ),
}


class InvalidTransition(Exception):
    """A state change the state machine does not allow (for example Succeeded -> Running)."""


@dataclasses.dataclass(frozen=True)
class Executor:
    """One attack run of a plan, as written in ``status.executors``."""

    name: str
    scheduled_time: dt.datetime
    state: ExecutorState = ExecutorState.PENDING
    start_time: dt.datetime | None = None
    completion_time: dt.datetime | None = None
    message: str = ""
    dry_run: bool = False
    #: The attack config the planner gave this run, when it differs from the plan's own.
    attack_config: dict[str, Any] | None = None

    def transition(self, state: ExecutorState, at: dt.datetime, message: str = "") -> Executor:
        """This executor in ``state``; InvalidTransition if the state machine forbids the move."""
        if state not in ALLOWED_TRANSITIONS.get(self.state, frozenset()):
            raise InvalidTransition(f"executor {self.name}: {self.state} -> {state} is not allowed")
        changes: dict[str, Any] = {"state": state, "message": truncate(message)}
        if state is ExecutorState.RUNNING:
            changes["start_time"] = at
        else:
            changes["completion_time"] = at
        return dataclasses.replace(self, **changes)

    def late_by(self, now: dt.datetime) -> dt.timedelta:
        return now - self.scheduled_time

    def to_status(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "name": self.name,
            "scheduledTime": rfc3339(self.scheduled_time),
            "state": self.state.value,
        }
        if self.start_time is not None:
            entry["startTime"] = rfc3339(self.start_time)
        if self.completion_time is not None:
            entry["completionTime"] = rfc3339(self.completion_time)
        if self.message:
            entry["message"] = self.message
        entry["dryRun"] = self.dry_run
        if self.attack_config is not None:
            entry["attack"] = self.attack_config
        return entry

    @classmethod
    def from_status(cls, entry: dict[str, Any]) -> Executor:
        """Read back what :meth:`to_status` wrote (ValueError/KeyError if it was tampered with)."""
        return cls(
            name=str(entry["name"]),
            scheduled_time=parse_status_time(entry["scheduledTime"]),
            state=ExecutorState(entry.get("state", ExecutorState.PENDING.value)),
            start_time=parse_status_time(entry["startTime"]) if entry.get("startTime") else None,
            completion_time=parse_status_time(entry["completionTime"])
            if entry.get("completionTime")
            else None,
            message=str(entry.get("message", "")),
            dry_run=bool(entry.get("dryRun", False)),
            attack_config=dict(entry["attack"]) if isinstance(entry.get("attack"), dict) else None,
        )


def parse_status_time(value: str) -> dt.datetime:
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)
