"""Validating ChaosPlan specs and manifests, offline and in the operator alike.

A spec is valid when its fixed fields are well-formed, ``planner`` and ``attack`` each name a
known plugin and validate whole (``{ref, args...}``) against that plugin's JSON Schema, and the
planner can actually plan it (a date that parses, a cron expression that fires...). Every error
is reported, each with its JSON path: ``spec.attack.args.region: 'region' is a required property``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import jsonschema

from chaosmonkey.planning import PlanningError, compute_executors
from chaosmonkey.registry import PluginKind, PluginRegistry, normalize_ref
from chaosmonkey.timeutil import get_timezone

API_GROUP = "chaosmonkey.io"
API_VERSION = f"{API_GROUP}/v1alpha1"
KIND = "ChaosPlan"

DEFAULT_TIME_ZONE = "UTC"
DEFAULT_STARTING_DEADLINE_SECONDS = 60
DEFAULT_HISTORY_LIMIT = 100
MAX_HISTORY_LIMIT = 1000

#: The fixed part of a ChaosPlan spec; ``planner`` and ``attack`` are checked by their plugins.
SPEC_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "planner": {
            "type": "object",
            "properties": {"ref": {"type": "string", "minLength": 1}},
            "required": ["ref"],
        },
        "attack": {
            "type": "object",
            "properties": {"ref": {"type": "string", "minLength": 1}},
            "required": ["ref"],
        },
        "suspend": {"type": "boolean"},
        "dryRun": {"type": "boolean"},
        "timeZone": {"type": "string", "minLength": 1, "maxLength": 64},
        "startingDeadlineSeconds": {"type": ["integer", "null"], "minimum": 0},
        "historyLimit": {"type": "integer", "minimum": 0, "maximum": MAX_HISTORY_LIMIT},
    },
    "required": ["planner", "attack"],
    "additionalProperties": False,
}

_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


@dataclass(frozen=True, order=True)
class ValidationIssue:
    """One problem, at a JSON path such as ``spec.planner.args.date``."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


@dataclass(frozen=True)
class PlanSpec:
    """A valid ChaosPlan spec with its defaults applied."""

    planner: dict[str, Any]
    attack: dict[str, Any]
    suspend: bool = False
    dry_run: bool = False
    time_zone: str = DEFAULT_TIME_ZONE
    starting_deadline_seconds: int | None = DEFAULT_STARTING_DEADLINE_SECONDS
    history_limit: int = DEFAULT_HISTORY_LIMIT

    @property
    def timezone(self) -> dt.tzinfo:
        return get_timezone(self.time_zone)

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> PlanSpec:
        """Build from a spec that :func:`validate_spec` accepted."""
        return cls(
            planner=dict(spec["planner"]),
            attack=dict(spec["attack"]),
            suspend=bool(spec.get("suspend", False)),
            dry_run=bool(spec.get("dryRun", False)),
            time_zone=spec.get("timeZone") or DEFAULT_TIME_ZONE,
            starting_deadline_seconds=spec.get("startingDeadlineSeconds", DEFAULT_STARTING_DEADLINE_SECONDS),
            history_limit=spec.get("historyLimit", DEFAULT_HISTORY_LIMIT),
        )


def schema_issues(validator: Any, instance: Any, prefix: str) -> list[ValidationIssue]:
    """Every error of a jsonschema validator, each at its full JSON path."""
    issues = []
    for error in validator.iter_errors(instance):
        path = _join(prefix, error.absolute_path)
        if error.validator == "required" and isinstance(error.validator_value, list):
            # Point at the missing field itself, as a user reads it.
            missing = re.match(r"^'([^']+)' is a required property$", error.message)
            if missing:
                path = f"{path}.{missing.group(1)}"
        elif error.validator == "additionalProperties" and isinstance(error.instance, dict):
            allowed = set(error.schema.get("properties", {}))
            extra = sorted(k for k in error.instance if k not in allowed)
            for key in extra:
                issues.append(ValidationIssue(f"{path}.{key}", "unknown field"))
            if extra:
                continue
        issues.append(ValidationIssue(path, _short(error.message)))
    return sorted(set(issues))


def validate_spec(
    spec: Any,
    registry: PluginRegistry,
    *,
    plan_name: str = "plan",
    now: dt.datetime | None = None,
    plan_check: bool = True,
) -> list[ValidationIssue]:
    """Every problem with a ChaosPlan ``spec`` (empty when it is valid).

    With ``plan_check`` (the default) the planner also plans the spec once, to catch values its
    schema cannot judge; callers that plan right after (the operator) turn it off.
    """
    if not isinstance(spec, Mapping):
        return [ValidationIssue("spec", f"must be an object, got {_type_name(spec)}")]
    issues = schema_issues(jsonschema.Draft202012Validator(SPEC_SCHEMA), spec, "spec")
    timezone = None
    if isinstance(spec.get("timeZone"), str):
        try:
            timezone = get_timezone(spec["timeZone"])
        except ValueError as exc:
            issues.append(ValidationIssue("spec.timeZone", str(exc)))
    planner_valid = False
    kinds: tuple[PluginKind, ...] = ("planner", "attack")
    for kind in kinds:
        config = spec.get(kind)
        if not isinstance(config, Mapping) or not isinstance(config.get("ref"), str):
            continue  # the fixed schema reported it
        plugin_issues = _plugin_issues(kind, config, registry, f"spec.{kind}")
        planner_valid = planner_valid or (kind == "planner" and not plugin_issues)
        issues.extend(plugin_issues)
    if planner_valid and plan_check:
        # The schema says the planner config has the right shape; planning it once says its values
        # are usable too (a date that parses, a cron expression that fires...).
        info = registry.get("planner", spec["planner"]["ref"])
        assert info is not None  # checked above
        try:
            compute_executors(
                info.cls,
                dict(spec["planner"]),
                dict(spec["attack"]) if isinstance(spec.get("attack"), Mapping) else {},
                plan_name=plan_name,
                timezone=timezone or get_timezone(DEFAULT_TIME_ZONE),
                now=now,
            )
        except PlanningError as exc:
            path = _join("spec.planner", exc.field.split(".") if exc.field else [])
            issues.append(ValidationIssue(path, exc.reason))
    return sorted(set(issues))


def validate_manifest(
    document: Any, registry: PluginRegistry, *, now: dt.datetime | None = None
) -> list[ValidationIssue]:
    """Every problem with a whole ChaosPlan object (apiVersion, kind, metadata, spec)."""
    if not isinstance(document, Mapping):
        return [ValidationIssue("(document)", f"must be an object, got {_type_name(document)}")]
    issues = []
    if document.get("apiVersion") != API_VERSION:
        issues.append(
            ValidationIssue("apiVersion", f"must be {API_VERSION!r}, got {document.get('apiVersion')!r}")
        )
    if document.get("kind") != KIND:
        issues.append(ValidationIssue("kind", f"must be {KIND!r}, got {document.get('kind')!r}"))
    metadata = document.get("metadata")
    name = metadata.get("name") if isinstance(metadata, Mapping) else None
    if not isinstance(metadata, Mapping):
        issues.append(ValidationIssue("metadata", "must be an object with a name"))
    elif not isinstance(name, str) or not name:
        if not metadata.get("generateName"):
            issues.append(ValidationIssue("metadata.name", "is required"))
    elif len(name) > 253 or not _DNS_SUBDOMAIN.match(name):
        issues.append(
            ValidationIssue(
                "metadata.name", f"{name!r} must be a DNS subdomain: lower-case letters, digits, '-' and '.'"
            )
        )
    if "spec" not in document:
        issues.append(ValidationIssue("spec", "is required"))
    else:
        issues.extend(
            validate_spec(
                document["spec"],
                registry,
                plan_name=name if isinstance(name, str) and name else "plan",
                now=now,
            )
        )
    return issues


def is_chaosplan(document: Any) -> bool:
    """Whether a manifest document is meant to be a ChaosPlan (other kinds are not ours)."""
    return isinstance(document, Mapping) and document.get("kind") == KIND


def _plugin_issues(
    kind: PluginKind, config: Mapping[str, Any], registry: PluginRegistry, prefix: str
) -> list[ValidationIssue]:
    ref = config["ref"]
    info = registry.get(kind, ref)
    if info is None:
        problems = registry.problems_for(kind, ref)
        if problems:
            reason = "; ".join(f"{p.reason} ({p.source})" for p in problems)
            return [ValidationIssue(f"{prefix}.ref", f"{kind} {ref!r} could not be loaded: {reason}")]
        known = ", ".join(sorted(registry.plugins(kind))) or "none"
        hint = "" if normalize_ref(ref) == ref else f" (read as {normalize_ref(ref)!r})"
        return [ValidationIssue(f"{prefix}.ref", f"unknown {kind} {ref!r}{hint}; known: {known}")]
    return schema_issues(info.validator(), dict(config), prefix)


def _join(prefix: str, parts: Iterable[Any]) -> str:
    path = prefix
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def _short(message: str, limit: int = 300) -> str:
    return message if len(message) <= limit else message[: limit - 1] + "…"


def _type_name(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), type(value).__name__
    )
